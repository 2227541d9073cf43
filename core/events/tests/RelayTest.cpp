// The relay on real ZeroMQ sockets over loopback, with SQLite files in temp dirs.

#include <hub/events/Outbox.h>
#include <hub/events/Relay.h>
#include <hub/zmq/Curve.h>
#include <hub/zmq/Frames.h>

#include "TestPeers.h"

#include <Poco/ConsoleChannel.h>
#include <Poco/Data/Session.h>
#include <Poco/Logger.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <unordered_map>

using namespace hub::events;
using namespace hub::events::test;
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

struct RelayFixture : ::testing::Test {
    TempDir tmp;
    hub::store::Database db{{tmp.file("hub.db")}};
    std::atomic<int> applied{0};

    RelayFixture() {
        // Relay warnings (refusals, dead letters) show up in the test log.
        Poco::Logger::get("hub.events").setChannel(new Poco::ConsoleChannel);
        Outbox::migrate(db);
        Poco::Data::Session s = db.session();
        s << "CREATE TABLE app_state (id TEXT PRIMARY KEY, status TEXT NOT NULL, amount REAL NOT NULL, "
             "decisions INTEGER NOT NULL DEFAULT 0, last_decision TEXT)",
            now;
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
        return [this](Poco::Data::Session& s, const CloudEvent& e) {
            Poco::JSON::Parser p;
            auto data = p.parse(e.data).extract<Poco::JSON::Object::Ptr>();
            std::string app = data->getValue<std::string>("applicationId");
            std::string decision = data->getValue<std::string>("decision");
            if (app == "APP-FAIL") throw Poco::IllegalStateException("application is locked");
            std::string payload = e.toJson();
            s << "UPDATE app_state SET status = ?, decisions = decisions + 1, last_decision = ? WHERE id = ?",
                use(decision), use(payload), use(app), now;
            Outbox::append(s, CloudEvent::create(EventType::ApplicationStatusChanged, "/campus-hub", app,
                                                 R"({"applicationId":")" + app + R"(","status":")" + decision +
                                                     "\"}"));
            ++applied;
        };
    }

    std::string scalar(const std::string& sql, const std::string& arg) {
        Poco::Data::Session s = db.session();
        std::vector<std::string> out;
        std::string q = sql, a = arg;
        s << q, use(a), into(out), now;
        return out.empty() ? "" : out[0];
    }
};

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
    TestConsumer portal;
    RelayConfig config;
    config.consumers.push_back(consumer("portal", portal.endpoint()));
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
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(portal.count(), 310u) << "events repeated after a clean restart";
}

TEST_F(RelayFixture, RefusedEventIsRetriedAndItsSubjectWaits) {
    TestConsumer portal("tcp://127.0.0.1:*", TestConsumer::Mode::NackOnce);
    RelayConfig config;
    config.consumers.push_back(consumer("portal", portal.endpoint()));
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
    RelayConfig config;
    auto c = consumer("portal", endpoint);
    c.maxAttempts = 2;  // a consumer that is down must not burn attempts
    config.consumers.push_back(c);
    Relay relay(db, config);
    relay.start();
    appendEvents(0, 250);
    ASSERT_TRUE(eventually([&] { return relay.metrics().outboxDepth == 250; }));
    std::this_thread::sleep_for(1500ms);
    RelayMetrics down = relay.metrics();
    EXPECT_EQ(down.outboxDepth, 250);
    EXPECT_GT(down.oldestUndeliveredAgeSeconds, 1.0);
    EXPECT_EQ(down.deadLetters, 0u);

    TestConsumer portal(endpoint);
    appendEvents(250, 50);
    ASSERT_TRUE(eventually([&] { return portal.distinct() == 300; }));
    expectOrderedPerSubject(portal.receipts());
    ASSERT_TRUE(eventually([&] { return relay.metrics().outboxDepth == 0; }));
    EXPECT_EQ(relay.metrics().deadLetters, 0u);
}

