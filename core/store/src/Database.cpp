#include "hub/store/Database.h"

#include "ConnectionPool.h"
#include "FaultMonitor.h"

#include <sqlite3.h>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

using namespace Poco::Data::Keywords;

namespace hub::store {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("hub.store"); }

std::string describe(const std::exception& e) {
    if (auto* poco = dynamic_cast<const Poco::Exception*>(&e)) return poco->displayText();
    return e.what();
}

// Creates what is missing of the store's folder (0700) and file (0600) with
// these modes whatever the umask: the store holds personal data, and SQLite
// would create the file 0644 & ~umask (and its -wal and -shm alike).
void createPrivately(const std::filesystem::path& file) {
    namespace fs = std::filesystem;
    std::vector<fs::path> missing;
    for (fs::path p = file.parent_path(); !p.empty() && !fs::exists(p); p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.root_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        if (::mkdir(it->c_str(), 0700) != 0) {
            if (errno == EEXIST) continue;
            throw Poco::CreateFileException("cannot create the store's folder " + it->string() + ": " +
                                            std::strerror(errno));
        }
        ::chmod(it->c_str(), 0700);
    }
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        // An empty file is an empty SQLite database; fchmod undoes a umask
        // stricter than 0600's complement.
        ::fchmod(fd, 0600);
        ::close(fd);
    } else if (errno != EEXIST) {
        const int error = errno;
        const std::string message = "cannot create the database " + file.string() + ": " + std::strerror(error);
        if (error == EROFS || error == EACCES || error == EPERM) throw StoreUnavailable(StoreFault::ReadOnly, message);
        if (error == ENOSPC || error == EDQUOT) throw StoreUnavailable(StoreFault::Full, message);
        throw StoreUnavailable(StoreFault::Io, message);
    }
}

std::once_flag sqliteOnce;

// Every open Database's monitor, for SQLite's error log.
std::mutex registryMutex;
std::vector<detail::FaultMonitor*>& registry() {
    static std::vector<detail::FaultMonitor*> monitors;
    return monitors;
}

// SQLite's global error log sees every failure of every connection, whichever
// module's statement hit it (the relay, the identity sync, a plugin's kv call):
// one that may mean the store stopped writing makes the stores probe now. The
// probe decides; nothing here changes their state. Called with SQLite's
// connection mutex held: no SQLite calls here.
void onSqliteLog(void*, int code, const char*) {
    auto fault = classifySqliteCode(code);
    if (!fault || *fault == StoreFault::Busy) return;
    std::lock_guard lock(registryMutex);
    for (auto* monitor : registry()) monitor->suspect();
}

}  // namespace

Database::Database(const Options& options) : path_(options.path) {
    std::call_once(sqliteOnce, [] {
        // Before SQLite initialises (it refuses later, harmlessly): no global
        // memory statistics, which cost a process-wide mutex on every one of
        // SQLite's allocations (about a dozen per audit row). Nothing here reads them.
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        if (sqlite3_config(SQLITE_CONFIG_LOG, &onSqliteLog, nullptr) != SQLITE_OK)
            logger().warning("SQLite was initialised before the store: its failures reach the store only through "
                             "the callers that report them");
        Poco::Data::SQLite::Connector::registerConnector();
    });
    createPrivately(std::filesystem::absolute(path_));

    monitor_ = std::make_unique<detail::FaultMonitor>(path_, options);
    pool_ = std::make_shared<detail::ConnectionPool>(path_, options, *monitor_);
    {
        Poco::Data::Session s = session();
        // WAL lets readers run beside the one writer; it is a property of the file, so
        // once is enough. synchronous stays FULL (the default): a commit is durable.
        std::string mode;
        s << "PRAGMA journal_mode=WAL", into(mode), now;
        int tables = 0;
        s << "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", into(tables), now;
        if (tables == 0) {
            s << "CREATE TABLE IF NOT EXISTS schema_version ("
                 " module TEXT PRIMARY KEY,"
                 " version INTEGER NOT NULL,"
                 " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))",
                now;
        }
    }
    monitor_->start(pool_);
    std::lock_guard lock(registryMutex);
    registry().push_back(monitor_.get());
}

Database::~Database() {
    {
        std::lock_guard lock(registryMutex);
        auto& monitors = registry();
        monitors.erase(std::remove(monitors.begin(), monitors.end(), monitor_.get()), monitors.end());
    }
    monitor_->stop();
    pool_->detach();
}

Poco::Data::Session Database::session() {
    return pool_->acquire();
}

bool Database::renew(Poco::Data::Session& session) {
    auto* lease = dynamic_cast<detail::Lease*>(session.impl());
    if (lease == nullptr || lease->current()) return false;
    session.close();  // back first: the pool may be waiting for it to finish a reopen
    session = pool_->acquire();
    return true;
}

bool Database::writable() const noexcept {
    return monitor_->writable();
}

Database::Health Database::health() const {
    return monitor_->health();
}

std::optional<StoreFault> Database::recordFailure(const std::exception& error) {
    auto fault = classifyStoreFailure(error);
    if (!fault) return std::nullopt;
    monitor_->count(*fault);
    monitor_->degrade(*fault, describe(error));
    return fault;
}

int Database::schemaVersion(const std::string& module) {
    Poco::Data::Session s = session();
    int version = 0;
    std::string name = module;
    s << "SELECT version FROM schema_version WHERE module = ?", use(name), into(version), now;
    return version;
}

void Database::migrate(const std::string& module, const std::vector<Migration>& migrations) {
    std::vector<const Migration*> ordered;
    ordered.reserve(migrations.size());
    for (const auto& m : migrations) ordered.push_back(&m);
    std::sort(ordered.begin(), ordered.end(),
              [](const Migration* a, const Migration* b) { return a->version < b->version; });

    Poco::Data::Session s = session();
    sqlite3* handle = Poco::Data::SQLite::Utility::dbHandle(s);
    std::string name = module;
    int stored = 0;
    s << "SELECT version FROM schema_version WHERE module = ?", use(name), into(stored), now;
    for (const Migration* m : ordered) {
        if (m->version <= stored) continue;  // nothing written: a read-only store with its schema still opens
        try {
            // IMMEDIATE takes the write lock before the version is read again, so
            // two hubs starting together on one file apply each step once (a
            // deferred transaction reads first and cannot become the writer once
            // the other hub has committed).
            s << "BEGIN IMMEDIATE", now;
            int current = 0;
            s << "SELECT version FROM schema_version WHERE module = ?", use(name), into(current), now;
            stored = current;
            if (m->version <= current) {
                s << "ROLLBACK", now;
                continue;
            }
            if (m->version != current + 1)
                throw Poco::DataException("migration gap: at version " + std::to_string(current) +
                                          ", next step is " + std::to_string(m->version));
            for (const auto& sql : m->statements) {
                std::string text = sql;
                s << text, now;
            }
            int version = m->version;
            s << "INSERT INTO schema_version(module, version) VALUES(?, ?) "
                 "ON CONFLICT(module) DO UPDATE SET version = excluded.version, "
                 "applied_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
                use(name), use(version), now;
            s << "COMMIT", now;
            stored = version;
        } catch (const Poco::Exception& e) {
            detail::rollbackOpenTransaction(handle);
            const std::string message =
                "schema migration " + module + " v" + std::to_string(m->version) + " failed: " + e.displayText();
            if (auto fault = classifyStoreFailure(e)) throw StoreUnavailable(*fault, message);
            throw Poco::DataException(message);
        }
    }
}

}  // namespace hub::store
