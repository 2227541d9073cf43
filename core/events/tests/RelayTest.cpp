// The relay on real ZeroMQ sockets over loopback, with SQLite files in temp dirs.

#include <hub/events/Outbox.h>
#include <hub/events/Relay.h>
#include <hub/zmq/Curve.h>
#include <hub/test/TmpfsMount.h>
#include <hub/zmq/Frames.h>

#include "TestPeers.h"

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <algorithm>

#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <unordered_map>

using namespace hub::events;
using namespace hub::events::test;
using hub::test::TmpfsMount;
using namespace Poco::Data::Keywords;

namespace {

ConsumerConfig consumer(const std::string& name, const std::string& endpoint) {
    ConsumerConfig c;
    c.name = name;
    c.endpoint = endpoint;
    c.ackTimeoutMs = 3000;
    c.backoffInitialMs = 20;
    c.backoffMaxMs = 200;
    c.window = 100;
    return c;
}

std::string numbered(long n) { return "{\"n\":" + std::to_string(n) + ",\"note\":\"第" + std::to_string(n) + "号\"}"; }

long numberOf(const std::string& payload) {
    auto e = CloudEvent::fromJson(payload);
    Poco::JSON::Parser p;
    return p.parse(e.data).extract<Poco::JSON::Object::Ptr>()->getValue<long>("n");
}

std::string subjectOf(const std::string& payload) { return CloudEvent::fromJson(payload).subject; }

// A DEALER to the hub's inbound socket: a CURVE client with `keys`, or a NULL-
// mechanism one without. Replies wait up to `timeout`.
std::unique_ptr<::zmq::socket_t> dealerTo(::zmq::context_t& ctx, const std::string& endpoint,
                                          const hub::zmq::CurveKeyPair* keys, const std::string& hubPublicKey,
                                          std::chrono::milliseconds timeout = 10s) {
    auto dealer = std::make_unique<::zmq::socket_t>(ctx, ::zmq::socket_type::dealer);
    hub::zmq::applyDefaultOptions(*dealer);
    if (keys) hub::zmq::makeCurveClient(*dealer, *keys, hubPublicKey);
    dealer->set(::zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
    dealer->connect(endpoint);
    return dealer;
}

struct RelayFixture : ::testing::Test {
    TempDir tmp;
    hub::store::Database db{{tmp.file("hub.db")}};
    std::atomic<int> applied{0};
    // The hub's key pair, made where a relay with this state folder makes it.
    hub::zmq::CurveKeyPair hubKeys =
        hub::zmq::loadOrCreateKeyPair(tmp.file("hub-curve.pub"), tmp.file("hub-curve.key"));
    // A peer the tests send decisions as.
    hub::zmq::CurveKeyPair testerKeys = hub::zmq::generateKeyPair();

    RelayFixture() {
        // Relay warnings (refusals, dead letters) show up in the test log.
        Poco::Logger::get("hub.events").setChannel(new Poco::ConsoleChannel);
        Poco::Logger::get("hub.zmq").setChannel(new Poco::ConsoleChannel);
        Outbox::migrate(db);
        Poco::Data::Session s = db.session();
        s << "CREATE TABLE app_state (id TEXT PRIMARY KEY, status TEXT NOT NULL, amount REAL NOT NULL, "
             "decisions INTEGER NOT NULL DEFAULT 0, last_decision TEXT, actor TEXT)",
            now;
    }

    // The default: CURVE with the hub's key pair above, and "tester" as a listed peer.
    RelayConfig relayConfig() {
        RelayConfig config;
        config.curve.publicKeyFile = tmp.file("hub-curve.pub");
        config.curve.secretKeyFile = tmp.file("hub-curve.key");
        config.peers.push_back({"tester", testerKeys.publicKey, "", {"inbound", "publish"}});
        return config;
    }

    TestConsumer::AdmitOnly hubOnly() const { return {hubKeys.publicKey}; }

    // A consumer entry for `c`, trusting its key.
    ConsumerConfig consumer(const std::string& name, const TestConsumer& c) {
        ConsumerConfig cc = ::consumer(name, c.endpoint());
        cc.serverPublicKey = c.publicKey();
        return cc;
    }

    std::unique_ptr<::zmq::socket_t> testerDealer(::zmq::context_t& ctx, const Relay& relay) {
        return dealerTo(ctx, relay.inboundEndpoint(), &testerKeys, hubKeys.publicKey);
    }

    // Appends `count` events in one transaction, subjects cycling over `subjects`.
    std::vector<std::string> appendEvents(long from, long count, int subjects = 5,
                                          std::string_view type = EventType::ApplicationStatusChanged) {
        Poco::Data::Session s = db.session();
        std::vector<std::string> ids;
        s.begin();
        for (long n = from; n < from + count; ++n) {
            auto e = CloudEvent::create(type, "/campus-hub", "APP-" + std::to_string(n % subjects), numbered(n));
            Outbox::append(s, e);
            ids.push_back(e.id);
        }
        s.commit();
        return ids;
    }

    // The hub's side of approval.decided: set the status, count the application,
    // and tell the portal, all in the relay's transaction.
    InboundHandler handler() {
        return [this](Poco::Data::Session& s, const CloudEvent& e, const InboundPeer& peer) {
            Poco::JSON::Parser p;
            auto data = p.parse(e.data).extract<Poco::JSON::Object::Ptr>();
            std::string app = data->getValue<std::string>("applicationId");
            std::string decision = data->getValue<std::string>("decision");
            if (app == "APP-FAIL") throw Poco::IllegalStateException("application is locked");
            if (app == "APP-THROWS") throw 42;  // not even a std::exception
            std::string payload = e.toJson();
            std::string actor = peer.authenticated ? peer.name : "unauthenticated";
            s << "UPDATE app_state SET status = ?, decisions = decisions + 1, last_decision = ?, actor = ? "
                 "WHERE id = ?",
                use(decision), use(payload), use(actor), use(app), now;
            Outbox::append(s, CloudEvent::create(EventType::ApplicationStatusChanged, "/campus-hub", app,
                                                 R"({"applicationId":")" + app + R"(","status":")" + decision +
                                                     "\"}"));
            ++applied;
        };
    }

    std::string scalar(const std::string& sql, const std::string& arg) { return scalarIn(db, sql, arg); }

    static std::string scalarIn(hub::store::Database& store, const std::string& sql, const std::string& arg) {
        Poco::Data::Session s = store.session();
        std::vector<std::string> out;
        std::string q = sql, a = arg;
        s << q, use(a), into(out), now;
        return out.empty() ? "" : out[0];
    }
};

// Collects what a logger writes.
class CapturingChannel : public Poco::Channel {
public:
    void log(const Poco::Message& msg) override {
        std::lock_guard lock(mutex_);
        messages_.push_back(msg);
    }
    bool contains(Poco::Message::Priority atMost, const std::string& text) const { return count(atMost, text) > 0; }
    std::size_t count(Poco::Message::Priority atMost, const std::string& text) const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& m : messages_)
            n += m.getPriority() <= atMost && m.getText().find(text) != std::string::npos;
        return n;
    }

