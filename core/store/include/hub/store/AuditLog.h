#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace hub::store {

class Database;

/// One operation call through the hub: who, what, when, outcome, duration.
struct AuditRecord {
    std::string at;          ///< UTC, ISO 8601 with milliseconds; filled by record() when empty.
    std::string subject;     ///< The authenticated caller ("" when none).
    std::string actingFor;   ///< Set when a service token acted for a user.
    std::string system;
    std::string operation;
    std::string outcome;     ///< "ok" or the error status name, e.g. "timeout".
    int httpStatus = 0;
    std::int64_t durationUs = 0;
    std::string requestId;        ///< The hub's own id for the request.
    std::string clientRequestId;  ///< The client's X-Request-Id, if it sent one ("" otherwise).
    std::string person;           ///< Whose personal data the call read or changed ("" when none or the caller's own).
};

/// The audit trail. record() only queues (no I/O on the request path); a
/// background thread writes the queue in one transaction at most every
/// commitInterval, sooner when batchRecords are waiting (group commit: one disk
/// sync per interval instead of one per call, and the writer is woken once per
/// batch, not per record). A transaction holds at most batchRecords rows, so
/// under load the writer runs in short bursts (about 0.6 ms of CPU) and holds
/// the database's write lock as briefly: 4096-row batches took a CPU from an
/// event loop for 5 ms at a time, and the plugin calls' p99 rose by a quarter.
/// Records still queued are written when the log is destroyed; flush() writes
/// at once.
///
/// When the store cannot take a batch for a reason of its own (full,
/// read-only, busy, failing: a StoreFault, reported to Database::recordFailure)
/// the batch goes back to the head of the queue and the writer tries again
/// with backoff (from 100 ms up to 5 s), so a fault loses nothing until the
/// queue is full; records refused meanwhile are dropped and counted. A batch
/// refused for any other reason (a constraint) is rolled back whole and
/// dropped. Drops and faults are logged (hub.audit) at most once per
/// reportInterval, not per record or batch. At destruction, records the store
/// still refuses are dropped (counted) rather than held forever. Nothing a
/// batch throws ends the writer thread.
class AuditLog {
public:
    static constexpr std::size_t batchRecords = 256;
    static constexpr std::chrono::seconds reportInterval{10};

    explicit AuditLog(Database& db, std::size_t maxQueued = 100000,
                      std::chrono::milliseconds commitInterval = std::chrono::milliseconds(50));
    ~AuditLog();

    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    /// Queues a record; drops it (counted in dropped()) when the queue is full.
    void record(AuditRecord record);

    /// Blocks until everything queued so far is written, and returns true; or
    /// until an attempt to write fails because the store is unavailable, and
    /// returns false (the records stay queued and are retried).
    bool flush();

    std::uint64_t written() const;
    std::uint64_t dropped() const;  ///< refused with the queue full, or lost with a failed batch
    std::size_t queued() const;     ///< waiting for the writer

    /// `at` as record() fills it: UTC, ISO 8601 with microseconds and a Z,
    /// e.g. 2026-11-28T08:00:00.123456Z.
    static std::string formatTime(std::chrono::system_clock::time_point at);

private:
    void run();
    bool writeOneBatch();
    void reportLocked(std::chrono::steady_clock::time_point now, bool final);

    Database& db_;
    std::size_t maxQueued_;
    std::chrono::milliseconds commitInterval_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    std::deque<AuditRecord> queue_;
    bool writing_ = false;
    bool stopping_ = false;
    int flushWaiters_ = 0;
    std::uint64_t written_ = 0;
    std::uint64_t dropped_ = 0;
    std::size_t inFlight_ = 0;                      // records the writer has taken out of queue_
    std::chrono::milliseconds retryDelay_{0};       // > 0 while the store refuses batches
    std::uint64_t storeRefusals_ = 0;               // batches the store refused (flush() watches it)
    std::string fault_;                             // the store's refusal, while retrying
    std::chrono::steady_clock::time_point faultSince_;
    bool faultLogged_ = false;                      // the refusal was logged: log the recovery too
    std::uint64_t queueFullDrops_ = 0;              // of dropped_, refused by record()
    std::string dropReason_;                        // why the writer last dropped a batch
    std::uint64_t droppedReported_ = 0;
    std::uint64_t queueFullReported_ = 0;
    std::chrono::steady_clock::time_point lastDropReport_{};
    std::chrono::steady_clock::time_point lastFaultReport_{};
    std::thread writer_;
};

}  // namespace hub::store
