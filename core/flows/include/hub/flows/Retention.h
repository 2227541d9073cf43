#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
}
namespace hub::store {
class AuditLog;
class Database;
struct Migration;
}  // namespace hub::store

namespace hub::store {
class Lease;
}

namespace hub::flows {

/// How long each kind of data is kept (privacy.retention in hub.xml, in days;
/// 0 keeps it for ever). See docs/privacy.md.
struct RetentionPolicy {
    int applicationsDays = 1825;    ///< Finished applications (rejected, completed, cancelled), from their last change.
    int auditDays = 1095;           ///< Audit rows.
    int eventsDays = 30;            ///< Outbox events every consumer has settled, and the inbound event ids.
    int departedPersonsDays = 365;  ///< Persons gone from the directory, from their departure.
    int deadLettersDays = 90;       ///< Events that could not be delivered.
    int batchRows = 500;            ///< Rows deleted per transaction.
    int intervalHours = 24;         ///< How often hubd runs it (0: only on demand).

    /// Reads privacy.retention.*; throws Poco::InvalidArgumentException naming
    /// the key for a value out of range (days 0..36500, batchRows 1..100000,
    /// intervalHours 0..8760) or an unknown key.
    static RetentionPolicy fromConfig(const Poco::Util::AbstractConfiguration& config);
};

/// What one run removed, kind by kind.
struct RetentionReport {
    struct Kind {
        std::string name;     ///< applications, audit, events, departedPersons, deadLetters
        int days = 0;         ///< 0: kept for ever, nothing looked at.
        std::string cutoff;   ///< UTC ISO 8601: older than this went; "" when kept for ever.
        std::int64_t deleted = 0;
    };
    std::int64_t id = 0;  ///< Its row in privacy_retention_runs.
    std::string actor;    ///< Who ran it: "hub" (the schedule) or the admin.
    std::string startedAt, finishedAt;
    std::vector<Kind> kinds;
    std::int64_t heldKept = 0;  ///< Expired applications kept by a legal hold.
    std::string toJson() const;
};

/// A legal hold: the application is not deleted, whatever its age, until released.
struct LegalHold {
    std::string applicationId;
    std::string reason;
    std::string heldBy;
    std::string heldAt;
};

/// Deletes what the policy says has expired, in bounded batches (one
/// transaction each, so the store's writers wait at most one batch), and keeps
/// a report of each run (privacy_retention_runs) and an audit row. An
/// application goes with everything stored about it: its transitions,
/// idempotency record, rating, flow instance, tasks, timers, history and
/// incidents. Applications under a legal hold are kept.
class Retention {
public:
    Retention(store::Database& db, RetentionPolicy policy, store::AuditLog* audit = nullptr);
    ~Retention();

    static const std::vector<store::Migration>& migrations();

    /// One run as of asOf (now); the report is stored and returned.
    RetentionReport run(const std::string& actor,
                        std::chrono::system_clock::time_point asOf = std::chrono::system_clock::now());

    /// A scheduled run (every `interval`): with several hubs on one store only
    /// the one holding the lease privacy.retention for that interval runs it
    /// (taken for `interval`, renewed by its holder's next run; a holder that
    /// died is replaced after it); the others skip and get nothing. Not
    /// thread-safe: one schedule thread calls it.
    std::optional<RetentionReport> runScheduled(const std::string& actor, std::chrono::milliseconds interval);

    /// The last reports, newest first.
    std::vector<std::string> reports(std::size_t limit) const;

    /// Holds application id; false when there is no such application.
    bool hold(const std::string& applicationId, const std::string& reason, const std::string& by);
    /// Releases the hold; false when there was none.
    bool release(const std::string& applicationId);
    std::optional<LegalHold> holdOf(const std::string& applicationId) const;

    const RetentionPolicy& policy() const { return policy_; }

private:
    store::Database& db_;
    RetentionPolicy policy_;
    store::AuditLog* audit_;
    std::unique_ptr<store::Lease> scheduleLease_;  // runScheduled()'s, made at its first call
};

}  // namespace hub::flows
