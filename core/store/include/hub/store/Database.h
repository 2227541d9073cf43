#pragma once

#include "hub/store/StoreError.h"

#include <Poco/Data/Session.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::store {

/// The SQL a store speaks. Statements are written once with `?` placeholders
/// (sql() turns them into PostgreSQL's $1, $2, ...); where the two differ in
/// more than that (AUTOINCREMENT against identity columns, sqlite_master,
/// strftime), a migration gives each its own statements.
enum class Dialect { Sqlite, PostgreSql };

/// "sqlite" or "postgresql".
const char* toString(Dialect dialect) noexcept;

/// `text` for `dialect`: on PostgreSQL every `?` outside quotes, quoted names
/// and comments becomes $1, $2, ... in order; on SQLite the text as it is.
std::string sql(Dialect dialect, const std::string& text);

/// The dialect of a session the Database handed out (from its connector's name).
Dialect dialectOf(Poco::Data::Session& session);

/// sql(dialectOf(session), text): for code that has only the session.
std::string sql(Poco::Data::Session& session, const std::string& text);

namespace detail {
class ConnectionPool;
class FaultMonitor;

class PrivateFile;  // a libpq passfile (Database.cpp)
}  // namespace detail

/// One step of a module's schema. Versions start at 1 and only ever grow; a step
/// that has been released is never edited, a change is a new step.
struct Migration {
    int version;
    std::vector<std::string> statements;  ///< For every dialect, unless the next list is given.
    /// On PostgreSQL, these instead of `statements` when not empty (the SQL
    /// differs: identity columns, BIGINT, ...). Migration statements are run
    /// as written on both (no placeholders in DDL).
    std::vector<std::string> postgresql = {};
};

/// The hub's database: a pool of Poco::Data sessions on one SQLite file (WAL),
/// or on one PostgreSQL database that several hubs share (issue 17), plus
/// per-module versioned schema migrations.
///
/// PostgreSQL: sessions are Poco::Data's PostgreSQL connector (Poco::Data::Session,
/// as on SQLite); the audit log's batch goes through libpq directly, in
/// pipeline mode (docs/bench/store.md). The password is read from
/// Options::passwordFile when the store opens and is never logged. A lost
/// connection (the server restarted, the network cut) fails the statement
/// that hit it at once, with Poco's PostgreSQL exception, which
/// classifyStoreFailure() calls StoreFault::Io (session() itself throws
/// StoreUnavailable when it cannot connect): the transaction is the server's
/// to roll back, nothing half-written stays. The pool drops the broken
/// connection when it comes back (and an idle one the server has closed
/// before handing it out), the store counts as not writable and probes with a
/// fresh connection (with backoff) until a write commits, then drops every
/// older connection and hands out new ones.
/// Migrations on PostgreSQL run under an advisory lock, so several hubs
/// starting together apply each step once.
///
/// Each module (audit, events, identity, ...) owns its tables and registers its
/// own migration list; the current version of each module is kept in the table
/// schema_version, so modules evolve independently and a restart applies only
/// what is new. Thread-safe: every caller takes its own session.
///
/// Files: a missing folder is created 0700 and a missing database file 0600,
/// whatever the umask (SQLite gives the -wal and -shm files the database
/// file's mode). Existing files and folders keep their modes.
///
/// Faults: the store keeps track of whether it can write. It probes with a
/// small write when it opens, and whenever a write failed for lack of space, a
/// read-only or failing file (recordFailure(), or any SQLite error of that
/// kind in the process); while it cannot write, it probes again with backoff
/// until a probe write commits, and then counts as writable again. A full
/// store also needs 1 MiB free. A read-only or failing one is probed only once
/// its file system is writable again, and on fresh connections: its sessions
/// are closed first, because SQLite opens a file it cannot write read-only, and
/// all connections of a process to one file share its read-only -shm mapping
/// until the last of them closes. Meanwhile session() blocks: the store waits
/// at most a second (or sessionWait, if shorter) for the sessions in use to
/// come back, then probes and hands out sessions again; a caller whose own
/// sessionWait runs out first gets StoreUnavailable (StoreFault::Busy). Nothing
/// is refused in advance: a write is always attempted, and fails or commits on
/// its own.
class Database {
public:
    enum class Backend { Sqlite, PostgreSql };

