// The store on PostgreSQL where it differs from SQLite: configuration, several
// hubs on one database, and the connection lost and back under load.
#include "Backends.h"
#include "hub/store/AuditLog.h"
#include "hub/store/Database.h"
#include "hub/store/Lease.h"
#include "hub/test/Eventually.h"

#include <Poco/Data/Session.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Util/MapConfiguration.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using namespace Poco::Data::Keywords;
using hub::store::Database;
using hub::store::Migration;
using hub::store::StoreFault;
using hub::store::StoreUnavailable;
using hub::store::testing::freshPostgres;
using hub::store::testing::sharedPostgres;

TEST(StoreConfig, ReadsTheBackendAndRefusesAPasswordInTheConnectionString) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> config(new Poco::Util::MapConfiguration);
    config->setString("store.path", "var/x.db");
    auto o = Database::Options::fromConfig(*config);
    EXPECT_EQ(o.backend, Database::Backend::Sqlite);
    EXPECT_EQ(o.path, "var/x.db");
    config->setString("store.backend", "postgresql");
    EXPECT_THROW(Database::Options::fromConfig(*config), Poco::InvalidArgumentException);  // no connection
    config->setString("store.postgresql.connection", "host=db port=5432 dbname=hub user=hub");
    config->setString("store.postgresql.passwordFile", "/etc/campushub/db-password");
    o = Database::Options::fromConfig(*config);
    EXPECT_EQ(o.backend, Database::Backend::PostgreSql);
    EXPECT_EQ(o.passwordFile, "/etc/campushub/db-password");
    config->setString("store.postgresql.connection", "host=db dbname=hub password=secret-in-the-config");
    try {
        Database::Options::fromConfig(*config);
        FAIL() << "a password in the connection string must be refused";
    } catch (const Poco::InvalidArgumentException& e) {
        EXPECT_EQ(e.displayText().find("secret-in-the-config"), std::string::npos) << e.displayText();
    }
    config->setString("store.postgresql.connection", "host=db port");  // malformed: libpq's parser says why
    try {
        Database::Options::fromConfig(*config);
        FAIL() << "a malformed connection string must be refused";
    } catch (const Poco::InvalidArgumentException& e) {
        EXPECT_NE(e.displayText().find("store.postgresql.connection"), std::string::npos) << e.displayText();
    }
    config->setString("store.postgresql.connection", "host=db options='-c search_path=hub'");
    try {
        Database::Options::fromConfig(*config);
        FAIL() << "a value with a space must be refused";
    } catch (const Poco::InvalidArgumentException& e) {
        EXPECT_NE(e.displayText().find("options"), std::string::npos) << e.displayText();
    }
    config->setString("store.backend", "oracle");
    EXPECT_THROW(Database::Options::fromConfig(*config), Poco::InvalidArgumentException);
}

// store.nodeId names this hub among those sharing the database; without it each
// store gets a name of its own (two hubs on one machine must still differ).
TEST(StoreConfig, TheNodeIdIsConfiguredOrMadeUniquePerStore) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> config(new Poco::Util::MapConfiguration);
    Poco::TemporaryFile dir;
    dir.createDirectories();
    config->setString("store.path", dir.path() + "/hub.db");
    auto o = Database::Options::fromConfig(*config);
    EXPECT_TRUE(o.nodeId.empty());
    Database first(o), second(o);
    EXPECT_FALSE(first.nodeId().empty());
    EXPECT_NE(first.nodeId(), second.nodeId());
    config->setString("store.nodeId", "hub-2.campus");
    Database named(Database::Options::fromConfig(*config));
    EXPECT_EQ(named.nodeId(), "hub-2.campus");
}

// A password with a space, quotes, a backslash and Chinese in it reaches the
// server intact (it is quoted into libpq's conninfo); a missing file is named.
TEST(PostgresStore, APasswordOfAnyCharactersFromItsFile) {
    auto options = freshPostgres();
    auto& pg = sharedPostgres();
    const std::string password = "p w'\\\"密码 ";
    pg.psql("CREATE ROLE hub_quoted LOGIN PASSWORD 'p w''\\\"密码 '");
    const std::string dbname = options.connection.substr(options.connection.find("dbname=") + 7,
                                                         options.connection.find(" user=") -
                                                             (options.connection.find("dbname=") + 7));
    pg.psql("GRANT ALL ON SCHEMA public TO hub_quoted", dbname);
    Poco::TemporaryFile file;
    {
        std::ofstream out(file.path());
        out << password << "\n";
    }
    options.connection = pg.conninfo(dbname) + " user=hub_quoted";
    options.passwordFile = file.path();
    std::unique_ptr<Database> opened;
    try {
        opened = std::make_unique<Database>(options);
    } catch (const Poco::Exception& e) {
        FAIL() << e.displayText();
    }
    Database& db = *opened;
    int one = 0;
    db.session() << "SELECT 1", into(one), now;
    EXPECT_EQ(one, 1);
    options.passwordFile = file.path() + ".missing";
    try {
        Database missing(options);
        FAIL() << "a missing password file must be refused";
    } catch (const Poco::Exception& e) {
        EXPECT_NE(e.displayText().find("passwordFile"), std::string::npos) << e.displayText();
    }
}

