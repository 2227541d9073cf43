#include "FaultMonitor.h"

#include "ConnectionPool.h"

#include <sqlite3.h>

#include <libpq-fe.h>

#include <Poco/Logger.h>

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace hub::store::detail {

namespace {

Poco::Logger& faultLogger() { return Poco::Logger::get("hub.store"); }

// Below this much free space a store that ran full is not called writable
// again, even if a probe's single page still fits (the WAL reuses its own
// space): otherwise /readyz would flap on a disk that is still full.
constexpr unsigned long long kMinFreeBytes = 1024 * 1024;

// One write through a connection of its own (a pooled one may have been
// opened read-only): nullopt when it committed, else the fault and why.
// Busy means another writer held the lock; it proves nothing either way.
std::optional<std::pair<StoreFault, std::string>> probeWrite(const std::string& path, bool needSpace) {
    if (needSpace) {
        struct statvfs fs {};
        const std::string folder = std::filesystem::absolute(path).parent_path().string();
        if (::statvfs(folder.c_str(), &fs) == 0) {
            const unsigned long long available = static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize;
            if (available < kMinFreeBytes)
                return std::make_pair(StoreFault::Full,
                                      "only " + std::to_string(available) + " bytes free on the store's file system");
        }
    }
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, &sqlite3_close_v2);
    auto failure = [&](int code) {
        return std::make_pair(classifySqliteCode(code).value_or(StoreFault::Io),
                              std::string(db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(code)));
    };
    if (rc != SQLITE_OK) return failure(rc);
    if (sqlite3_db_readonly(db.get(), "main") == 1)
        return std::make_pair(StoreFault::ReadOnly, std::string("the database file or its file system is read-only"));
    sqlite3_busy_timeout(db.get(), 1000);
    rc = sqlite3_exec(db.get(),
                      "BEGIN IMMEDIATE;"
                      "CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL);"
                      "INSERT INTO store_probe(id, at) VALUES(1, strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
                      " ON CONFLICT(id) DO UPDATE SET at = excluded.at;"
                      "COMMIT;",
                      nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        auto result = failure(rc);
        rollbackOpenTransaction(db.get());
        return result;
    }
    return std::nullopt;
}

// One write through a fresh connection of its own: nullopt when it committed.
// A pooled connection may be one the server has already closed.
std::optional<std::pair<StoreFault, std::string>> probePostgres(const std::string& conninfo) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> db(PQconnectdb(conninfo.c_str()), &PQfinish);
    if (!db) return std::make_pair(StoreFault::Io, std::string("libpq could not allocate a connection"));
    if (PQstatus(db.get()) != CONNECTION_OK)
        return std::make_pair(StoreFault::Io, "cannot connect to PostgreSQL: " + std::string(PQerrorMessage(db.get())));
    std::unique_ptr<PGresult, decltype(&PQclear)> result(
        PQexec(db.get(), "INSERT INTO store_probe(id, at) VALUES(1, clock_timestamp()::text)"
                         " ON CONFLICT(id) DO UPDATE SET at = excluded.at"),
        &PQclear);
    if (PQresultStatus(result.get()) == PGRES_COMMAND_OK) return std::nullopt;
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    auto fault = PQstatus(db.get()) != CONNECTION_OK ? std::optional<StoreFault>(StoreFault::Io)
                                                      : classifyPostgresState(state);
    return std::make_pair(fault.value_or(StoreFault::Io),
                          "the probe write failed: " + std::string(PQresultErrorMessage(result.get())));
}

}  // namespace

std::optional<std::pair<StoreFault, std::string>> FaultMonitor::probe(bool needSpace) const {
    if (target_.backend == Database::Backend::PostgreSql) return probePostgres(target_.conninfo);
    return probeWrite(target_.path, needSpace);
}

void FaultMonitor::start(std::shared_ptr<ConnectionPool> pool) {
    pool_ = std::move(pool);
    if (auto failure = probe(false); failure && failure->first != StoreFault::Busy)
        degrade(failure->first, failure->second);
    thread_ = std::thread([this] { run(); });
}