private:
    mutable std::mutex mutex_;
    std::vector<Poco::Message> messages_;
};

// The consumer's cursor as the relay last reported it; -1 before the first report.
std::int64_t cursorOf(const Relay& relay) {
    auto m = relay.metrics();
    return m.consumers.empty() ? -1 : m.consumers.front().cursor;
}

bool received(const TestConsumer& consumer, const std::string& id) {
    auto receipts = consumer.receipts();
    return std::any_of(receipts.begin(), receipts.end(), [&](const auto& r) { return r.id == id; });
}

// Checks every subject's events arrived in outbox order, counting only each
// event's first arrival (repeats after a retry are allowed).
void expectOrderedPerSubject(const std::vector<TestConsumer::Receipt>& receipts) {
    std::map<std::string, long> last;
    std::set<std::string> seen;
    for (const auto& r : receipts) {
        if (!seen.insert(r.id).second) continue;
        long n = numberOf(r.payload);
        std::string subject = subjectOf(r.payload);
        auto it = last.find(subject);
        if (it != last.end()) {
            EXPECT_LT(it->second, n) << "subject " << subject << " out of order";
        }
        last[subject] = n;
    }
}

}  // namespace

TEST_F(RelayFixture, DeliversEveryEventInOrderPerSubject) {
    TestConsumer portal(hubOnly());
    RelayConfig config = relayConfig();
    config.consumers.push_back(consumer("portal", portal));
    Relay relay(db, config);
    relay.start();
    appendEvents(0, 150);
    appendEvents(150, 150);
    ASSERT_TRUE(eventually([&] { return portal.distinct() == 300; }));
    auto receipts = portal.receipts();
    expectOrderedPerSubject(receipts);
    ASSERT_TRUE(eventually([&] { return relay.metrics().consumers.at(0).cursor == 300; }));
    RelayMetrics m = relay.metrics();
    EXPECT_EQ(m.deliveries, 300u);
    EXPECT_EQ(m.outboxDepth, 0);
    EXPECT_EQ(m.deadLetters, 0u);
    relay.stop();
    EXPECT_EQ(scalar("SELECT CAST(seq AS TEXT) FROM events_cursor WHERE consumer = ?", "portal"), "300");

    // A clean restart resumes after the cursor: no repeats, new events flow.
    Relay again(db, config);
    again.start();
    appendEvents(300, 10);
    ASSERT_TRUE(eventually([&] { return portal.distinct() == 310; }));
    // The cursor passes an event only once it is acked, and the consumer records
    // before it acks: at the last event, whatever was sent again has arrived.
    ASSERT_TRUE(eventually([&] { return cursorOf(again) == 310; }));
    EXPECT_EQ(portal.count(), 310u) << "events repeated after a clean restart";
}

TEST_F(RelayFixture, RefusedEventIsRetriedAndItsSubjectWaits) {
    TestConsumer portal(hubOnly(), TestConsumer::Mode::NackOnce);
    RelayConfig config = relayConfig();
    config.consumers.push_back(consumer("portal", portal));
    Relay relay(db, config);
    relay.start();
    appendEvents(0, 40, 4);
    ASSERT_TRUE(eventually([&] { return portal.count() == 80; }));
    auto receipts = portal.receipts();
    // Per subject, event n+1 is never sent while n waits for its retry.
    std::map<std::string, std::vector<long>> bySubject;
    for (const auto& r : receipts) bySubject[subjectOf(r.payload)].push_back(numberOf(r.payload));
    for (auto& [subject, ns] : bySubject) {
        ASSERT_EQ(ns.size(), 20u);
        for (std::size_t i = 0; i < ns.size(); i += 2) EXPECT_EQ(ns[i], ns[i + 1]) << subject;
        EXPECT_TRUE(std::is_sorted(ns.begin(), ns.end())) << subject;
    }
    ASSERT_TRUE(eventually([&] { return relay.metrics().outboxDepth == 0; }));
    EXPECT_EQ(relay.metrics().retries, 40u);
    EXPECT_EQ(relay.metrics().deliveries, 40u);
}