TEST_F(RelayFixture, NeverAckingConsumerEndsInDeadLettersAndReplayDelivers) {
    TestConsumer silent("tcp://127.0.0.1:*", TestConsumer::Mode::Never);
    RelayConfig config;
    auto c = consumer("silent", silent.endpoint());
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
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(silent.count(), 16u);
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
    std::this_thread::sleep_for(300ms);
    restarted.terminate();

    // Every committed event was delivered: compare with the probe's outbox.
    hub::store::Database probeDb({tmp.file("probe.db")});
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
    Child portalPeer(HUB_PORTAL_CONSUMER, {"--listen", "tcp://127.0.0.1:*"});
    auto portalEndpoint = portalPeer.waitForLine("listening ");
    ASSERT_TRUE(portalEndpoint);
    std::string engineEndpoint = "tcp://127.0.0.1:" + std::to_string(freePort());

    RelayConfig config;
    auto approval = consumer("approval", engineEndpoint);
    approval.types = {std::string(EventType::ApprovalRequested)};
    config.consumers.push_back(approval);
    auto portal = consumer("portal", *portalEndpoint);
    portal.types = {"edu.campus.hub.application."};
    config.consumers.push_back(portal);
    config.inboundEndpoint = "tcp://127.0.0.1:*";
    Relay relay(db, config, handler());
    relay.start();

    std::string engineConfig = tmp.file("engine.properties");
    std::ofstream(engineConfig) << "engine.listen = " << engineEndpoint << "\n"
                                << "engine.hub = " << relay.inboundEndpoint() << "\n"
                                << "engine.rule.maxAmount = 5000\nengine.resendMs = 200\n";
    Child engine(HUB_APPROVAL_ENGINE, {"--config", engineConfig});
    ASSERT_TRUE(engine.waitForLine("listening "));

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
    // The portal heard of both status changes, through the outbox of the inbound transaction.
    ASSERT_TRUE(eventually([&] {
        int seen = 0;
        for (const auto& l : portalPeer.lines())
            if (l.find("status_changed") != std::string::npos &&
                (l.find("\"APP-1\"") != std::string::npos || l.find("\"APP-2\"") != std::string::npos))
                ++seen;
        return seen == 2;
    }));

    // The engine repeats a decision (same id): acked, nothing changes.
    std::string decision = scalar("SELECT last_decision FROM app_state WHERE id = ?", "APP-1");
    std::string decisionId = CloudEvent::fromJson(decision).id;
    ::zmq::context_t ctx;
    ::zmq::socket_t dealer(ctx, ::zmq::socket_type::dealer);
    hub::zmq::applyDefaultOptions(dealer);
    dealer.set(::zmq::sockopt::rcvtimeo, 10000);
    dealer.connect(relay.inboundEndpoint());
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(hub::zmq::sendFrames(dealer, {decisionId, decision}, false));
        auto reply = hub::zmq::receiveFrames(dealer, false);
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

TEST_F(RelayFixture, BadInboundMessagesAreRefusedWithoutHarm) {
    TestConsumer portal;
    RelayConfig config;
    config.consumers.push_back(consumer("portal", portal.endpoint()));
    config.inboundEndpoint = "tcp://127.0.0.1:*";
    config.maxEventBytes = 4096;
    Relay relay(db, config, handler());
    relay.start();
    {
        Poco::Data::Session s = db.session();
        s << "INSERT INTO app_state(id, status, amount) VALUES('APP-7', 'pending', 1), ('APP-FAIL', 'pending', 1)", now;
    }
    appendEvents(0, 20);

    ::zmq::context_t ctx;
    ::zmq::socket_t dealer(ctx, ::zmq::socket_type::dealer);
    hub::zmq::applyDefaultOptions(dealer);
    dealer.set(::zmq::sockopt::rcvtimeo, 10000);
    dealer.connect(relay.inboundEndpoint());
    auto exchange = [&](const hub::zmq::Frames& frames) {
        EXPECT_TRUE(hub::zmq::sendFrames(dealer, frames, false));
        auto reply = hub::zmq::receiveFrames(dealer, false);
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
    EXPECT_EQ(applied.load(), 0);

    // A hostile sender past the size cap loses its connection, nothing else.
    {
        ::zmq::socket_t hostile(ctx, ::zmq::socket_type::dealer);
        hub::zmq::applyDefaultOptions(hostile);
        hostile.connect(relay.inboundEndpoint());
        hub::zmq::sendFrames(hostile, {"huge", std::string(2 * 1024 * 1024, 'x')}, false);
        std::this_thread::sleep_for(200ms);
    }

    // The relay is unharmed: a good decision is applied, outbound delivery goes on.
    CloudEvent good = decided("APP-7");
    auto reply = exchange({good.id, good.toJson()});
    ASSERT_GE(reply.size(), 2u);
    EXPECT_EQ(reply[1], "ack");
    EXPECT_EQ(applied.load(), 1);
    EXPECT_EQ(scalar("SELECT status FROM app_state WHERE id = ?", "APP-7"), "approved");
    appendEvents(20, 20);
    ASSERT_TRUE(eventually([&] { return portal.distinct() == 41; }));  // 40 + the status change
    EXPECT_GE(relay.metrics().inboundRefused, 9u);
    EXPECT_EQ(relay.metrics().inboundAccepted, 1u);
}

TEST_F(RelayFixture, CurveAdmitsKnownKeysAndRefusesOthers) {
    auto hubKeys = hub::zmq::generateKeyPair();
    auto portalKeys = hub::zmq::generateKeyPair();
    auto engineKeys = hub::zmq::generateKeyPair();
    auto intruderKeys = hub::zmq::generateKeyPair();
    hub::zmq::writeKeyFile(tmp.file("hub.pub"), hubKeys.publicKey);
    hub::zmq::writeKeyFile(tmp.file("hub.key"), hubKeys.secretKey);
    hub::zmq::writeKeyFile(tmp.file("portal.pub"), portalKeys.publicKey);
    hub::zmq::writeKeyFile(tmp.file("intruder.pub"), intruderKeys.publicKey);
    std::ofstream(tmp.file("authorized")) << "# the approval engine\n" << engineKeys.publicKey << "\n";

    // The portal admits the hub; the "picky" consumer admits only someone else.
    TestConsumer portal("tcp://127.0.0.1:*", TestConsumer::Mode::Ack, portalKeys, {hubKeys.publicKey});
    TestConsumer picky("tcp://127.0.0.1:*", TestConsumer::Mode::Ack, intruderKeys, {engineKeys.publicKey});
    RelayConfig config;
    auto p = consumer("portal", portal.endpoint());
    p.serverPublicKeyFile = tmp.file("portal.pub");
    config.consumers.push_back(p);
    auto q = consumer("picky", picky.endpoint());
    q.serverPublicKeyFile = tmp.file("intruder.pub");
    config.consumers.push_back(q);
    config.inboundEndpoint = "tcp://127.0.0.1:*";
    config.curve = {true, tmp.file("hub.pub"), tmp.file("hub.key"), tmp.file("authorized")};
    Relay relay(db, config, handler());
    relay.start();
    {
        Poco::Data::Session s = db.session();
        s << "INSERT INTO app_state(id, status, amount) VALUES('APP-9', 'pending', 1)", now;
    }
    appendEvents(0, 10);
    ASSERT_TRUE(eventually([&] { return portal.distinct() == 10; }));
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(picky.count(), 0u) << "a consumer refusing the hub's key got events";

    auto sendDecision = [&](const hub::zmq::CurveKeyPair& clientKeys) -> std::optional<hub::zmq::Frames> {
        ::zmq::context_t ctx;
        ::zmq::socket_t dealer(ctx, ::zmq::socket_type::dealer);
        hub::zmq::applyDefaultOptions(dealer);
        hub::zmq::makeCurveClient(dealer, clientKeys, hubKeys.publicKey);
        dealer.set(::zmq::sockopt::rcvtimeo, 1500);
        dealer.connect(relay.inboundEndpoint());
        CloudEvent e = CloudEvent::create(EventType::ApprovalDecided, "/approval-engine", "APP-9",
                                          R"({"applicationId":"APP-9","decision":"approved"})");
        hub::zmq::sendFrames(dealer, {e.id, e.toJson()}, true);
        return hub::zmq::receiveFrames(dealer, false);
    };
    EXPECT_FALSE(sendDecision(intruderKeys)) << "an unknown client key was admitted";
    EXPECT_EQ(applied.load(), 0);
    auto reply = sendDecision(engineKeys);
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)[1], "ack");
    EXPECT_EQ(applied.load(), 1);
}

