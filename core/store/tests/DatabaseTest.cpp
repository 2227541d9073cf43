#include "Backends.h"
#include "hub/store/Database.h"
#include "hub/store/PreparedStatement.h"
#include "hub/store/WriteTransaction.h"
#include "hub/test/Eventually.h"

#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>

#include <sqlite3.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <future>
#include <thread>

using namespace Poco::Data::Keywords;
using hub::store::Database;
using hub::store::Migration;
using hub::store::WriteTransaction;

namespace {
struct TempDb {
    Poco::TemporaryFile dir;
    std::string path;
    TempDb() {
        dir.createDirectories();
        path = dir.path() + "/hub.db";
    }
};
class DatabaseOnEachBackend : public hub::store::testing::OnEachBackend {};
HUB_STORE_ON_EACH_BACKEND(DatabaseOnEachBackend);
class AuditLogOnEachBackend : public hub::store::testing::OnEachBackend {};
HUB_STORE_ON_EACH_BACKEND(AuditLogOnEachBackend);
}  // namespace

TEST_P(DatabaseOnEachBackend, AppliesMigrationsOnceAndInOrder) {
    std::vector<Migration> steps = {
        {2, {"ALTER TABLE t ADD COLUMN name TEXT"}},
        {1, {"CREATE TABLE t (id INTEGER PRIMARY KEY)"}},
    };
    {
        Database db(options());
        EXPECT_EQ(db.schemaVersion("m"), 0);
        db.migrate("m", steps);
        EXPECT_EQ(db.schemaVersion("m"), 2);
        auto s = db.session();
        s << "INSERT INTO t(id, name) VALUES(1, '张三')", now;
    }
    // Reopen: nothing re-applied (a second CREATE TABLE would throw), data kept.
    Database db(options());
    db.migrate("m", steps);
    EXPECT_EQ(db.schemaVersion("m"), 2);
    std::string name;
    auto s = db.session();
    s << "SELECT name FROM t WHERE id = 1", into(name), now;
    EXPECT_EQ(name, "张三");
    if (postgres()) return;
    std::string mode;
    s << "PRAGMA journal_mode", into(mode), now;
    EXPECT_EQ(mode, "wal");
}

TEST_P(DatabaseOnEachBackend, FailedStepRollsBackAndNamesModule) {
    Database db(options());
    db.migrate("m", {{1, {"CREATE TABLE t (id INTEGER)"}}});
    try {
        db.migrate("m", {{1, {"CREATE TABLE t (id INTEGER)"}},
                         {2, {"CREATE TABLE u (id INTEGER)", "THIS IS NOT SQL"}}});
        FAIL() << "expected a failure";
    } catch (const Poco::DataException& e) {
        EXPECT_NE(e.displayText().find("m v2"), std::string::npos) << e.displayText();
    }
    EXPECT_EQ(db.schemaVersion("m"), 1);
    // The half of step 2 that ran was rolled back.
    EXPECT_TRUE(db.hasTable("t"));
    EXPECT_FALSE(db.hasTable("u"));
}

TEST_P(DatabaseOnEachBackend, RefusesGapInVersions) {
    Database db(options());
    EXPECT_THROW(db.migrate("m", {{2, {"CREATE TABLE t (id INTEGER)"}}}), Poco::DataException);
    EXPECT_EQ(db.schemaVersion("m"), 0);
}

TEST_P(DatabaseOnEachBackend, ModulesAreIndependent) {
    Database db(options());
    db.migrate("a", {{1, {"CREATE TABLE a1 (x INTEGER)"}}});
    db.migrate("b", {{1, {"CREATE TABLE b1 (x INTEGER)"}}, {2, {"CREATE TABLE b2 (x INTEGER)"}}});
    EXPECT_EQ(db.schemaVersion("a"), 1);
    EXPECT_EQ(db.schemaVersion("b"), 2);
}

