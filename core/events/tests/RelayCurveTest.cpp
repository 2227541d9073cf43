// Who may talk to the relay: peers named by CURVE keys, forged and unlisted senders,
// the plaintext opt-out, the hub's key pair, configuration mistakes, bind failures
// and the PUB fan-out to listed peers.

#include "RelayFixture.h"

#include <Poco/File.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <sstream>

TEST_F(RelayFixture, ForgedDecisionsFromUnlistedKeysOrNullClientsChangeNothing) {
    auto portalKeys = hub::zmq::generateKeyPair();
    auto intruderKeys = hub::zmq::generateKeyPair();
    auto dashboardKeys = hub::zmq::generateKeyPair();

    // The portal admits the hub; the "picky" consumer admits only someone else.
    TestConsumer portal(hubOnly(), TestConsumer::Mode::Ack, "tcp://127.0.0.1:*", portalKeys);
    TestConsumer picky(TestConsumer::AdmitOnly{testerKeys.publicKey});
    RelayConfig config = relayConfig();
    config.peers.push_back({"portal", portalKeys.publicKey, "", {}});
    config.peers.push_back({"dashboard", dashboardKeys.publicKey, "", {"publish"}});
    config.consumers.push_back(::consumer("portal", portal.endpoint()));  // its key: the peer "portal"
    config.consumers.push_back(consumer("picky", picky));
    config.inboundEndpoint = "tcp://127.0.0.1:*";
    Relay relay(db, config, handler());
    relay.start();
    {
        Poco::Data::Session s = db.session();
        s << "INSERT INTO app_state(id, status, amount) VALUES('APP-9', 'in_review', 1)", now;
    }
    appendEvents(0, 10);
    ASSERT_TRUE(eventually([&] { return portal.distinct() == 10; }));
    // The hub has tried "picky" and been turned away.
    ASSERT_TRUE(eventually([&] { return picky.handshakesRefused() >= 1; }));
    EXPECT_EQ(picky.count(), 0u) << "a consumer refusing the hub's key got events";

    // A decision that claims to come from the registrar.
    CloudEvent forged = CloudEvent::create(EventType::ApprovalDecided, "/approval-engine", "APP-9",
                                           R"({"applicationId":"APP-9","decision":"approved","decidedBy":"registrar"})");
    auto send = [&](const hub::zmq::CurveKeyPair* keys) -> std::optional<hub::zmq::Frames> {
        ::zmq::context_t ctx;
        auto dealer = dealerTo(ctx, relay.inboundEndpoint(), keys, hubKeys.publicKey, 1500ms);
        hub::zmq::sendFrames(*dealer, {forged.id, forged.toJson()}, true);
        return hub::zmq::receiveFrames(*dealer, false);
    };
    EXPECT_FALSE(send(&intruderKeys)) << "an unlisted key was admitted";
    EXPECT_FALSE(send(nullptr)) << "a NULL-mechanism client was admitted";
    EXPECT_FALSE(send(&dashboardKeys)) << "a peer listed for publish only was admitted inbound";
    EXPECT_EQ(applied.load(), 0);
    EXPECT_EQ(scalar("SELECT status FROM app_state WHERE id = ?", "APP-9"), "in_review");
    EXPECT_EQ(scalar("SELECT CAST(decisions AS TEXT) FROM app_state WHERE id = ?", "APP-9"), "0");
    EXPECT_EQ(scalar("SELECT CAST(COUNT(*) AS TEXT) FROM events_inbox WHERE id = ?", forged.id), "0");
    ASSERT_TRUE(eventually([&] { return relay.metrics().handshakesRefused >= 2; }));

    // A listed peer's decision is applied; the actor is the peer its key names.
    auto reply = send(&testerKeys);
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)[1], "ack");
    EXPECT_EQ(applied.load(), 1);
    EXPECT_EQ(scalar("SELECT status FROM app_state WHERE id = ?", "APP-9"), "approved");
    EXPECT_EQ(scalar("SELECT actor FROM app_state WHERE id = ?", "APP-9"), "tester");
}