TEST_F(RelayFixture, ConsumerDownThenBackGetsEverything) {
    int port = freePort();
    std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
    auto portalKeys = hub::zmq::generateKeyPair();
    RelayConfig config = relayConfig();
    auto c = ::consumer("portal", endpoint);
    c.serverPublicKey = portalKeys.publicKey;
    c.maxAttempts = 2;  // a consumer that is down must not burn attempts
    config.consumers.push_back(c);
    Relay relay(db, config);
    relay.start();
    appendEvents(0, 250);
    ASSERT_TRUE(eventually([&] { return relay.metrics().outboxDepth == 250; }));
    // The consumer stays down a while: until the relay's figures say 1.5 s.
    ASSERT_TRUE(eventually([&] { return relay.metrics().oldestUndeliveredAgeSeconds > 1.5; }));
    RelayMetrics down = relay.metrics();
    EXPECT_EQ(down.outboxDepth, 250);
    EXPECT_GT(down.oldestUndeliveredAgeSeconds, 1.0);
    EXPECT_EQ(down.deadLetters, 0u);

    TestConsumer portal(hubOnly(), TestConsumer::Mode::Ack, endpoint, portalKeys);
    appendEvents(250, 50);
    ASSERT_TRUE(eventually([&] { return portal.distinct() == 300; }));
    expectOrderedPerSubject(portal.receipts());
    ASSERT_TRUE(eventually([&] { return relay.metrics().outboxDepth == 0; }));
    EXPECT_EQ(relay.metrics().deadLetters, 0u);
}

TEST_F(RelayFixture, NeverAckingConsumerEndsInDeadLettersAndReplayDelivers) {
    TestConsumer silent(hubOnly(), TestConsumer::Mode::Never);
    RelayConfig config = relayConfig();
    auto c = consumer("silent", silent);
    c.maxAttempts = 3;
    c.ackTimeoutMs = 100;
    config.consumers.push_back(c);
    Relay relay(db, config);
    relay.start();
    auto ids = appendEvents(0, 4, 2);
    ASSERT_TRUE(eventually([&] { return relay.deadLetters().size() == 4; }));
    auto dead = relay.deadLetters("silent");
    ASSERT_EQ(dead.size(), 4u);
    for (const auto& d : dead) {
        EXPECT_EQ(d.attempts, 3);
        EXPECT_NE(d.lastError.find("no acknowledgement"), std::string::npos) << d.lastError;
        EXPECT_EQ(CloudEvent::fromJson(d.payload).id, d.id);
    }
    EXPECT_EQ(silent.count(), 12u) << "3 attempts for each of 4 events";
    ASSERT_TRUE(eventually([&] { return relay.metrics().deadLetters == 4; }));
    EXPECT_TRUE(relay.deadLetters("nobody").empty());
    EXPECT_EQ(relay.replay("nobody"), 0u);

    // The consumer is fixed; replay one event, then the rest.
    silent.setMode(TestConsumer::Mode::Ack);
    EXPECT_EQ(relay.replay("silent", ids[2]), 1u);
    ASSERT_TRUE(eventually([&] { return silent.count() == 13; }));
    EXPECT_EQ(silent.receipts().back().id, ids[2]);
    EXPECT_EQ(relay.deadLetters().size(), 3u);
    EXPECT_EQ(relay.replay("silent"), 3u);
    ASSERT_TRUE(eventually([&] { return silent.count() == 16; }));
    EXPECT_TRUE(relay.deadLetters().empty());
    ASSERT_TRUE(eventually([&] {
        auto m = relay.metrics();
        return m.deadLetters == 0 && m.outboxDepth == 0;
    }));

    // Delivered replays stay delivered across a restart.
    relay.stop();
    Relay again(db, config);
    again.start();
    // A later event of the same subject as two of them, acked: the restarted
    // relay sends what it would send again before it.
    std::string marker = appendEvents(4, 1, 2).front();
    ASSERT_TRUE(eventually([&] { return received(silent, marker); }));
    EXPECT_EQ(silent.count() - 1, 16u) << "besides the later event";
}