TEST_F(RelayFixture, PublishFansOutByTypePrefix) {
    RelayConfig config;
    config.publishEndpoint = "tcp://127.0.0.1:*";
    Relay relay(db, config);
    relay.start();
    ::zmq::context_t ctx;
    ::zmq::socket_t sub(ctx, ::zmq::socket_type::sub);
    hub::zmq::applyDefaultOptions(sub);
    sub.set(::zmq::sockopt::subscribe, "edu.campus.hub.application.");
    sub.connect(relay.publishEndpoint());
    // PUB drops what is sent before the subscription arrives: keep publishing
    // until the subscriber hears something.
    std::optional<hub::zmq::Frames> got;
    ASSERT_TRUE(eventually([&] {
        appendEvents(0, 1, 1, EventType::IdentityChanged);
        appendEvents(0, 1, 1, EventType::ApplicationSubmitted);
        std::this_thread::sleep_for(50ms);
        got = hub::zmq::receiveFrames(sub, true);
        return got.has_value();
    }));
    EXPECT_EQ((*got)[0], EventType::ApplicationSubmitted);
    EXPECT_EQ(CloudEvent::fromJson((*got)[1]).type, EventType::ApplicationSubmitted);
    while (auto more = hub::zmq::receiveFrames(sub, true))
        EXPECT_EQ((*more)[0].rfind("edu.campus.hub.application.", 0), 0u);
    EXPECT_GT(relay.metrics().published, 0u);
}
