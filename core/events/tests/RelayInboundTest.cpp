// What peers send to the hub: decisions applied exactly once (through the reference
// approval engine too), refusals of everything else, and a full disk.

#include "RelayFixture.h"

#include <hub/test/TmpfsMount.h>

#include <Poco/File.h>

#include <fstream>

using hub::test::TmpfsMount;

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
        s << db.sql("INSERT INTO app_state(id, status, amount) VALUES(?, ?, ?)"), use(app), use(pending), use(amount), now;
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

// Issue 20: with the disk full, inbound decisions got no answer at all (the
// error path's ROLLBACK failed after SQLite had rolled back, and that exception
// skipped the nack). They must be refused as "unavailable", then applied exactly
// once when the sender (the test, and the reference engine) sends them again.
TEST_F(RelayFixture, DecisionsOnAFullDiskAreRefusedThenAppliedOnceWhenThereIsSpace) {
    if (hub::test::storeOnPostgres())
        GTEST_SKIP() << "a full disk under SQLite's file; PostgreSQL's failures (a lost server, classed StoreFault::Io, "
                        "so answered unavailable) are store_test's PostgresStore.ConnectionLossUnderLoad...";
    if (auto why = TmpfsMount::unavailable(); !why.empty()) GTEST_SKIP() << why;
    TmpfsMount disk(8 << 20);
    std::string hubPub = tmp.file("hub-curve.pub");
    std::string engineEndpoint = "tcp://127.0.0.1:" + std::to_string(freePort());
    std::string inboundEndpoint = "tcp://127.0.0.1:" + std::to_string(freePort());
    auto decidedCount = [](hub::store::Database& store, const std::string& app) {
        Poco::Data::Session s = store.session();
        std::vector<int> n;
        std::string key = app;
        s << store.sql("SELECT decisions FROM app_state WHERE id = ?"), use(key), into(n), now;
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
                s << full.sql("INSERT INTO app_state(id, status, amount) VALUES(?, 'in_review', 1)"), use(app), now;
                raw.push_back(app);
            }
            for (int i = 0; i < 3; ++i) {
                std::string app = "APP-E" + std::to_string(i);
                s << full.sql("INSERT INTO app_state(id, status, amount) VALUES(?, 'in_review', 1)"), use(app), now;
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