TEST_F(RelayFixture, KilledRelayLosesNothingAndRepeatsOnlyTheWindow) {
    const long total = 10000;
    const std::size_t window = 200;
    TestConsumer portal;
    std::vector<std::string> args{"--db",    tmp.file("probe.db"), "--consumer", portal.endpoint(),
                                  "--total", std::to_string(total), "--batch", "50",
                                  "--window", std::to_string(window)};
    std::size_t atKill = 0;
    {
        Child probe(HUB_RELAY_PROBE, args);
        ASSERT_TRUE(eventually([&] { return portal.distinct() >= 1500; }, 60s));
        probe.kill();  // SIGKILL, mid-flood
        atKill = portal.distinct();
    }
    EXPECT_LT(atKill, static_cast<std::size_t>(total)) << "the flood was over before the kill";
    Child restarted(HUB_RELAY_PROBE, args);
    ASSERT_TRUE(restarted.waitForLine("appended", 60s));
    ASSERT_TRUE(eventually([&] { return portal.distinct() == static_cast<std::size_t>(total); }, 90s))
        << portal.distinct() << " of " << total;
    // The probe's committed cursor passes an event only once it is acked: at the
    // last event, every repeat has arrived.
    hub::store::Database probeDb({tmp.file("probe.db")});
    ASSERT_TRUE(eventually([&] {
        return scalarIn(probeDb, "SELECT CAST(seq AS TEXT) FROM events_cursor WHERE consumer = ?", "probe") ==
               std::to_string(total);
    }));
    restarted.terminate();

    // Every committed event was delivered: compare with the probe's outbox.
    Poco::Data::Session s = probeDb.session();
    std::vector<std::string> stored;
    s << "SELECT id FROM events_outbox", into(stored), now;
    ASSERT_EQ(stored.size(), static_cast<std::size_t>(total));
    auto receipts = portal.receipts();
    std::set<std::string> received;
    for (const auto& r : receipts) received.insert(r.id);
    EXPECT_EQ(received, std::set<std::string>(stored.begin(), stored.end()));
    std::size_t duplicates = receipts.size() - received.size();
    std::cout << "killed at " << atKill << " delivered; duplicates after restart: " << duplicates
              << " (window " << window << ")" << std::endl;
    RecordProperty("duplicates", static_cast<int>(duplicates));
    EXPECT_LE(duplicates, window);
    expectOrderedPerSubject(receipts);
}

TEST_F(RelayFixture, ApprovalRoundTripIsAppliedExactlyOnce) {
    // The reference peers make their key pairs at first start and admit only the
    // hub's key; the hub lists their public keys as peers.
    std::string hubPub = tmp.file("hub-curve.pub");
    Child portalPeer(HUB_PORTAL_CONSUMER, {"--listen", "tcp://127.0.0.1:*", "--public-key", tmp.file("portal.pub"),
                                           "--secret-key", tmp.file("portal.key"), "--hub-public-key", hubPub});
    auto portalEndpoint = portalPeer.waitForLine("listening ");
    ASSERT_TRUE(portalEndpoint);
    auto portalKey = portalPeer.waitForLine("public-key ");
    ASSERT_TRUE(portalKey);
    EXPECT_EQ(*portalKey, hub::zmq::readKeyFile(tmp.file("portal.pub")));
    EXPECT_FALSE(hub::zmq::isReadableByOthers(tmp.file("portal.key")));
    std::string engineEndpoint = "tcp://127.0.0.1:" + std::to_string(freePort());
    std::string inboundEndpoint = "tcp://127.0.0.1:" + std::to_string(freePort());

    std::string engineConfig = tmp.file("engine.properties");
    std::ofstream(engineConfig) << "engine.listen = " << engineEndpoint << "\n"
                                << "engine.hub = " << inboundEndpoint << "\n"
                                << "engine.rule.maxAmount = 5000\nengine.resendMs = 200\n"
                                << "engine.curve.publicKeyFile = " << tmp.file("engine.pub") << "\n"
                                << "engine.curve.secretKeyFile = " << tmp.file("engine.key") << "\n"
                                << "engine.curve.hubPublicKeyFile = " << hubPub << "\n";
    Child engine(HUB_APPROVAL_ENGINE, {"--config", engineConfig});
    ASSERT_TRUE(engine.waitForLine("listening "));

    RelayConfig config = relayConfig();
    // The engine may send decisions; the portal only receives.
    config.peers.push_back({"approval", "", tmp.file("engine.pub"), {"inbound"}});
    config.peers.push_back({"portal", *portalKey, "", {}});
    auto approval = ::consumer("approval", engineEndpoint);
    approval.types = {std::string(EventType::ApprovalRequested)};
    config.consumers.push_back(approval);
    auto portal = ::consumer("portal", *portalEndpoint);
    portal.types = {"edu.campus.hub.application."};
    config.consumers.push_back(portal);
    config.inboundEndpoint = inboundEndpoint;
    Relay relay(db, config, handler());
    relay.start();

    // Two applications submitted: state and approval request in one transaction each.
    for (auto [app, amount] : {std::pair<std::string, double>{"APP-1", 1200}, {"APP-2", 9000}}) {
        Poco::Data::Session s = db.session();
        s.begin();
        std::string pending = "pending";
        s << "INSERT INTO app_state(id, status, amount) VALUES(?, ?, ?)", use(app), use(pending), use(amount), now;
        Outbox::append(s, CloudEvent::create(EventType::ApprovalRequested, "/campus-hub", app,
                                             R"({"applicationId":")" + app + R"(","taskId":"T-)" + app +
                                                 R"(","amount":)" + std::to_string(amount) + "}"));
        s.commit();
    }
    ASSERT_TRUE(eventually([&] {
        return scalar("SELECT status FROM app_state WHERE id = ?", "APP-1") == "approved" &&
               scalar("SELECT status FROM app_state WHERE id = ?", "APP-2") == "rejected";
    }));
    EXPECT_EQ(applied.load(), 2);
    // The actor is the peer the engine's key is listed as, not its "decidedBy".
    EXPECT_EQ(scalar("SELECT actor FROM app_state WHERE id = ?", "APP-1"), "approval");
    // The portal heard of both status changes, through the outbox of the inbound transaction.
    ASSERT_TRUE(eventually([&] {
        int seen = 0;
        for (const auto& l : portalPeer.lines())
            if (l.find("status_changed") != std::string::npos &&
                (l.find("\"APP-1\"") != std::string::npos || l.find("\"APP-2\"") != std::string::npos))
                ++seen;
        return seen == 2;
    }));

    // The same decision again (same id), from another listed peer: acked, nothing changes.
    std::string decision = scalar("SELECT last_decision FROM app_state WHERE id = ?", "APP-1");
    std::string decisionId = CloudEvent::fromJson(decision).id;
    ::zmq::context_t ctx;
    auto dealer = testerDealer(ctx, relay);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(hub::zmq::sendFrames(*dealer, {decisionId, decision}, false));
        auto reply = hub::zmq::receiveFrames(*dealer, false);
        ASSERT_TRUE(reply);
        ASSERT_GE(reply->size(), 2u);
        EXPECT_EQ((*reply)[0], decisionId);
        EXPECT_EQ((*reply)[1], "ack");
    }
    EXPECT_EQ(applied.load(), 2);
    EXPECT_EQ(scalar("SELECT CAST(decisions AS TEXT) FROM app_state WHERE id = ?", "APP-1"), "1");
    EXPECT_GE(relay.metrics().inboundDuplicates, 3u);
    EXPECT_EQ(relay.metrics().inboundAccepted, 2u);
    engine.terminate();
    portalPeer.terminate();
}