    struct Options {
        std::string path;              ///< SQLite file; its folder is created if missing.
        std::size_t maxSessions = 32;  ///< Pool ceiling; beyond it session() waits up to sessionWait.
        int busyTimeoutSeconds = 10;   ///< How long a writer waits for the write lock.
        /// How long session() waits for a session when all maxSessions are in
        /// use, before it throws StoreUnavailable (StoreFault::Busy).
        std::chrono::milliseconds sessionWait{10000};
        /// First wait before probing again after a fault; doubles after each
        /// failed probe, up to maxProbeInterval.
        std::chrono::milliseconds probeInterval{250};
        std::chrono::milliseconds maxProbeInterval{5000};
        Backend backend = Backend::Sqlite;
        /// PostgreSQL: a libpq connection string without the password, e.g.
        /// "host=db.campus.edu port=5432 dbname=hub user=hub sslmode=verify-full".
        std::string connection;
        /// PostgreSQL: a file holding the password (its first line). Empty:
        /// libpq's own means (~/.pgpass, PGPASSWORD, a client certificate).
        std::string passwordFile;
        /// How long opening a PostgreSQL connection may take (libpq's
        /// connect_timeout, unless the connection string sets one).
        std::chrono::seconds connectTimeout{2};
        /// This hub's name among the hubs sharing the store (leases, claims,
        /// /admin): `store.nodeId`, else Lease::defaultNodeId() (host name, pid
        /// and a random suffix). It must differ between the hubs of one database.
        std::string nodeId;

        /// Reads `<prefix>.backend` (sqlite | postgresql, default sqlite),
        /// `<prefix>.path`, `<prefix>.maxSessions`, `<prefix>.postgresql.connection`
        /// and `<prefix>.postgresql.passwordFile` and `<prefix>.nodeId`. Throws Poco::InvalidArgumentException
        /// naming the key for an unknown backend, a PostgreSQL backend without a
        /// connection string, or a connection string that holds a password.
        static Options fromConfig(const Poco::Util::AbstractConfiguration& config,
                                  const std::string& prefix = "store");
    };

    /// The store's state for /readyz and /metrics: no I/O, a short lock.
    struct Health {
        bool writable = true;
        std::optional<StoreFault> fault;  ///< Why it cannot write; empty while writable.
        std::string detail;               ///< SQLite's (or the probe's) message for the fault.
        std::chrono::system_clock::time_point since;  ///< When it stopped being writable.
        /// Failures reported through recordFailure(), indexed by StoreFault.
        std::array<std::uint64_t, storeFaultCount> failures{};
        std::uint64_t reopens = 0;  ///< Times the sessions were reopened after a read-only or failing store.
    };

    explicit Database(const Options& options);
    ~Database();

    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    /// A session from the pool; returned to the pool when the last copy dies
    /// (a transaction it left open is rolled back first). When all sessions are
    /// in use, waits up to Options::sessionWait for one, then throws
    /// StoreUnavailable (StoreFault::Busy).
    Poco::Data::Session session();

    /// For a caller that keeps one session across many transactions (the event
    /// relay's threads): replaces `session` with a fresh one if the store has
    /// reopened its sessions since it was taken. Until every session has come
    /// back, a store that was read-only cannot finish reopening (SQLite keeps
    /// the read-only -shm mapping while any connection is open), so call it
    /// between transactions, at least every few seconds. True when it replaced
    /// the session. No lock, no I/O otherwise.
    bool renew(Poco::Data::Session& session);

    /// Applies, in one transaction each, every step of `migrations` newer than the
    /// module's stored version. A failing step rolls back and throws with the
    /// module, version and SQLite's message; earlier steps stay applied. When
    /// nothing is new, nothing is written (a read-only store still opens).
    void migrate(const std::string& module, const std::vector<Migration>& migrations);

    /// The module's applied version, 0 if none.
    int schemaVersion(const std::string& module);

    /// False from a fault (Full, ReadOnly or Io) until a probe write commits.
    /// One atomic load.
    bool writable() const noexcept;

    Health health() const;

    /// Reports that an operation on this store failed with `error`. Returns the
    /// StoreFault it stands for (classifyStoreFailure()), or nullopt when the
    /// failure is not the store's, and then records nothing. Counts it; for
    /// Full, ReadOnly and Io the store becomes not writable and starts probing.
    /// No I/O; callable from any thread.
    std::optional<StoreFault> recordFailure(const std::exception& error);

    const std::string& path() const { return path_; }

    Dialect dialect() const noexcept { return dialect_; }
    /// store::sql(dialect(), text).
    std::string sql(const std::string& text) const { return store::sql(dialect_, text); }

    /// Whether the table exists (sqlite_master on SQLite, the current schema on PostgreSQL).
    bool hasTable(const std::string& name);

    /// Where the store is, for messages: the SQLite path, or the PostgreSQL
    /// connection string (never a password).
    const std::string& location() const { return location_; }

    /// Options::nodeId, or a generated one when it was empty; the same for the
    /// store's life.
    const std::string& nodeId() const { return nodeId_; }

private:
    void openSqlite(const Options& options);
    void openPostgres(const Options& options);
    void migratePostgres(const std::string& module, const std::vector<const Migration*>& ordered);

    std::string path_;
    Dialect dialect_ = Dialect::Sqlite;
    std::string location_;
    std::string nodeId_;
    std::unique_ptr<detail::PrivateFile> passfile_;  // before the pool: it outlives every connect
    std::unique_ptr<detail::FaultMonitor> monitor_;
    std::shared_ptr<detail::ConnectionPool> pool_;
};

}  // namespace hub::store