TEST_F(RelayFixture, PlaintextOnlyByExplicitLoudOptOut) {
    Poco::AutoPtr<CapturingChannel> log(new CapturingChannel);
    Poco::Logger::get("hub.events").setChannel(log);
    RelayConfig config = relayConfig();
    config.curve.enabled = false;
    config.inboundEndpoint = "tcp://127.0.0.1:*";
    Relay relay(db, config, handler());
    relay.start();
    EXPECT_TRUE(log->contains(Poco::Message::PRIO_CRITICAL, "NOT authenticated"));
    {
        Poco::Data::Session s = db.session();
        s << "INSERT INTO app_state(id, status, amount) VALUES('APP-5', 'in_review', 1)", now;
    }
    ::zmq::context_t ctx;
    auto dealer = dealerTo(ctx, relay.inboundEndpoint(), nullptr, "");
    CloudEvent e = CloudEvent::create(EventType::ApprovalDecided, "/approval-engine", "APP-5",
                                      R"({"applicationId":"APP-5","decision":"rejected","decidedBy":"registrar"})");
    ASSERT_TRUE(hub::zmq::sendFrames(*dealer, {e.id, e.toJson()}, false));
    auto reply = hub::zmq::receiveFrames(*dealer, false);
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)[1], "ack");
    // Nobody vouched for the sender, and the record says so.
    EXPECT_EQ(scalar("SELECT actor FROM app_state WHERE id = ?", "APP-5"), "unauthenticated");
    relay.stop();
    Poco::Logger::get("hub.events").setChannel(new Poco::ConsoleChannel);
}

TEST_F(RelayFixture, KeyPairIsMadeAtFirstStartAndKept) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> c(new Poco::Util::MapConfiguration);
    c->setString("inbound.endpoint", "tcp://127.0.0.1:*");
    std::string state = tmp.file("state");  // does not exist yet
    RelayConfig config = RelayConfig::fromConfiguration(*c, state);
    EXPECT_TRUE(config.curve.enabled) << "CURVE is the default";
    EXPECT_EQ(config.curve.secretKeyFile, state + "/hub-curve.key");
    std::string first;
    {
        Relay relay(db, config);
        relay.start();
        first = hub::zmq::readKeyFile(state + "/hub-curve.pub");
        EXPECT_EQ(hub::zmq::publicKeyOf(hub::zmq::readKeyFile(state + "/hub-curve.key")), first);
        EXPECT_FALSE(hub::zmq::isReadableByOthers(state + "/hub-curve.key"));
    }
    {
        Relay relay(db, config);
        relay.start();
        EXPECT_EQ(hub::zmq::readKeyFile(state + "/hub-curve.pub"), first) << "a restart must keep the key";
    }
    // A public key without its secret key is not silently replaced.
    Poco::File(state + "/hub-curve.key").remove();
    Relay relay(db, config);
    try {
        relay.start();
        FAIL() << "started without its secret key";
    } catch (const Poco::Exception& e) {
        EXPECT_NE(e.displayText().find("hub-curve.key"), std::string::npos) << e.displayText();
        EXPECT_NE(e.displayText().find("events.curve"), std::string::npos) << e.displayText();
    }
    EXPECT_FALSE(relay.running());
    EXPECT_EQ(hub::zmq::readKeyFile(state + "/hub-curve.pub"), first);
}

namespace {

// Z85 keys may hold '<' and '&', which XML text must escape, and "]]>", which
// it may not hold either.
std::string xmlText(const std::string& s) {
    std::string out;
    for (char ch : s) {
        if (ch == '<') out += "&lt;";
        else if (ch == '>') out += "&gt;";
        else if (ch == '&') out += "&amp;";
        else out += ch;
    }
    return out;
}

// A valid key with "${" and no '}' after it: read with getString(), Poco would
// take it for a property reference and append a '}' (random keys hold one
// about once in 300).
const std::string keyWithDollarBrace = "uN}49U/]iW70${bImEgX)eI7GOVySUjM)ZomXs$7";

}  // namespace