TEST(StoreSql, PlaceholdersBecomeNumberedOutsideQuotesAndComments) {
    using hub::store::Dialect;
    EXPECT_EQ(hub::store::sql(Dialect::Sqlite, "SELECT ? WHERE a = ?"), "SELECT ? WHERE a = ?");
    EXPECT_EQ(hub::store::sql(Dialect::PostgreSql, "SELECT ?, '?', \"a?\" WHERE a = ? -- ?\n AND b = ?"),
              "SELECT $1, '?', \"a?\" WHERE a = $2 -- ?\n AND b = $3");
}

// A wrong password: a clear StoreUnavailable, and the password in no message.
TEST(PostgresStore, AWrongPasswordIsRefusedWithoutShowingIt) {
    auto options = freshPostgres();
    Poco::TemporaryFile file;
    {
        std::ofstream out(file.path());
        out << "not-the-password-4711\n";
    }
    options.passwordFile = file.path();
    try {
        Database db(options);
        FAIL() << "expected StoreUnavailable";
    } catch (const StoreUnavailable& e) {
        EXPECT_EQ(e.fault(), StoreFault::Io);
        EXPECT_NE(e.displayText().find("password authentication failed"), std::string::npos) << e.displayText();
        EXPECT_EQ(e.displayText().find("not-the-password-4711"), std::string::npos) << e.displayText();
    }
}

// Two hubs starting together on one database apply each step once, and neither fails.
TEST(PostgresStore, TwoHubsMigratingTogetherApplyEachStepOnce) {
    const auto options = freshPostgres();
    Database first(options);
    Database second(options);
    std::vector<Migration> steps;
    for (int v = 1; v <= 20; ++v)
        steps.push_back({v, {"CREATE TABLE t" + std::to_string(v) + " (x INTEGER)"}});
    auto a = std::async(std::launch::async, [&] { first.migrate("m", steps); });
    auto b = std::async(std::launch::async, [&] { second.migrate("m", steps); });
    EXPECT_NO_THROW(a.get());
    EXPECT_NO_THROW(b.get());
    EXPECT_EQ(first.schemaVersion("m"), 20);
    EXPECT_EQ(second.schemaVersion("m"), 20);
    EXPECT_TRUE(second.hasTable("t20"));
}

