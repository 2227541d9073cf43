// The store on a real file system that fills or is read-only: a tmpfs this
// test mounts (in a mount namespace of its own, see hub/test/TmpfsMount.h).
#include "hub/store/AuditLog.h"
#include "hub/store/Database.h"
#include "hub/store/StoreError.h"
#include "hub/test/Eventually.h"
#include "hub/test/TmpfsMount.h"

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Data/Session.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

using namespace Poco::Data::Keywords;
using hub::store::AuditLog;
using hub::store::AuditRecord;
using hub::store::Database;
using hub::store::StoreFault;
using hub::test::TmpfsMount;

namespace {

#define SKIP_WITHOUT_MOUNTS()                                                  \
    if (auto why = TmpfsMount::unavailable(); !why.empty()) GTEST_SKIP() << why

// Polls `condition` until it holds or 30 s pass.
template <class Condition>
bool eventually(Condition condition) {
    return hub::test::waitUntil(condition, std::chrono::seconds(30), std::chrono::milliseconds(20));
}

Database::Options fastProbes(const std::string& path) {
    Database::Options options{path};
    options.probeInterval = std::chrono::milliseconds(20);
    options.maxProbeInterval = std::chrono::milliseconds(200);
    return options;
}

int count(Database& db, const std::string& table) {
    int n = -1;
    db.session() << "SELECT count(*) FROM " + table, into(n), now;
    return n;
}

// Inserts 64 KiB rows, one transaction each, until the store refuses one.
// Returns the rows committed; `where` says whether the refusal came from the
// INSERT (a page spilled to the WAL mid-transaction) or from COMMIT.
int fillTable(Database& db, std::optional<StoreFault>& fault, std::string& where, bool smallCache) {
    auto s = db.session();
    if (smallCache) s << "PRAGMA cache_size = 2", now;
    const std::string blob(64 * 1024, 'b');
    for (int committed = 0; committed < 10000; ++committed) {
        s.begin();
        try {
            std::string value = blob;
            s << "INSERT INTO blobs(data) VALUES(?)", use(value), now;
        } catch (const std::exception& e) {
            where = "insert";
            fault = db.recordFailure(e);
            try {
                s.rollback();
            } catch (const std::exception&) {
                // SQLite rolled back the whole transaction on SQLITE_FULL already.
            }
            return committed;
        }
        try {
            s.commit();
        } catch (const std::exception& e) {
            where = "commit";
            fault = db.recordFailure(e);
            return committed;
        }
    }
    return -1;
}

// A disk that fills: the failure is classified (full), counted, the store says
// it cannot write, every commit that succeeded is there and the failed one is
// not; once space is freed the store writes again by itself.
void fullDiskIsOutlived(bool smallCache, const char* expectedWhere) {
    TmpfsMount disk(8 << 20);
    Database db(fastProbes(disk.file("hub.db")));
    db.migrate("test", {{1, {"CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL)"}}});
    ASSERT_TRUE(db.writable());
    disk.fill("filler");

    std::optional<StoreFault> fault;
    std::string where;
    const int committed = fillTable(db, fault, where, smallCache);
    ASSERT_GE(committed, 0) << "the store never refused";
    EXPECT_EQ(fault, StoreFault::Full);
    EXPECT_EQ(where, expectedWhere);
    EXPECT_FALSE(db.writable());
    auto health = db.health();
    EXPECT_EQ(health.fault, StoreFault::Full);
    EXPECT_EQ(health.failures[static_cast<std::size_t>(StoreFault::Full)], 1u);
    EXPECT_EQ(count(db, "blobs"), committed);  // reads still work; the refused row is not there

    // Still full: the probes (every 20-200 ms) do not call it writable.
    EXPECT_FALSE(hub::test::waitUntil([&] { return db.writable(); }, std::chrono::milliseconds(300)));

    std::filesystem::remove(disk.file("filler"));
    ASSERT_TRUE(eventually([&] { return db.writable(); })) << "the store did not recover: " << db.health().detail;
    {
        auto s = db.session();
        s.begin();
        s << "INSERT INTO blobs(data) VALUES('after')", now;
        s.commit();
    }
    EXPECT_EQ(count(db, "blobs"), committed + 1);
}

}  // namespace