TEST(RelayConfiguration, PeersAreNamedByKeysAndMistakesNameTheKey) {
    auto engine = hub::zmq::generateKeyPair();
    auto portal = hub::zmq::generateKeyPair();
    std::istringstream xml(R"(<events>
  <consumers>
    <consumer><name>approval-engine</name><endpoint>tcp://127.0.0.1:5602</endpoint></consumer>
    <consumer><name>portal</name><endpoint>tcp://127.0.0.1:5601</endpoint></consumer>
  </consumers>
  <inbound><endpoint>tcp://127.0.0.1:5600</endpoint></inbound>
  <peers>
    <peer name="approval-engine"><publicKey>)" + xmlText(engine.publicKey) + R"(</publicKey><sockets>inbound</sockets></peer>
    <peer name="portal"><publicKey>)" + xmlText(portal.publicKey) + R"(</publicKey><sockets></sockets></peer>
    <peer name="dashboard"><publicKey>)" + xmlText(keyWithDollarBrace) + R"(</publicKey></peer>
  </peers>
</events>)");
    Poco::AutoPtr<Poco::Util::XMLConfiguration> c(new Poco::Util::XMLConfiguration(xml));
    RelayConfig config = RelayConfig::fromConfiguration(*c, "/var/lib/campushub");
    ASSERT_EQ(config.peers.size(), 3u);
    EXPECT_EQ(config.peers[0].name, "approval-engine");
    EXPECT_EQ(config.peers[0].publicKey, engine.publicKey);
    EXPECT_EQ(config.peers[0].sockets, std::vector<std::string>{"inbound"});
    EXPECT_TRUE(config.peers[1].sockets.empty());
    EXPECT_EQ(config.peers[2].publicKey, keyWithDollarBrace) << "a key is read as written, never expanded";
    EXPECT_EQ(config.curve.publicKeyFile, "/var/lib/campushub/hub-curve.pub");

    auto refused = [](Poco::Util::AbstractConfiguration& cfg, const std::string& expected) {
        try {
            RelayConfig::fromConfiguration(cfg, "/tmp");
            ADD_FAILURE() << "accepted; expected: " << expected;
        } catch (const Poco::InvalidArgumentException& e) {
            EXPECT_NE(e.displayText().find(expected), std::string::npos) << e.displayText();
        }
    };
    Poco::AutoPtr<Poco::Util::MapConfiguration> m(new Poco::Util::MapConfiguration);
    m->setString("consumers.consumer[0].name", "portal");
    m->setString("consumers.consumer[0].endpoint", "tcp://127.0.0.1:5601");
    refused(*m, "events.consumers.consumer[0] (portal) has no CURVE key");
    m->setString("peers.peer[0].name", "portal");
    m->setString("peers.peer[0].publicKey", "not a key");
    refused(*m, "events.peers.peer[0].publicKey (portal) is not a 40-character Z85 key");
    m->setString("peers.peer[0].publicKey", portal.publicKey);
    EXPECT_NO_THROW(RelayConfig::fromConfiguration(*m, "/tmp"));
    m->setString("peers.peer[1].name", "portal");
    m->setString("peers.peer[1].publicKey", engine.publicKey);
    refused(*m, "events.peers.peer[1]: name 'portal' is used twice");
    m->setString("peers.peer[1].name", "engine");
    m->setString("peers.peer[1].publicKey", portal.publicKey);
    refused(*m, "is another peer's key");
    m->setString("peers.peer[1].publicKey", engine.publicKey);
    m->setString("peers.peer[1].sockets", "inbound,admin");
    refused(*m, "'admin' is neither inbound nor publish");
    m->setString("peers.peer[1].sockets", "inbound");
    m->setString("curve.authorizedKeysFile", "/etc/campushub/authorized");
    refused(*m, "events.peers.peer[@name=NAME].publicKey");
    m->remove("curve.authorizedKeysFile");
    m->setString("curve.enabled", "maybe");
    refused(*m, "events.curve.enabled is not a boolean");
    // The opt-out needs no keys at all.
    Poco::AutoPtr<Poco::Util::MapConfiguration> plain(new Poco::Util::MapConfiguration);
    plain->setString("consumers.consumer[0].name", "portal");
    plain->setString("consumers.consumer[0].endpoint", "tcp://127.0.0.1:5601");
    plain->setString("curve.enabled", "false");
    EXPECT_FALSE(RelayConfig::fromConfiguration(*plain).curve.enabled);
    plain->setString("consumers.consumer[0].serverPublicKey", keyWithDollarBrace);
    EXPECT_EQ(RelayConfig::fromConfiguration(*plain).consumers[0].serverPublicKey, keyWithDollarBrace);
    // Without a state folder the key files must be named.
    plain->setString("curve.enabled", "true");
    plain->setString("consumers.consumer[0].serverPublicKey", portal.publicKey);
    try {
        RelayConfig::fromConfiguration(*plain);
        ADD_FAILURE() << "CURVE without key files accepted";
    } catch (const Poco::InvalidArgumentException& e) {
        EXPECT_NE(e.displayText().find("events.curve.publicKeyFile"), std::string::npos) << e.displayText();
    }
}

