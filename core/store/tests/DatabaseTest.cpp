#include "hub/store/Database.h"

#include <Poco/Data/Session.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/TemporaryFile.h>

#include <gtest/gtest.h>

using namespace Poco::Data::Keywords;
using hub::store::Database;
using hub::store::Migration;

namespace {
struct TempDb {
    Poco::TemporaryFile dir;
    std::string path;
    TempDb() {
        dir.createDirectories();
        path = dir.path() + "/hub.db";
    }
};
}  // namespace

TEST(Database, AppliesMigrationsOnceAndInOrder) {
    TempDb tmp;
    std::vector<Migration> steps = {
        {2, {"ALTER TABLE t ADD COLUMN name TEXT"}},
        {1, {"CREATE TABLE t (id INTEGER PRIMARY KEY)"}},
    };
    {
        Database db({tmp.path});
        EXPECT_EQ(db.schemaVersion("m"), 0);
        db.migrate("m", steps);
        EXPECT_EQ(db.schemaVersion("m"), 2);
        auto s = db.session();
        s << "INSERT INTO t(id, name) VALUES(1, '张三')", now;
    }
    // Reopen: nothing re-applied (a second CREATE TABLE would throw), data kept.
    Database db({tmp.path});
    db.migrate("m", steps);
    EXPECT_EQ(db.schemaVersion("m"), 2);
    std::string name;
    auto s = db.session();
    s << "SELECT name FROM t WHERE id = 1", into(name), now;
    EXPECT_EQ(name, "张三");
    std::string mode;
    s << "PRAGMA journal_mode", into(mode), now;
    EXPECT_EQ(mode, "wal");
}

TEST(Database, FailedStepRollsBackAndNamesModule) {
    TempDb tmp;
    Database db({tmp.path});
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
    int tables = -1;
    auto s = db.session();
    s << "SELECT count(*) FROM sqlite_master WHERE name = 'u'", into(tables), now;
    EXPECT_EQ(tables, 0);
}

TEST(Database, RefusesGapInVersions) {
    TempDb tmp;
    Database db({tmp.path});
    EXPECT_THROW(db.migrate("m", {{2, {"CREATE TABLE t (id INTEGER)"}}}), Poco::DataException);
    EXPECT_EQ(db.schemaVersion("m"), 0);
}

TEST(Database, ModulesAreIndependent) {
    TempDb tmp;
    Database db({tmp.path});
    db.migrate("a", {{1, {"CREATE TABLE a1 (x INTEGER)"}}});
    db.migrate("b", {{1, {"CREATE TABLE b1 (x INTEGER)"}}, {2, {"CREATE TABLE b2 (x INTEGER)"}}});
    EXPECT_EQ(db.schemaVersion("a"), 1);
    EXPECT_EQ(db.schemaVersion("b"), 2);
}

#include "hub/store/AuditLog.h"

#include <thread>

TEST(AuditLog, WritesEveryQueuedRecordAndSurvivesRestart) {
    TempDb tmp;
    {
        Database db({tmp.path});
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
    Database db({tmp.path});
    int total = 0, timeouts = 0;
    auto s = db.session();
    s << "SELECT count(*) FROM audit_calls", into(total), now;
    s << "SELECT count(*) FROM audit_calls WHERE outcome = 'timeout' AND http_status = 504", into(timeouts), now;
    EXPECT_EQ(total, 1000);
    EXPECT_EQ(timeouts, 100);
}

TEST(AuditLog, GroupsRecordsIntoOneCommitPerInterval) {
    TempDb tmp;
    Database db({tmp.path});
    {
        hub::store::AuditLog audit(db, 100000, std::chrono::seconds(30));
        for (int i = 0; i < 10; ++i) {
            hub::store::AuditRecord r;
            r.system = "student_affairs";
            r.requestId = "r" + std::to_string(i);
            audit.record(r);
        }
        // Inside the interval nothing is written yet...
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
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

TEST(AuditLog, StoresEveryFieldAsGiven) {
    TempDb tmp;
    Database db({tmp.path});
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
TEST(AuditLog, AFailedBatchIsRolledBackWhole) {
    TempDb tmp;
    Database db({tmp.path});
    hub::store::AuditLog audit(db, 100000, std::chrono::seconds(30));
    auto record = [&](const std::string& id) {
        hub::store::AuditRecord r;
        r.requestId = id;
        audit.record(r);
    };
    record("before");
    audit.flush();
    auto s = db.session();
    s << "CREATE TRIGGER refuse BEFORE INSERT ON audit_calls WHEN NEW.request_id = 'bad'"
         " BEGIN SELECT RAISE(ABORT, 'refused'); END",
        now;
    for (const char* id : {"a", "bad", "c"}) record(id);
    audit.flush();
    EXPECT_EQ(audit.written(), 1u);
    EXPECT_EQ(audit.dropped(), 3u);
    s << "DROP TRIGGER refuse", now;
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
TEST(AuditLog, AWriteHoldsAtMostBatchRecordsRows) {
    TempDb tmp;
    Database db({tmp.path});
    auto s = db.session();
    hub::store::AuditLog audit(db, 100000, std::chrono::seconds(30));
    s << "CREATE TRIGGER refuse BEFORE INSERT ON audit_calls WHEN NEW.request_id = 'r300'"
         " BEGIN SELECT RAISE(ABORT, 'refused'); END",
        now;
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
