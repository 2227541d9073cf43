#include "hub/store/Database.h"

#include <sqlite3.h>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SessionPool.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>

#include <algorithm>
#include <mutex>

using namespace Poco::Data::Keywords;

namespace hub::store {

namespace {
std::once_flag connectorOnce;
}

Database::Database(const Options& options) : path_(options.path) {
    std::call_once(connectorOnce, [] {
        // Before SQLite initialises (it refuses later, harmlessly): no global
        // memory statistics, which cost a process-wide mutex on every one of
        // SQLite's allocations (about a dozen per audit row). Nothing here reads them.
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        Poco::Data::SQLite::Connector::registerConnector();
    });
    Poco::Path parent = Poco::Path(path_).makeAbsolute().parent();
    Poco::File(parent).createDirectories();

    pool_ = std::make_unique<Poco::Data::SessionPool>("SQLite", path_, 1,
                                                      static_cast<int>(options.maxSessions), 60);
    busyTimeoutSeconds_ = static_cast<std::size_t>(options.busyTimeoutSeconds);
    Poco::Data::Session s = session();
    // WAL lets readers run beside the one writer; it is a property of the file, so
    // once is enough. synchronous stays FULL (the default): a commit is durable.
    std::string mode;
    s << "PRAGMA journal_mode=WAL", into(mode), now;
    s << "CREATE TABLE IF NOT EXISTS schema_version ("
         " module TEXT PRIMARY KEY,"
         " version INTEGER NOT NULL,"
         " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))",
        now;
}

Database::~Database() = default;

Poco::Data::Session Database::session() {
    Poco::Data::Session s = pool_->get();
    // SQLite's busy timeout: concurrent writers wait for the lock instead of
    // failing with SQLITE_BUSY. A plain setter on the handle, no I/O.
    s.setConnectionTimeout(busyTimeoutSeconds_);
    return s;
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
    for (const Migration* m : ordered) {
        // Re-read under the write transaction so two hubs starting together on one
        // file apply each step once.
        s.begin();
        try {
            int current = 0;
            std::string name = module;
            s << "SELECT version FROM schema_version WHERE module = ?", use(name), into(current),
                now;
            if (m->version <= current) {
                s.rollback();
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
            s.commit();
        } catch (const Poco::Exception& e) {
            if (s.isTransaction()) s.rollback();
            throw Poco::DataException("schema migration " + module + " v" +
                                      std::to_string(m->version) + " failed: " + e.displayText());
        }
    }
}

}  // namespace hub::store
