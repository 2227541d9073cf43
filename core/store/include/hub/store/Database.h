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

namespace hub::store {

namespace detail {
class ConnectionPool;
class FaultMonitor;
}  // namespace detail

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

private:
    std::string path_;
    std::unique_ptr<detail::FaultMonitor> monitor_;
    std::shared_ptr<detail::ConnectionPool> pool_;
};

}  // namespace hub::store