// A decision the hub refuses for good ("not applied") is not resent forever: the
// engine hands the request back with the reason, the hub retries the request and
// finally dead-letters it, where an operator sees why.
TEST_F(RelayFixture, DecisionRefusedForGoodEndsAsADeadLetterWithTheReason) {
    std::string engineEndpoint = "tcp://127.0.0.1:" + std::to_string(freePort());
    std::string inboundEndpoint = "tcp://127.0.0.1:" + std::to_string(freePort());
    std::string engineConfig = tmp.file("engine.properties");
    std::ofstream(engineConfig) << "engine.listen = " << engineEndpoint << "\n"
                                << "engine.hub = " << inboundEndpoint << "\n"
                                << "engine.resendMs = 100\n";
    Child engine(HUB_APPROVAL_ENGINE, {"--config", engineConfig, "--public-key", tmp.file("engine.pub"),
                                       "--secret-key", tmp.file("engine.key"), "--hub-public-key",
                                       tmp.file("hub-curve.pub")});
    ASSERT_TRUE(engine.waitForLine("listening "));
    RelayConfig config = relayConfig();
    config.peers.push_back({"approval", "", tmp.file("engine.pub"), {"inbound"}});
    auto approval = ::consumer("approval", engineEndpoint);
    approval.types = {std::string(EventType::ApprovalRequested)};
    approval.maxAttempts = 2;
    config.consumers.push_back(approval);
    config.inboundEndpoint = inboundEndpoint;
    Relay relay(db, config, handler());
    relay.start();
    {
        Poco::Data::Session s = db.session();
        s.begin();
        s << "INSERT INTO app_state(id, status, amount) VALUES('APP-FAIL', 'in_review', 1)", now;
        Outbox::append(s, CloudEvent::create(EventType::ApprovalRequested, "/campus-hub", "APP-FAIL",
                                             R"({"applicationId":"APP-FAIL","amount":1})"));
        s.commit();
    }
    ASSERT_TRUE(eventually([&] { return relay.deadLetters("approval").size() == 1; }));
    auto dead = relay.deadLetters("approval").front();
    EXPECT_NE(dead.lastError.find("the hub refused the decision: not applied: Illegal state: application is locked"),
              std::string::npos)
        << dead.lastError;
    EXPECT_EQ(scalar("SELECT CAST(decisions AS TEXT) FROM app_state WHERE id = ?", "APP-FAIL"), "0");
    engine.terminate();
}

