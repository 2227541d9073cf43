// The relay's delivery to consumers: order per subject, retries, a consumer that is
// down, dead letters and replay, a crash, and a start while the state is unreadable.

#include "RelayFixture.h"

#include <hub/test/TmpfsMount.h>

#include <sqlite3.h>

#include <iostream>

using hub::test::TmpfsMount;

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
    // The probe's store: its own SQLite file, or this test's PostgreSQL
    // database (the killed probe's lease runs out before the restarted one,
    // another node, delivers: 2 s).
    hub::store::Database::Options probeStore = storeOptions;
    std::vector<std::string> args{"--consumer", portal.endpoint(), "--total", std::to_string(total),
                                  "--batch", "50", "--window", std::to_string(window)};
    if (hub::test::storeOnPostgres()) {
        for (const std::string& a : {std::string("--pg"), probeStore.connection, std::string("--pg-password-file"),
                                     probeStore.passwordFile, std::string("--lease-ttl-ms"), std::string("2000")})
            args.push_back(a);
    } else {
        probeStore = hub::store::Database::Options{tmp.file("probe.db")};
        args.push_back("--db");
        args.push_back(probeStore.path);
    }
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
    hub::store::Database probeDb(probeStore);
    // (PostgreSQL's sequence keeps no seqs of the transaction the kill cut off:
    // the last seq may be above the count.)
    const std::string lastSeq = scalarIn(probeDb, "SELECT CAST(MAX(seq) AS TEXT) FROM events_outbox WHERE id <> ?", "");
    ASSERT_TRUE(eventually([&] {
        return scalarIn(probeDb, "SELECT CAST(seq AS TEXT) FROM events_cursor WHERE consumer = ?", "probe") == lastSeq;
    })) << "last seq " << lastSeq;
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

// A delivery thread that cannot read its state at start (here a table is away)
// tries again and again. It used to keep its database session all the while,
// and a store that must reopen every session to recover from a fault (read-only
// at start, writable later) waited for that one for ever: the hub stayed
// read-only until a restart.
TEST_F(RelayFixture, DeliveryWaitingForItsStateLetsTheStoreRecover) {
    if (hub::test::storeOnPostgres())
        GTEST_SKIP() << "SQLite's file on a read-only tmpfs; PostgreSQL's reopen after a fault is store_test's "
                        "PostgresStore.ConnectionLossUnderLoad...";
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