TEST_F(RelayFixture, BindFailureNamesTheKeyAndTheEndpoint) {
    ::zmq::context_t ctx;
    ::zmq::socket_t squatter(ctx, ::zmq::socket_type::router);
    squatter.set(::zmq::sockopt::linger, 0);
    squatter.bind("tcp://127.0.0.1:*");
    std::string taken = hub::zmq::boundEndpoint(squatter);
    for (const char* which : {"inbound", "publish"}) {
        RelayConfig config = relayConfig();
        (std::string(which) == "inbound" ? config.inboundEndpoint : config.publishEndpoint) = taken;
        Relay relay(db, config, handler());
        try {
            relay.start();
            ADD_FAILURE() << which << " bound a port in use";
        } catch (const Poco::Exception& e) {
            EXPECT_NE(e.displayText().find(std::string("events.") + which + ".endpoint = " + taken),
                      std::string::npos)
                << e.displayText();
            EXPECT_NE(e.displayText().find("cannot bind"), std::string::npos) << e.displayText();
        }
        EXPECT_FALSE(relay.running());
    }
    // Nothing was left bound: the same relay starts on free endpoints.
    RelayConfig config = relayConfig();
    config.inboundEndpoint = "tcp://127.0.0.1:*";
    config.publishEndpoint = "tcp://127.0.0.1:*";
    Relay relay(db, config, handler());
    EXPECT_NO_THROW(relay.start());
}

TEST_F(RelayFixture, PublishFansOutByTypePrefixToListedPeersOnly) {
    auto dashboardKeys = hub::zmq::generateKeyPair();
    auto intruderKeys = hub::zmq::generateKeyPair();
    RelayConfig config = relayConfig();
    config.peers.push_back({"dashboard", dashboardKeys.publicKey, "", {"publish"}});
    config.publishEndpoint = "tcp://127.0.0.1:*";
    Relay relay(db, config);
    relay.start();
    ::zmq::context_t ctx;
    auto subscriber = [&](const hub::zmq::CurveKeyPair* keys) {
        auto sub = std::make_unique<::zmq::socket_t>(ctx, ::zmq::socket_type::sub);
        hub::zmq::applyDefaultOptions(*sub);
        if (keys) hub::zmq::makeCurveClient(*sub, *keys, hubKeys.publicKey);
        sub->set(::zmq::sockopt::subscribe, "edu.campus.hub.");
        sub->connect(relay.publishEndpoint());
        return sub;
    };
    auto intruder = subscriber(&intruderKeys);
    auto plain = subscriber(nullptr);
    auto sub = subscriber(&dashboardKeys);
    sub->set(::zmq::sockopt::unsubscribe, "edu.campus.hub.");
    sub->set(::zmq::sockopt::subscribe, "edu.campus.hub.application.");
    sub->set(::zmq::sockopt::rcvtimeo, 50);
    // PUB drops what is sent before the subscription arrives: keep publishing
    // until the subscriber hears something.
    std::optional<hub::zmq::Frames> got;
    ASSERT_TRUE(eventually([&] {
        appendEvents(0, 1, 1, EventType::IdentityChanged);
        appendEvents(0, 1, 1, EventType::ApplicationSubmitted);
        got = hub::zmq::receiveFrames(*sub, false);  // waits up to 50 ms
        return got.has_value();
    }));
    EXPECT_EQ((*got)[0], EventType::ApplicationSubmitted);
    EXPECT_EQ(CloudEvent::fromJson((*got)[1]).type, EventType::ApplicationSubmitted);
    while (auto more = hub::zmq::receiveFrames(*sub, true))
        EXPECT_EQ((*more)[0].rfind("edu.campus.hub.application.", 0), 0u);
    EXPECT_GT(relay.metrics().published, 0u);
    // Neither an unlisted key nor a NULL client heard anything.
    EXPECT_FALSE(hub::zmq::receiveFrames(*intruder, true));
    EXPECT_FALSE(hub::zmq::receiveFrames(*plain, true));
}
