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