// More callers than sessions: they wait for one to come back (the header's
// promise; Poco's pool threw SessionPoolExhaustedException at once).
TEST_P(DatabaseOnEachBackend, CallersWaitForAFreeSession) {
    Database::Options options = this->options();
    options.maxSessions = 2;
    Database db(options);
    auto first = std::make_unique<Poco::Data::Session>(db.session());
    auto second = std::make_unique<Poco::Data::Session>(db.session());
    auto third = std::async(std::launch::async, [&db] {
        auto s = db.session();
        int one = 0;
        s << "SELECT 1", into(one), now;
        return one;
    });
    // Still waiting while both are held (a slow machine only makes this truer).
    EXPECT_EQ(third.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
    first.reset();  // back to the pool: the waiter takes it
    ASSERT_EQ(third.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_EQ(third.get(), 1);
}

TEST_P(DatabaseOnEachBackend, AWaitThatOutlastsSessionWaitIsStoreBusy) {
    Database::Options options = this->options();
    options.maxSessions = 1;
    options.sessionWait = std::chrono::milliseconds(50);
    Database db(options);
    auto held = db.session();
    try {
        db.session();
        FAIL() << "expected StoreUnavailable";
    } catch (const hub::store::StoreUnavailable& e) {
        EXPECT_EQ(e.fault(), hub::store::StoreFault::Busy);
        EXPECT_EQ(hub::store::classifyStoreFailure(e), hub::store::StoreFault::Busy);
        EXPECT_NE(e.displayText().find("1 database sessions are in use"), std::string::npos) << e.displayText();
    }
}

// Eight writers through two sessions: every one of their 400 writes lands.
TEST_P(DatabaseOnEachBackend, MoreConcurrentHoldersThanSessionsAllGetTheirTurn) {
    Database::Options options = this->options();
    options.maxSessions = 2;
    Database db(options);
    db.migrate("m", {{1, {"CREATE TABLE t (writer INTEGER, n INTEGER)"}}});
    std::vector<std::thread> writers;
    for (int w = 0; w < 8; ++w) {
        writers.emplace_back([&db, w] {
            for (int n = 0; n < 50; ++n) {
                auto s = db.session();
                s.begin();
                int writer = w, number = n;
                s << db.sql("INSERT INTO t VALUES(?, ?)"), use(writer), use(number), now;
                s.commit();
            }
        });
    }
    for (auto& t : writers) t.join();
    int rows = 0;
    db.session() << "SELECT count(*) FROM t", into(rows), now;
    EXPECT_EQ(rows, 400);
}

// A session given back with a transaction open (a caller that threw between
// BEGIN and COMMIT) is rolled back before anyone else gets it.
TEST_P(DatabaseOnEachBackend, ASessionComesBackWithoutItsTransaction) {
    Database::Options options = this->options();
    options.maxSessions = 1;
    Database db(options);
    db.migrate("m", {{1, {"CREATE TABLE t (x INTEGER)"}}});
    {
        auto s = db.session();
        s << (postgres() ? "BEGIN" : "BEGIN IMMEDIATE"), now;  // behind Poco's back, as migrate() does
        s << "INSERT INTO t VALUES(1)", now;
    }
    {
        auto s = db.session();
        s.begin();
        s << "INSERT INTO t VALUES(2)", now;
    }  // Poco's own transaction, abandoned
    auto s = db.session();
    EXPECT_FALSE(s.isTransaction());
    if (!postgres()) {
        EXPECT_NE(sqlite3_get_autocommit(Poco::Data::SQLite::Utility::dbHandle(s)), 0);
    }
    int rows = -1;
    s << "SELECT count(*) FROM t", into(rows), now;
    EXPECT_EQ(rows, 0);
}

// Outside systemd (umask 022) SQLite made the file, its -wal and -shm 0644 and
// the folder 0755: the store holds personal data.
TEST(Database, CreatesItsFolderAndFilesPrivatelyWhateverTheUmask) {
    Poco::TemporaryFile dir;
    dir.createDirectories();
    const std::string path = dir.path() + "/state/campushub/hub.db";
    const mode_t previous = ::umask(022);
    {
        Database db({path});
        db.migrate("m", {{1, {"CREATE TABLE t (x INTEGER)"}}});
        db.session() << "INSERT INTO t VALUES(1)", now;
        auto mode = [](const std::string& p) {
            struct stat st {};
            EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
            return st.st_mode & 07777;
        };
        EXPECT_EQ(mode(dir.path() + "/state"), 0700u);
        EXPECT_EQ(mode(dir.path() + "/state/campushub"), 0700u);
        EXPECT_EQ(mode(path), 0600u);
        EXPECT_EQ(mode(path + "-wal"), 0600u);
        EXPECT_EQ(mode(path + "-shm"), 0600u);
    }
    ::umask(previous);
}

// Two hubs starting together on one file: each step is applied once and
// neither fails. A deferred transaction read the version, then could not
// become the writer once the other hub had committed (SQLITE_BUSY_SNAPSHOT).
TEST(Database, TwoHubsMigratingOneFileTogetherApplyEachStepOnce) {
    TempDb tmp;
    Database first({tmp.path});
    Database second({tmp.path});
    // Another writer holds the lock while both start migrating, so both are
    // under way before either can write.
    sqlite3* blocker = nullptr;
    ASSERT_EQ(sqlite3_open(tmp.path.c_str(), &blocker), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    const std::vector<Migration> steps = {{1, {"CREATE TABLE t (x INTEGER)"}}, {2, {"CREATE TABLE u (x INTEGER)"}}};
    auto a = std::async(std::launch::async, [&] { first.migrate("m", steps); });
    auto b = std::async(std::launch::async, [&] { second.migrate("m", steps); });
    // Time must pass, no condition to wait on: SQLite does not say who waits for
    // its lock. Both threads need only start; a slow machine still passes with the fix.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(blocker);
    EXPECT_NO_THROW(a.get());
    EXPECT_NO_THROW(b.get());
    EXPECT_EQ(first.schemaVersion("m"), 2);
}

#include "hub/store/AuditLog.h"

#include <thread>

TEST_P(AuditLogOnEachBackend, WritesEveryQueuedRecordAndSurvivesRestart) {
    {
        Database db(options());
        hub::store::AuditLog audit(db);
        for (int i = 0; i < 1000; ++i) {
            hub::store::AuditRecord r;
            r.subject = "2023010001";
            r.system = "student_affairs";
            r.operation = "get_student";
            r.outcome = i % 10 ? "ok" : "timeout";
            r.httpStatus = i % 10 ? 200 : 504;
            r.durationUs = i;
            r.requestId = "r" + std::to_string(i);
            audit.record(r);
        }
        audit.flush();
        EXPECT_EQ(audit.written(), 1000u);
        EXPECT_EQ(audit.dropped(), 0u);
    }
    Database db(options());
    int total = 0, timeouts = 0;
    auto s = db.session();
    s << "SELECT count(*) FROM audit_calls", into(total), now;
    s << "SELECT count(*) FROM audit_calls WHERE outcome = 'timeout' AND http_status = 504", into(timeouts), now;
    EXPECT_EQ(total, 1000);
    EXPECT_EQ(timeouts, 100);
}

TEST_P(AuditLogOnEachBackend, GroupsRecordsIntoOneCommitPerInterval) {
    Database db(options());
    {
        hub::store::AuditLog audit(db, 100000, std::chrono::seconds(30));
        for (int i = 0; i < 10; ++i) {
            hub::store::AuditRecord r;
            r.system = "student_affairs";
            r.requestId = "r" + std::to_string(i);
            audit.record(r);
        }
        // Inside the interval nothing is written yet...
        EXPECT_FALSE(hub::test::waitUntil([&] { return audit.written() != 0; }, std::chrono::milliseconds(200)));
        EXPECT_EQ(audit.written(), 0u);
        // ...flush() does not wait for it...
        audit.flush();
        EXPECT_EQ(audit.written(), 10u);
        hub::store::AuditRecord last;
        last.requestId = "last";
        audit.record(last);
    }  // ...and nor does the destructor.
    int total = 0;
    auto s = db.session();
    s << "SELECT count(*) FROM audit_calls", into(total), now;
    EXPECT_EQ(total, 11);
}

TEST_P(AuditLogOnEachBackend, StoresEveryFieldAsGiven) {
    Database db(options());
    {
        hub::store::AuditLog audit(db);
        hub::store::AuditRecord r;
        r.at = "2026-11-28T08:00:00.123Z";
        r.subject = "张三";
        r.actingFor = "portal-backend";
        r.system = "学生事务";
        r.operation = "enrolment_certificate";
        r.outcome = "ok";
        r.httpStatus = 201;
        r.durationUs = 123456789012;
        r.requestId = "hub-42";
        audit.record(r);
        audit.flush();
        EXPECT_EQ(audit.written(), 1u);
    }
    std::string at, subject, actingFor, system, operation, outcome, requestId;
    int status = 0;
    Poco::Int64 duration = 0;
    auto s = db.session();
    s << "SELECT at, subject, acting_for, system, operation, outcome, http_status, duration_us, request_id"
         " FROM audit_calls",
        into(at), into(subject), into(actingFor), into(system), into(operation), into(outcome), into(status),
        into(duration), into(requestId), now;
    EXPECT_EQ(at, "2026-11-28T08:00:00.123Z");
    EXPECT_EQ(subject, "张三");
    EXPECT_EQ(actingFor, "portal-backend");
    EXPECT_EQ(system, "学生事务");
    EXPECT_EQ(operation, "enrolment_certificate");
    EXPECT_EQ(outcome, "ok");
    EXPECT_EQ(status, 201);
    EXPECT_EQ(duration, 123456789012);
    EXPECT_EQ(requestId, "hub-42");
}

// A batch the database refuses halfway is rolled back whole and counted as
// dropped; what was stored before stays, and later batches are written.
TEST_P(AuditLogOnEachBackend, AFailedBatchIsRolledBackWhole) {
    Database db(options());
    hub::store::AuditLog audit(db, 100000, std::chrono::seconds(30));
    auto record = [&](const std::string& id) {
        hub::store::AuditRecord r;
        r.requestId = id;
        audit.record(r);
    };
    record("before");
    audit.flush();
    auto s = db.session();
    for (auto statement : refuseTrigger("audit_calls", "NEW.request_id = 'bad'")) s << statement, now;
    for (const char* id : {"a", "bad", "c"}) record(id);
    audit.flush();
    EXPECT_EQ(audit.written(), 1u);
    EXPECT_EQ(audit.dropped(), 3u);
    for (auto statement : dropRefuseTrigger("audit_calls")) s << statement, now;
    record("after");
    audit.flush();
    EXPECT_EQ(audit.written(), 2u);
    std::vector<std::string> ids;
    s << "SELECT request_id FROM audit_calls ORDER BY id", into(ids), now;
    EXPECT_EQ(ids, (std::vector<std::string>{"before", "after"}));
}

// However far behind the writer is, a transaction holds at most batchRecords
// rows: a refused row loses only its own batch, and the chunks are the oldest
// records first. (Long transactions kept a CPU and the write lock for ms.)
TEST_P(AuditLogOnEachBackend, AWriteHoldsAtMostBatchRecordsRows) {
    Database db(options());
    auto s = db.session();
    hub::store::AuditLog audit(db, 100000, std::chrono::seconds(30));
    for (auto statement : refuseTrigger("audit_calls", "NEW.request_id = 'r300'")) s << statement, now;
    constexpr std::size_t batch = hub::store::AuditLog::batchRecords;
    static_assert(batch < 300 && 2 * batch > 300, "r300 must fall in the second batch");
    const std::size_t total = 2 * batch + 88;
    for (std::size_t i = 0; i < total; ++i) {
        hub::store::AuditRecord r;
        r.requestId = "r" + std::to_string(i);
        audit.record(r);
    }
    audit.flush();
    EXPECT_EQ(audit.dropped(), batch);
    EXPECT_EQ(audit.written(), total - batch);
    std::vector<std::string> stored;
    s << "SELECT request_id FROM audit_calls ORDER BY id", into(stored), now;
    std::vector<std::string> expected;
    for (std::size_t i = 0; i < total; ++i)
        if (i < batch || i >= 2 * batch) expected.push_back("r" + std::to_string(i));
    EXPECT_EQ(stored, expected);
}

#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

#include <random>

// record() fills `at` itself; it must read exactly as Poco's "%Y-%m-%dT%H:%M:%s%z"
// (what earlier versions stored), across seconds, days, leap years and centuries.
TEST(AuditLog, FormatsTimesAsPocosFormatterDid) {
    using namespace std::chrono;
    auto poco = [](std::int64_t micros) {
        return Poco::DateTimeFormatter::format(Poco::Timestamp(micros), "%Y-%m-%dT%H:%M:%s%z");
    };
    std::vector<std::int64_t> samples = {0, 999999, 1000000, 951782400000000 /* 2000-02-29 */,
                                         4102444799999999 /* 2099-12-31T23:59:59.999999 */};
    std::mt19937_64 random(42);
    for (int i = 0; i < 2000; ++i) samples.push_back(static_cast<std::int64_t>(random() % 4102444800000000ULL));
    // Consecutive times within one second and across the next, as record() sees them.
    for (std::int64_t t = 1795852799999000; t < 1795852800002000; t += 250) samples.push_back(t);
    for (std::int64_t micros : samples)
        ASSERT_EQ(hub::store::AuditLog::formatTime(system_clock::time_point(microseconds(micros))), poco(micros))
            << micros;
}

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>

namespace {
// A logging channel that fails, as a full log disk or a broken syslog socket can.
class ThrowingChannel : public Poco::Channel {
public:
    void log(const Poco::Message&) override { throw std::runtime_error("the log cannot be written"); }
};
}  // namespace

// Whatever a turn of the writer throws (here: its own error log) must not end
// the thread: before, std::terminate took the process down.
TEST_P(AuditLogOnEachBackend, TheWriterOutlivesWhatItsBatchesThrow) {
    Database db(options());
    auto& logger = Poco::Logger::get("hub.audit");
    Poco::AutoPtr<Poco::Channel> previous(logger.getChannel(), true);
    logger.setChannel(new ThrowingChannel);
    {
        hub::store::AuditLog audit(db, 100000, std::chrono::milliseconds(5));
        auto s = db.session();
        for (auto statement : refuseTrigger("audit_calls", "NEW.request_id = 'bad'")) s << statement, now;
        hub::store::AuditRecord bad;
        bad.requestId = "bad";
        audit.record(bad);  // refused: the writer logs, and the log throws
        audit.flush();
        EXPECT_EQ(audit.dropped(), 1u);
        hub::store::AuditRecord good;
        good.requestId = "good";
        audit.record(good);
        audit.flush();
        EXPECT_EQ(audit.written(), 1u);
    }
    logger.setChannel(previous);
    int rows = 0;
    db.session() << "SELECT count(*) FROM audit_calls WHERE request_id = 'good'", into(rows), now;
    EXPECT_EQ(rows, 1);
}

namespace {

const char kSelectValue[] = "SELECT v FROM prepared WHERE k = ?";
const char kInsertValue[] = "INSERT INTO prepared(k, v) VALUES(?, ?)";

// The statements a connection holds, as SQLite lists them, and how many of
// them are mid-way (stepped and not reset: a read transaction held open).
std::pair<int, int> statementsOf(Poco::Data::Session& session, const char* sql) {
    sqlite3* handle = Poco::Data::SQLite::Utility::dbHandle(session);
    int count = 0, busy = 0;
    for (sqlite3_stmt* s = sqlite3_next_stmt(handle, nullptr); s; s = sqlite3_next_stmt(handle, s)) {
        if (std::string(sqlite3_sql(s)) == sql) ++count;
        if (sqlite3_stmt_busy(s)) ++busy;
    }
    return {count, busy};
}

}  // namespace

// A hot path's statement is prepared once per connection and kept, reset after
// each use (no read held open), and still usable after an error.
TEST(Database, PreparedStatementsAreKeptPerConnectionAndResetAfterUse) {
    TempDb tmp;
    Database::Options options{tmp.path};
    options.maxSessions = 1;  // every session below is the same connection
    Database db(options);
    db.session() << "CREATE TABLE prepared (k TEXT PRIMARY KEY, v INTEGER)", now;
    for (int n = 0; n < 5; ++n) {
        auto session = db.session();
        hub::store::PreparedStatement(session, kInsertValue).bind(1, "键" + std::to_string(n)).bind(2, n).execute();
        hub::store::PreparedStatement select(session, kSelectValue);
        ASSERT_TRUE(select.bind(1, "键" + std::to_string(n)).next());
        EXPECT_EQ(select.integer(0), n);
    }
    auto session = db.session();
    EXPECT_EQ(statementsOf(session, kInsertValue), std::make_pair(1, 0));
    EXPECT_EQ(statementsOf(session, kSelectValue).first, 1);
    EXPECT_EQ(statementsOf(session, kSelectValue).second, 0) << "a statement left mid-way holds a read open";

    // A constraint error throws as Poco's statements do; the statement works on.
    EXPECT_THROW(hub::store::PreparedStatement(session, kInsertValue).bind(1, "键0").bind(2, 9).execute(),
                 Poco::Data::DataException);
    EXPECT_EQ(hub::store::PreparedStatement(session, kInsertValue).bind(1, "键9").bind(2, 9).execute(), 1);
    hub::store::PreparedStatement select(session, kSelectValue);
    EXPECT_FALSE(select.bind(1, "没有").next());
}

// A session that is not the pool's gets a statement of its own, finalized after use.
TEST(Database, APreparedStatementOnAPlainSessionIsItsOwn) {
    TempDb tmp;
    Database db({tmp.path});
    db.session() << "CREATE TABLE prepared (k TEXT PRIMARY KEY, v INTEGER)", now;
    Poco::Data::Session plain("SQLite", tmp.path);
    hub::store::PreparedStatement(plain, kInsertValue).bind(1, "a").bind(2, 1).execute();
    EXPECT_EQ(statementsOf(plain, kInsertValue).first, 0);
    hub::store::PreparedStatement select(plain, kSelectValue);
    ASSERT_TRUE(select.bind(1, "a").next());
    EXPECT_EQ(select.integer(0), 1);
}

// Two uses of the same text at once on one session (a loop over a SELECT that
// runs it again inside) do not share the statement.
TEST(Database, NestedUsesOfOneStatementDoNotShareIt) {
    TempDb tmp;
    Database::Options options{tmp.path};
    options.maxSessions = 1;
    Database db(options);
    db.session() << "CREATE TABLE prepared (k TEXT PRIMARY KEY, v INTEGER)", now;
    auto session = db.session();
    for (int n = 0; n < 3; ++n)
        hub::store::PreparedStatement(session, kInsertValue).bind(1, std::to_string(n)).bind(2, n).execute();
    hub::store::PreparedStatement outer(session, kSelectValue);
    ASSERT_TRUE(outer.bind(1, "1").next());
    {
        hub::store::PreparedStatement inner(session, kSelectValue);
        ASSERT_TRUE(inner.bind(1, "2").next());
        EXPECT_EQ(inner.integer(0), 2);
    }
    EXPECT_EQ(outer.integer(0), 1) << "the inner use reset the outer one's statement";
    EXPECT_FALSE(outer.next());
}

// Work that reads before it writes, while another connection commits: in a
// deferred transaction (Poco's begin()) the write fails at once with "locked";
// in a WriteTransaction the other writer waits for it, and both land.
TEST(Database, AWriteTransactionThatReadsFirstIsNotOvertakenByAnotherWriter) {
    TempDb tmp;
    Database db({tmp.path});
    db.migrate("t", {{1, {"CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT)"}}});
    Poco::Data::Session mine = db.session();
    Poco::Data::Session other = db.session();
    int count = 0;

    mine.begin();
    mine << "SELECT count(*) FROM t", into(count), now;
    other << "INSERT INTO t(note) VALUES('other, first')", now;
    EXPECT_THROW((mine << "INSERT INTO t(note) VALUES('mine, deferred')", now), Poco::Exception)
        << "a deferred transaction that has read cannot write after another commit";
    mine.rollback();

    {
        WriteTransaction tx(mine);
        EXPECT_TRUE(mine.isTransaction());
        mine << "SELECT count(*) FROM t", into(count), now;
        auto writer = std::async(std::launch::async,
                                 [&] { other << "INSERT INTO t(note) VALUES('other, second')", now; });
        // The other writer waits for our lock (the busy timeout), it does not land in between.
        EXPECT_EQ(writer.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
        mine << "INSERT INTO t(note) VALUES('mine')", now;
        tx.commit();
        EXPECT_FALSE(mine.isTransaction());
        writer.get();
    }
    std::vector<std::string> notes;
    mine << "SELECT note FROM t ORDER BY id", into(notes), now;
    EXPECT_EQ(notes, (std::vector<std::string>{"other, first", "mine", "other, second"}));

    // Destroyed uncommitted: rolled back, and the lock is free again.
    {
        WriteTransaction tx(mine);
        mine << "INSERT INTO t(note) VALUES('never')", now;
    }
    EXPECT_FALSE(mine.isTransaction());
    other << "INSERT INTO t(note) VALUES('after')", now;
    mine << "SELECT count(*) FROM t", into(count), now;
    EXPECT_EQ(count, 4);
}
