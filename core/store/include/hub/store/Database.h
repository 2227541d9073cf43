#pragma once

#include <Poco/Data/Session.h>

#include <memory>
#include <string>
#include <vector>

namespace Poco::Data {
class SessionPool;
}

namespace hub::store {

/// One step of a module's schema. Versions start at 1 and only ever grow; a step
/// that has been released is never edited, a change is a new step.
struct Migration {
    int version;
    std::vector<std::string> statements;
};

/// The hub's database: a pool of Poco::Data sessions on one SQLite file (WAL),
/// plus per-module versioned schema migrations.
///
/// Each module (audit, events, identity, ...) owns its tables and registers its
/// own migration list; the current version of each module is kept in the table
/// schema_version, so modules evolve independently and a restart applies only
/// what is new. Thread-safe: every caller takes its own session.
class Database {
public:
    struct Options {
        std::string path;              ///< SQLite file; its folder is created if missing.
        std::size_t maxSessions = 32;  ///< Pool ceiling; callers wait beyond it.
        int busyTimeoutSeconds = 10;   ///< How long a writer waits for the write lock.
    };

    explicit Database(const Options& options);
    ~Database();

    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    /// A session from the pool; returned to the pool when the last copy dies.
    Poco::Data::Session session();

    /// Applies, in one transaction each, every step of `migrations` newer than the
    /// module's stored version. A failing step rolls back and throws with the
    /// module, version and SQLite's message; earlier steps stay applied.
    void migrate(const std::string& module, const std::vector<Migration>& migrations);

    /// The module's applied version, 0 if none.
    int schemaVersion(const std::string& module);

    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::unique_ptr<Poco::Data::SessionPool> pool_;
    std::size_t busyTimeoutSeconds_ = 10;
};

}  // namespace hub::store