TEST_F(RelayFixture, BadInboundMessagesAreRefusedWithoutHarm) {
    TestConsumer portal(hubOnly());
    RelayConfig config = relayConfig();
    config.consumers.push_back(consumer("portal", portal));
    config.inboundEndpoint = "tcp://127.0.0.1:*";
    config.maxEventBytes = 4096;
    Relay relay(db, config, handler());
    relay.start();
    {
        Poco::Data::Session s = db.session();
        s << "INSERT INTO app_state(id, status, amount) VALUES('APP-7', 'pending', 1), ('APP-FAIL', 'pending', 1), "
             "('APP-THROWS', 'pending', 1)",
            now;
    }
    appendEvents(0, 20);

    ::zmq::context_t ctx;
    auto dealer = testerDealer(ctx, relay);
    auto exchange = [&](const hub::zmq::Frames& frames) {
        EXPECT_TRUE(hub::zmq::sendFrames(*dealer, frames, false));
        auto reply = hub::zmq::receiveFrames(*dealer, false);
        return reply ? *reply : hub::zmq::Frames{};
    };
    auto decided = [](const std::string& app) {
        return CloudEvent::create(EventType::ApprovalDecided, "/approval-engine", app,
                                  R"({"applicationId":")" + app + R"(","decision":"approved"})");
    };
    auto expectNack = [&](const hub::zmq::Frames& frames, const std::string& reason) {
        auto reply = exchange(frames);
        ASSERT_GE(reply.size(), 3u) << reason;
        EXPECT_EQ(reply[1], "nack");
        EXPECT_NE(reply[2].find(reason), std::string::npos) << reply[2];
    };

    expectNack({"id-1", "this is not json"}, "malformed");
    expectNack({"id-2", "{\"specversion\":\"1.0\",\"id\":\"id-2\"}"}, "malformed: attribute 'source' is missing");
    expectNack({"id-3", std::string(8000, '{')}, "oversized: 8000 bytes");
    CloudEvent unknown = decided("APP-7");
    std::string unknownJson = unknown.toJson();
    unknownJson.replace(unknownJson.find("approval.decided"), 16, "approval.deleted");
    expectNack({unknown.id, unknownJson}, "unknown type");
    CloudEvent notInbound = CloudEvent::create(EventType::IdentityChanged, "/ldap", "uid=zs", "{}");
    expectNack({notInbound.id, notInbound.toJson()}, "not accepted inbound");
    expectNack({"a", "b", "c"}, "expected frames");
    expectNack({"id-4", "{\"specversion\":\"1.0\",\"id\":\"\xff\xfe\"}"}, "not valid UTF-8");
    CloudEvent mismatched = decided("APP-7");
    expectNack({"another-id", mismatched.toJson()}, "does not match");
    CloudEvent failing = decided("APP-FAIL");
    expectNack({failing.id, failing.toJson()}, "not applied: Illegal state: application is locked");
    // A handler throwing something that is not even a std::exception: refused,
    // and the inbound thread lives on (it used to end the process).
    CloudEvent throwing = decided("APP-THROWS");
    expectNack({throwing.id, throwing.toJson()}, "not applied: the handler failed");
    EXPECT_EQ(applied.load(), 0);

    // A hostile sender past the size cap loses its connection, nothing else.
    {
        auto hostile = testerDealer(ctx, relay);
        DisconnectWatch dropped(*hostile);
        hub::zmq::sendFrames(*hostile, {"huge", std::string(2 * 1024 * 1024, 'x')}, false);
        ASSERT_TRUE(dropped.wait()) << "the relay kept the hostile sender's connection";
    }

    // The relay is unharmed: a good decision is applied, outbound delivery goes on.
    CloudEvent good = decided("APP-7");
    auto reply = exchange({good.id, good.toJson()});
    ASSERT_GE(reply.size(), 2u);
    EXPECT_EQ(reply[1], "ack");
    EXPECT_EQ(applied.load(), 1);
    EXPECT_EQ(scalar("SELECT status FROM app_state WHERE id = ?", "APP-7"), "approved");
    EXPECT_EQ(scalar("SELECT status FROM app_state WHERE id = ?", "APP-THROWS"), "pending");
    appendEvents(20, 20);
    ASSERT_TRUE(eventually([&] { return portal.distinct() == 41; }));  // 40 + the status change
    EXPECT_GE(relay.metrics().inboundRefused, 10u);
    EXPECT_EQ(relay.metrics().inboundAccepted, 1u);
}

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

// Z85 keys may hold '<' and '&', which XML text must escape.
std::string xmlText(const std::string& s) {
    std::string out;
    for (char ch : s) {
        if (ch == '<') out += "&lt;";
        else if (ch == '&') out += "&amp;";
        else out += ch;
    }
    return out;
}

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
  </peers>
</events>)");
    Poco::AutoPtr<Poco::Util::XMLConfiguration> c(new Poco::Util::XMLConfiguration(xml));
    RelayConfig config = RelayConfig::fromConfiguration(*c, "/var/lib/campushub");
    ASSERT_EQ(config.peers.size(), 2u);
    EXPECT_EQ(config.peers[0].name, "approval-engine");
    EXPECT_EQ(config.peers[0].publicKey, engine.publicKey);
    EXPECT_EQ(config.peers[0].sockets, std::vector<std::string>{"inbound"});
    EXPECT_TRUE(config.peers[1].sockets.empty());
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