TEST(StoreFault, AFullDiskAtCommitLosesOnlyTheRefusedTransaction) {
    SKIP_WITHOUT_MOUNTS();
    // A small transaction's pages stay in the cache until COMMIT writes them.
    fullDiskIsOutlived(false, "commit");
}

TEST(StoreFault, AFullDiskBeforeCommitLosesOnlyTheRefusedTransaction) {
    SKIP_WITHOUT_MOUNTS();
    // With a tiny cache the INSERT spills pages to the WAL and fails itself.
    fullDiskIsOutlived(true, "insert");
}

// A store read-only at start: opened (reads work), says it cannot write, and
// once the file system is writable again it reopens its sessions and writes,
// without a restart. (SQLite had opened the file read-only, and every pooled
// connection stayed read-only for good.)
TEST(StoreFault, AStoreReadOnlyAtStartRecoversWhenItCanWrite) {
    SKIP_WITHOUT_MOUNTS();
    TmpfsMount disk(8 << 20);
    const std::string path = disk.file("var/hub.db");
    {
        Database db({path});
        db.migrate("test", {{1, {"CREATE TABLE t (x TEXT)"}}});
    }
    // The last writer leaves its -wal and -shm behind, as a hub does that was
    // killed or whose disk turned read-only under it: SQLite can then open the
    // file read-only (without them it cannot open a WAL database at all).
    sqlite3* last = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &last), SQLITE_OK);
    int persist = 1;
    sqlite3_file_control(last, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    ASSERT_EQ(sqlite3_exec(last, "INSERT INTO t VALUES('before')", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(last);
    disk.remountReadOnly();

    Database db(fastProbes(path));
    db.migrate("test", {{1, {"CREATE TABLE t (x TEXT)"}}});  // nothing new: no write needed
    EXPECT_FALSE(db.writable());
    EXPECT_EQ(db.health().fault, StoreFault::ReadOnly);
    EXPECT_EQ(count(db, "t"), 1);
    try {
        db.session() << "INSERT INTO t VALUES('refused')", now;
        FAIL() << "a write on a read-only store succeeded";
    } catch (const std::exception& e) {
        EXPECT_EQ(db.recordFailure(e), StoreFault::ReadOnly);
    }
    // Still read-only: no recovery claimed.
    EXPECT_FALSE(hub::test::waitUntil([&] { return db.writable(); }, std::chrono::milliseconds(300)));

    // A session kept across transactions (as the relay's threads keep theirs)
    // is given back between them through renew(), so the reopen can finish.
    auto kept = db.session();
    int renewed = 0;
    disk.remountReadWrite();
    ASSERT_TRUE(eventually([&] {
        renewed += db.renew(kept);
        return db.writable();
    })) << "the store did not recover: " << db.health().detail;
    EXPECT_EQ(renewed + db.renew(kept), 1);
    kept << "INSERT INTO t VALUES('after')", now;  // the renewed session writes
    std::vector<std::string> rows;
    db.session() << "SELECT x FROM t ORDER BY rowid", into(rows), now;
    EXPECT_EQ(rows, (std::vector<std::string>{"before", "after"}));
    EXPECT_EQ(db.health().failures[static_cast<std::size_t>(StoreFault::ReadOnly)], 1u);
    EXPECT_EQ(db.health().reopens, 1u);
}

namespace {

// Collects what is logged, for counting lines.
class Collector : public Poco::Channel {
public:
    void log(const Poco::Message& message) override {
        std::lock_guard lock(mutex_);
        lines_.push_back(message.getText());
    }
    std::size_t countContaining(const std::string& text) {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& line : lines_) n += line.find(text) != std::string::npos;
        return n;
    }

private:
    std::mutex mutex_;
    std::vector<std::string> lines_;
};

AuditRecord bulky(int i) {
    AuditRecord r;
    r.subject = "2023010001";
    r.system = "student_affairs";
    r.operation = "get_student";
    r.outcome = "ok";
    r.httpStatus = 200;
    r.requestId = "r" + std::to_string(i) + std::string(400, '.');  // rows that need space
    return r;
}

}  // namespace

// The audit writer holds what the full store refuses and writes it once there
// is space again: nothing recorded is lost, nothing is counted as dropped.
TEST(StoreFault, TheAuditLogHoldsRecordsWhileTheDiskIsFull) {
    SKIP_WITHOUT_MOUNTS();
    TmpfsMount disk(8 << 20);
    Database db(fastProbes(disk.file("hub.db")));
    AuditLog audit(db, 100000, std::chrono::milliseconds(5));
    audit.record(bulky(0));
    ASSERT_TRUE(audit.flush());
    disk.fill("filler");

    const int total = 5000;
    for (int i = 1; i < total; ++i) audit.record(bulky(i));
    // Some batches may still fit in the WAL's own space; the rest is refused.
    ASSERT_TRUE(eventually([&] { return !audit.flush(); })) << "the full store never refused a batch";
    EXPECT_FALSE(db.writable());
    EXPECT_EQ(audit.dropped(), 0u);
    EXPECT_GT(audit.queued(), 0u);

    std::filesystem::remove(disk.file("filler"));
    ASSERT_TRUE(eventually([&] { return audit.flush(); })) << "the held records were never written";
    EXPECT_EQ(audit.written(), static_cast<std::uint64_t>(total));
    EXPECT_EQ(audit.dropped(), 0u);
    EXPECT_EQ(count(db, "audit_calls"), total);
    EXPECT_GE(db.health().failures[static_cast<std::size_t>(StoreFault::Full)], 1u);
}

// With the queue full during a fault, records are dropped and counted, and the
// log says so once per interval, not once per record.
TEST(StoreFault, AuditDropsDuringAFaultAreCountedAndLoggedOncePerInterval) {
    SKIP_WITHOUT_MOUNTS();
    TmpfsMount disk(8 << 20);
    Poco::AutoPtr<Collector> collector(new Collector);
    auto& logger = Poco::Logger::get("hub.audit");
    Poco::AutoPtr<Poco::Channel> previous(logger.getChannel(), true);
    logger.setChannel(collector);
    {
        Database db(fastProbes(disk.file("hub.db")));
        AuditLog audit(db, 300, std::chrono::milliseconds(5));
        disk.fill("filler");
        const int total = 5000;
        for (int i = 0; i < total; ++i) audit.record(bulky(i));
        ASSERT_TRUE(eventually([&] { return !audit.flush(); }));
        EXPECT_GT(audit.dropped(), 1000u);

        std::filesystem::remove(disk.file("filler"));
        ASSERT_TRUE(eventually([&] { return audit.flush(); }));
        EXPECT_EQ(audit.written() + audit.dropped(), static_cast<std::uint64_t>(total));
        EXPECT_EQ(static_cast<std::uint64_t>(count(db, "audit_calls")), audit.written());
        // Thousands dropped within an interval or two: a line or two about it,
        // and one about the refusal.
        EXPECT_GE(collector->countContaining("audit record(s) lost"), 1u);
        EXPECT_LE(collector->countContaining("audit record(s) lost"), 3u);
        EXPECT_EQ(collector->countContaining("the store refuses audit records"), 1u);
    }
    logger.setChannel(previous);
}

// Stopping while the store still refuses: the log ends instead of holding its
// records forever, and says how many it lost.
TEST(StoreFault, AnAuditLogStoppedDuringAFaultDropsWhatIsLeftAndSaysSo) {
    SKIP_WITHOUT_MOUNTS();
    TmpfsMount disk(8 << 20);
    Poco::AutoPtr<Collector> collector(new Collector);
    auto& logger = Poco::Logger::get("hub.audit");
    Poco::AutoPtr<Poco::Channel> previous(logger.getChannel(), true);
    logger.setChannel(collector);
    {
        Database db(fastProbes(disk.file("hub.db")));
        auto audit = std::make_unique<AuditLog>(db, 100000, std::chrono::milliseconds(5));
        disk.fill("filler");
        for (int i = 0; i < 2000; ++i) audit->record(bulky(i));
        ASSERT_TRUE(eventually([&] { return !audit->flush(); }));
        const auto written = audit->written();
        audit.reset();  // returns: the records the store refuses are dropped
        std::filesystem::remove(disk.file("filler"));
        EXPECT_EQ(count(db, "audit_calls"), static_cast<int>(written));
    }
    logger.setChannel(previous);
    EXPECT_EQ(collector->countContaining("at shutdown"), 1u);
}