// The server stopped under load and started again: callers get StoreUnavailable
// (not a hang), the store reconnects on its own, every acknowledged transaction
// is there, and no transaction is there by half.
TEST(PostgresStore, ConnectionLossUnderLoadIsStoreUnavailableAndRecovers) {
    // A server of its own: this test stops it.
    hub::test::PostgresServer pg;
    Database::Options options;
    options.backend = Database::Backend::PostgreSql;
    options.connection = pg.conninfo() + " user=" + pg.user();
    options.passwordFile = pg.passwordFile();
    options.maxSessions = 8;
    options.probeInterval = std::chrono::milliseconds(50);
    options.maxProbeInterval = std::chrono::milliseconds(500);
    Database db(options);
    db.migrate("m", {{1, {"CREATE TABLE pairs (k TEXT NOT NULL, half INTEGER NOT NULL)"}}});

    std::atomic<bool> stop{false};
    std::atomic<int> unavailable{0}, otherErrors{0};
    std::atomic<long long> slowestFailureUs{0};
    std::mutex ackedMutex;
    std::vector<std::string> acked;
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w)
        writers.emplace_back([&, w] {
            for (int n = 0; !stop; ++n) {
                const std::string key = std::to_string(w) + "-" + std::to_string(n);
                const auto started = std::chrono::steady_clock::now();
                try {
                    auto s = db.session();
                    s.begin();
                    for (int half = 0; half < 2; ++half) {
                        std::string k = key;
                        s << db.sql("INSERT INTO pairs(k, half) VALUES(?, ?)"), use(k), use(half), now;
                    }
                    s.commit();
                    std::lock_guard lock(ackedMutex);
                    acked.push_back(key);
                } catch (const std::exception& e) {
                    // Whatever the statement threw, the store's classification says
                    // "unavailable" (the API answers 503 from it), else it is a failure.
                    if (!hub::store::classifyStoreFailure(e)) {
                        auto* poco = dynamic_cast<const Poco::Exception*>(&e);
                        if (otherErrors++ < 3)
                            ADD_FAILURE() << "not the store's fault: " << (poco ? poco->displayText() : e.what());
                        continue;
                    }
                    ++unavailable;
                    const long long us = std::chrono::duration_cast<std::chrono::microseconds>(
                                             std::chrono::steady_clock::now() - started)
                                             .count();
                    long long seen = slowestFailureUs;
                    while (us > seen && !slowestFailureUs.compare_exchange_weak(seen, us)) {
                    }
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a client backing off
                }
            }
        });
    auto ackedCount = [&] {
        std::lock_guard lock(ackedMutex);
        return acked.size();
    };
    ASSERT_TRUE(hub::test::waitUntil([&] { return ackedCount() >= 200; }, std::chrono::seconds(30)));
    pg.stop();
    ASSERT_TRUE(hub::test::waitUntil([&] { return unavailable >= 20 && !db.writable(); }, std::chrono::seconds(30)));
    EXPECT_EQ(db.health().fault, StoreFault::Io);
    pg.start();
    const std::size_t before = ackedCount();
    ASSERT_TRUE(hub::test::waitUntil([&] { return db.writable() && ackedCount() >= before + 200; },
                                     std::chrono::seconds(30)))
        << "writable " << db.writable() << ", acknowledged since the restart " << ackedCount() - before;
    stop = true;
    for (auto& t : writers) t.join();
    EXPECT_EQ(otherErrors, 0);
    EXPECT_GE(db.health().reopens, 1u);
    std::printf("[ stats    ] %zu acknowledged, %d refused as unavailable, slowest refusal %.1f ms\n", acked.size(),
                unavailable.load(), static_cast<double>(slowestFailureUs.load()) / 1000.0);

    // Every acknowledged pair is there whole; nothing else is there by half.
    std::vector<std::string> keys;
    std::vector<int> counts;
    db.session() << "SELECT k, count(*)::integer FROM pairs GROUP BY k", into(keys), into(counts), now;
    std::set<std::string> stored;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        EXPECT_EQ(counts[i], 2) << keys[i];
        stored.insert(keys[i]);
    }
    for (const auto& key : acked) EXPECT_TRUE(stored.count(key)) << "acknowledged and lost: " << key;
}

// A restart between two requests: the idle connections it closed are noticed
// when handed out, and the next caller gets a fresh one, not an error.
TEST(PostgresStore, ARestartBetweenRequestsIsNotSeenByTheNextCaller) {
    hub::test::PostgresServer pg;
    Database::Options options;
    options.backend = Database::Backend::PostgreSql;
    options.connection = pg.conninfo() + " user=" + pg.user();
    options.passwordFile = pg.passwordFile();
    Database db(options);
    {
        // Several idle connections in the pool.
        auto a = db.session(), b = db.session(), c = db.session();
        for (auto* s : {&a, &b, &c}) *s << "SELECT 1", now;
    }
    pg.stop();
    pg.start();
    for (int i = 0; i < 5; ++i) {
        int one = 0;
        try {
            db.session() << "SELECT 1", into(one), now;
        } catch (const Poco::Exception& e) {
            ADD_FAILURE() << "request " << i << ": " << e.displayText();
        }
        EXPECT_EQ(one, 1);
    }
}

// Audit records queued while the server is down are written once it is back.
TEST(PostgresStore, TheAuditLogHoldsRecordsWhileTheServerIsDown) {
    hub::test::PostgresServer pg;
    Database::Options options;
    options.backend = Database::Backend::PostgreSql;
    options.connection = pg.conninfo() + " user=" + pg.user();
    options.passwordFile = pg.passwordFile();
    options.probeInterval = std::chrono::milliseconds(50);
    options.maxProbeInterval = std::chrono::milliseconds(500);
    Database db(options);
    hub::store::AuditLog audit(db, 100000, std::chrono::milliseconds(5));
    auto record = [&](int n) {
        hub::store::AuditRecord r;
        r.subject = "学生" + std::to_string(n);
        r.requestId = "r" + std::to_string(n);
        audit.record(r);
    };
    for (int n = 0; n < 100; ++n) record(n);
    ASSERT_TRUE(audit.flush());
    pg.stop();
    for (int n = 100; n < 300; ++n) record(n);
    EXPECT_FALSE(audit.flush());  // refused: held, not lost
    EXPECT_EQ(audit.dropped(), 0u);
    pg.start();
    ASSERT_TRUE(hub::test::waitUntil([&] { return audit.written() == 300; }, std::chrono::seconds(30)))
        << audit.written();
    EXPECT_EQ(audit.dropped(), 0u);
    int rows = 0, distinct = 0;
    db.session() << "SELECT count(*), count(DISTINCT request_id) FROM audit_calls", into(rows), into(distinct), now;
    EXPECT_EQ(rows, 300);
    EXPECT_EQ(distinct, 300);
}