void FaultMonitor::degrade(StoreFault fault, const std::string& detail) {
    if (fault == StoreFault::Busy) return;  // contention, not a store that cannot write
    std::lock_guard lock(mutex_);
    if (!writable_.load(std::memory_order_relaxed)) return;
    writable_.store(false, std::memory_order_relaxed);
    fault_ = fault;
    detail_ = detail;
    since_ = std::chrono::system_clock::now();
    sinceSteady_ = std::chrono::steady_clock::now();
    faultLogger().error("store %s cannot write (%s): %s; probing until a write commits", path_,
                   std::string(toString(fault)), detail);
    wake_.notify_all();
}

void FaultMonitor::run() {
    std::unique_lock lock(mutex_);
    std::chrono::milliseconds interval = options_.probeInterval;
    while (!stopping_) {
        if (writable_.load(std::memory_order_relaxed)) {
            wake_.wait(lock, [this] { return stopping_ || suspected_ || !writable_.load(std::memory_order_relaxed); });
            interval = options_.probeInterval;
            if (stopping_ || !writable_.load(std::memory_order_relaxed)) continue;
            suspected_ = false;
            lock.unlock();
            auto failure = probe(false);
            if (failure && failure->first != StoreFault::Busy) degrade(failure->first, failure->second);
            lock.lock();
            // At most one probe per interval, however often SQLite complains.
            wake_.wait_for(lock, options_.probeInterval, [this] { return stopping_; });
            continue;
        }
        // Cannot write: probe with backoff until a write commits.
        wake_.wait_for(lock, interval, [this] { return stopping_; });
        if (stopping_) break;
        suspected_ = false;
        const StoreFault fault = fault_.value_or(StoreFault::Io);
        lock.unlock();
        auto failure = recover(fault);
        lock.lock();
        if (failure) {
            if (failure->first != StoreFault::Busy) {  // the fault may have changed (a full disk remounted read-only)
                fault_ = failure->first;
                detail_ = failure->second;
            }
            interval = std::min(interval * 2, options_.maxProbeInterval);
            continue;
        }
        if (fault != StoreFault::Full) reopens_.fetch_add(1, std::memory_order_relaxed);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sinceSteady_).count();
        faultLogger().information("store %s writable again after %.1f s (was %s)%s", path_, seconds,
                             std::string(toString(fault)),
                             std::string(fault != StoreFault::Full ? "; sessions reopened" : ""));
        fault_.reset();
        detail_.clear();
        writable_.store(true, std::memory_order_relaxed);
        interval = options_.probeInterval;
    }
}

// One attempt to get out of `fault`: nullopt when a probe write committed on
// fresh connections.
std::optional<std::pair<StoreFault, std::string>> FaultMonitor::recover(StoreFault fault) {
    // A full disk leaves the connections as they were: space is all it needs.
    if (fault == StoreFault::Full) return probe(true);
    if (target_.backend == Database::Backend::PostgreSql) {
        // The server answers first; then the connections opened before the
        // fault (likely cut off all together) are dropped, and new ones open.
        if (auto failure = probe(false)) return failure;
        if (!pool_->drain(std::min(options_.sessionWait, std::chrono::milliseconds(1000)))) {
            pool_->resume();
            return std::make_pair(StoreFault::Busy, std::string("sessions in use did not come back in time"));
        }
        pool_->resume();
        return std::nullopt;
    }
    const std::string& file = target_.path;
    // Read-only or failing: first the file system itself, without SQLite (whose
    // connections share the read-only mapping), then with no connection open.
    const std::string folder = std::filesystem::absolute(file).parent_path().string();
    struct statvfs fs {};
    if (::statvfs(folder.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY) != 0)
        return std::make_pair(StoreFault::ReadOnly, std::string("the store's file system is mounted read-only"));
    if (::access(file.c_str(), W_OK) != 0)
        return std::make_pair(fault, "the database file cannot be written: " + std::string(std::strerror(errno)));
    // New sessions wait while the pool drains: a second at most, so a session
    // held long (a sync's page) costs a short stall per attempt, not a hang.
    if (!pool_->drain(std::min(options_.sessionWait, std::chrono::milliseconds(1000)))) {
        pool_->resume();
        return std::make_pair(StoreFault::Busy, std::string("sessions in use did not come back in time"));
    }
    auto failure = probe(false);
    pool_->resume();
    return failure;
}

}  // namespace hub::store::detail