TEST_F(RelayFixture, DeliveryStartsOnceItsStateIsReadable) {
    // The delivery thread cannot read its state at start (a table is away); it used
    // to give up for good. It must retry and deliver once the table is back.
    {
        Poco::Data::Session s = db.session();
        s << "ALTER TABLE events_cursor RENAME TO events_cursor_away", now;
    }
    Poco::AutoPtr<CapturingChannel> log(new CapturingChannel);
    Poco::Logger::get("hub.events").setChannel(log);
    const std::string cannotRead = "relay cannot read its state";
    TestConsumer portal(hubOnly());
    RelayConfig config = relayConfig();
    config.consumers.push_back(consumer("portal", portal));
    Relay relay(db, config);
    relay.start();
    appendEvents(0, 20);
    // The relay has tried again since the events were there, and failed again.
    std::size_t failed = log->count(Poco::Message::PRIO_CRITICAL, cannotRead);
    ASSERT_TRUE(eventually([&] { return log->count(Poco::Message::PRIO_CRITICAL, cannotRead) > failed; }));
    EXPECT_EQ(portal.count(), 0u);
    {
        Poco::Data::Session s = db.session();
        s << "ALTER TABLE events_cursor_away RENAME TO events_cursor", now;
    }
    ASSERT_TRUE(eventually([&] { return portal.distinct() == 20; }));
    expectOrderedPerSubject(portal.receipts());
    relay.stop();
    Poco::Logger::get("hub.events").setChannel(new Poco::ConsoleChannel);
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

// Issue 20: with the disk full, inbound decisions got no answer at all (the
// error path's ROLLBACK failed after SQLite had rolled back, and that exception
// skipped the nack). They must be refused as "unavailable", then applied exactly
// once when the sender (the test, and the reference engine) sends them again.
TEST_F(RelayFixture, DecisionsOnAFullDiskAreRefusedThenAppliedOnceWhenThereIsSpace) {
    if (auto why = TmpfsMount::unavailable(); !why.empty()) GTEST_SKIP() << why;
    TmpfsMount disk(8 << 20);
    std::string hubPub = tmp.file("hub-curve.pub");
    std::string engineEndpoint = "tcp://127.0.0.1:" + std::to_string(freePort());
    std::string inboundEndpoint = "tcp://127.0.0.1:" + std::to_string(freePort());
    auto decidedCount = [](hub::store::Database& store, const std::string& app) {
        Poco::Data::Session s = store.session();
        std::vector<int> n;
        std::string key = app;
        s << "SELECT decisions FROM app_state WHERE id = ?", use(key), into(n), now;
        return n.empty() ? -1 : n[0];
    };
    {
        hub::store::Database full({disk.file("hub.db")});
        Outbox::migrate(full);
        std::vector<std::string> raw, viaEngine;
        {
            Poco::Data::Session s = full.session();
            s << "CREATE TABLE app_state (id TEXT PRIMARY KEY, status TEXT NOT NULL, amount REAL NOT NULL, "
                 "decisions INTEGER NOT NULL DEFAULT 0, last_decision TEXT, actor TEXT)",
                now;
            s.begin();
            for (int i = 0; i < 5; ++i) {
                std::string app = "APP-D" + std::to_string(i);
                s << "INSERT INTO app_state(id, status, amount) VALUES(?, 'in_review', 1)", use(app), now;
                raw.push_back(app);
            }
            for (int i = 0; i < 3; ++i) {
                std::string app = "APP-E" + std::to_string(i);
                s << "INSERT INTO app_state(id, status, amount) VALUES(?, 'in_review', 1)", use(app), now;
                Outbox::append(s, CloudEvent::create(EventType::ApprovalRequested, "/campus-hub", app,
                                                     R"({"applicationId":")" + app + R"(","amount":1})"));
                viaEngine.push_back(app);
            }
            s.commit();
        }
        std::string engineConfig = tmp.file("engine.properties");
        std::ofstream(engineConfig) << "engine.listen = " << engineEndpoint << "\n"
                                    << "engine.hub = " << inboundEndpoint << "\n"
                                    << "engine.resendMs = 100\n"
                                    << "engine.curve.publicKeyFile = " << tmp.file("engine.pub") << "\n"
                                    << "engine.curve.secretKeyFile = " << tmp.file("engine.key") << "\n"
                                    << "engine.curve.hubPublicKeyFile = " << hubPub << "\n";
        Child engine(HUB_APPROVAL_ENGINE, {"--config", engineConfig});
        ASSERT_TRUE(engine.waitForLine("listening "));

        RelayConfig config = relayConfig();
        config.peers.push_back({"approval", "", tmp.file("engine.pub"), {"inbound"}});
        auto approval = ::consumer("approval", engineEndpoint);
        approval.types = {std::string(EventType::ApprovalRequested)};
        config.consumers.push_back(approval);
        config.inboundEndpoint = inboundEndpoint;
        Relay relay(full, config, handler());

        // The disk fills up: the WAL is emptied first, so every write needs new space.
        {
            Poco::Data::Session s = full.session();
            int busy = 0, frames = 0, done = 0;
            s << "PRAGMA wal_checkpoint(TRUNCATE)", into(busy), into(frames), into(done), now;
            ASSERT_EQ(busy, 0);
        }
        ASSERT_GT(disk.fill("filler"), 0u);
        relay.start();

        ::zmq::context_t ctx;
        auto dealer = testerDealer(ctx, relay);
        std::vector<CloudEvent> decisions;
        for (const auto& app : raw) {
            decisions.push_back(CloudEvent::create(EventType::ApprovalDecided, "/approval-engine", app,
                                                   R"({"applicationId":")" + app + R"(","decision":"approved"})"));
            const auto& d = decisions.back();
            ASSERT_TRUE(hub::zmq::sendFrames(*dealer, {d.id, d.toJson()}, false));
            auto reply = hub::zmq::receiveFrames(*dealer, false);
            ASSERT_TRUE(reply) << "no answer to a decision on a full disk";
            ASSERT_GE(reply->size(), 3u);
            EXPECT_EQ((*reply)[1], "nack");
            EXPECT_EQ((*reply)[2].rfind("unavailable:", 0), 0u) << (*reply)[2];
        }
        // The engine's decisions are refused too, and it keeps trying.
        ASSERT_TRUE(eventually([&] { return relay.metrics().inboundUnavailable >= raw.size() + 2 * viaEngine.size(); }))
            << relay.metrics().inboundUnavailable;
        for (const auto& app : raw) EXPECT_EQ(decidedCount(full, app), 0) << app;
        for (const auto& app : viaEngine) EXPECT_EQ(decidedCount(full, app), 0) << app;

        // Space again: the engine's next try goes through; the test sends its own again.
        Poco::File(disk.file("filler")).remove();
        ASSERT_TRUE(eventually([&] {
            return std::all_of(viaEngine.begin(), viaEngine.end(),
                               [&](const std::string& app) { return decidedCount(full, app) == 1; });
        }));
        for (const auto& d : decisions)
            for (const char* expected : {"", "duplicate"}) {
                ASSERT_TRUE(hub::zmq::sendFrames(*dealer, {d.id, d.toJson()}, false));
                auto reply = hub::zmq::receiveFrames(*dealer, false);
                ASSERT_TRUE(reply);
                EXPECT_EQ((*reply)[1], "ack");
                EXPECT_EQ(reply->size() > 2 ? (*reply)[2] : std::string(), expected);
            }
        for (const auto& app : raw) EXPECT_EQ(decidedCount(full, app), 1) << app;
        // A late resend by the engine would show now. The engine acks a request
        // once the hub acked its decision, and never sends that decision again;
        // what it sent before comes, on the same connection, before its decision
        // on a later request. So: every request acked, then one more decided.
        ASSERT_TRUE(eventually([&] { return relay.metrics().deliveries == viaEngine.size(); }));
        CloudEvent later = CloudEvent::create(EventType::ApprovalRequested, "/campus-hub", "APP-LATER",
                                              R"({"applicationId":"APP-LATER","amount":1})");
        {
            Poco::Data::Session s = full.session();
            s.begin();
            s << "INSERT INTO app_state(id, status, amount) VALUES('APP-LATER', 'in_review', 1)", now;
            Outbox::append(s, later);
            s.commit();
        }
        ASSERT_TRUE(eventually([&] { return decidedCount(full, "APP-LATER") == 1; }));
        for (const auto& app : viaEngine) EXPECT_EQ(decidedCount(full, app), 1) << app;
        EXPECT_EQ(scalarIn(full, "SELECT actor FROM app_state WHERE id = ?", "APP-E0"), "approval");
        // Each request was decided once: the engine resent the same decision.
        std::size_t decidedLines = 0;
        for (const auto& l : engine.lines())
            decidedLines += l.rfind("decided ", 0) == 0 && l.find(later.id) == std::string::npos;
        EXPECT_EQ(decidedLines, viaEngine.size());
        relay.stop();
        engine.terminate();
    }
}

// A delivery thread that cannot read its state at start (here a table is away)
// tries again and again. It used to keep its database session all the while,
// and a store that must reopen every session to recover from a fault (read-only
// at start, writable later) waited for that one for ever: the hub stayed
// read-only until a restart.
TEST_F(RelayFixture, DeliveryWaitingForItsStateLetsTheStoreRecover) {
    if (auto why = TmpfsMount::unavailable(); !why.empty()) GTEST_SKIP() << why;
    TmpfsMount disk(8 << 20);
    const std::string path = disk.file("hub.db");
    {
        hub::store::Database setup({path});
        Outbox::migrate(setup);
        setup.session() << "ALTER TABLE events_cursor RENAME TO events_cursor_away", now;
    }
    // The last writer leaves its -wal and -shm behind, as a hub does whose disk
    // turned read-only under it: SQLite can then open the file read-only.
    sqlite3* last = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &last), SQLITE_OK);
    int persist = 1;
    sqlite3_file_control(last, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    ASSERT_EQ(sqlite3_exec(last, "CREATE TABLE touched (x)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(last);
    disk.remountReadOnly();

    hub::store::Database::Options options{path};
    options.probeInterval = 20ms;
    options.maxProbeInterval = 200ms;
    hub::store::Database store(options);
    ASSERT_FALSE(store.writable());
    Poco::AutoPtr<CapturingChannel> log(new CapturingChannel);
    Poco::Logger::get("hub.events").setChannel(log);
    const std::string cannotRead = "relay cannot read its state";
    TestConsumer portal(hubOnly());
    RelayConfig config = relayConfig();
    config.consumers.push_back(consumer("portal", portal));
    Relay relay(store, config);
    relay.start();
    ASSERT_TRUE(eventually([&] { return log->count(Poco::Message::PRIO_CRITICAL, cannotRead) >= 2; }));

    disk.remountReadWrite();
    ASSERT_TRUE(eventually([&] { return store.writable(); })) << "the store did not recover: " << store.health().detail;
    store.session() << "ALTER TABLE events_cursor_away RENAME TO events_cursor", now;
    {
        Poco::Data::Session s = store.session();
        s.begin();
        for (long n = 0; n < 20; ++n)
            Outbox::append(s, CloudEvent::create(EventType::ApplicationStatusChanged, "/campus-hub",
                                                 "APP-" + std::to_string(n % 5), numbered(n)));
        s.commit();
    }
    ASSERT_TRUE(eventually([&] { return portal.distinct() == 20; }));
    expectOrderedPerSubject(portal.receipts());
    relay.stop();
    Poco::Logger::get("hub.events").setChannel(new Poco::ConsoleChannel);
}
