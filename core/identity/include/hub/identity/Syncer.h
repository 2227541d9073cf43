#pragma once

#include "hub/identity/Mapping.h"
#include "hub/identity/Person.h"
#include "hub/ldap/ConnectionOptions.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
}
namespace hub::store {
class Database;
class LeaseKeeper;
}

namespace hub::identity {

class IdentityStore;
struct SyncRun;
struct Departures;

/// Where and how to sync identities from.
struct SyncOptions {
    ldap::ConnectionOptions ldap;
    std::string base;                              ///< Search base for persons, units and groups.
    std::string personClass = "inetOrgPerson";
    std::string orgClass = "organizationalUnit";
    std::vector<std::string> groupClasses = {"groupOfNames", "groupOfUniqueNames", "posixGroup"};
    std::string personFilter;                      ///< Optional extra filter ANDed for persons.
    Mapping mapping;
    enum class Method { Auto, SyncRepl, Timestamp };
    Method method = Method::Auto;                  ///< Incremental method; Auto prefers syncrepl.
    double maxDepartureShare = 0.05;               ///< Delete guard: max share departing per run.
    std::string source = "ldap";                   ///< Key of this directory in identity_sync_state.
    int intervalSeconds = 900;                     ///< For the caller's scheduler (not used here).
    /// Several hubs on one PostgreSQL: the time to live of the identity.sync lease
    /// (Syncer::coordinate); another node takes over about this long after the
    /// holder died.
    int leaseSeconds = 15;
    std::size_t queueDepth = 2;                    ///< Pages queued between full-sync stages, at least
                                                   ///< (transactionPersons / pageSize if more).
    /// Full sync: persons per transaction, at most (one commit, one fsync). The writer
    /// stores whatever pages have queued up to this, so transactions are small while it
    /// keeps pace. A failing run keeps what earlier transactions stored and departs nobody.
    std::size_t transactionPersons = 10000;
    /// Optional: called on the reading thread after each page of persons in a full
    /// sync, with the number of person entries read so far (progress, tests).
    std::function<void(std::size_t personsRead)> onProgress;

    /// Reads the `identity` configuration subtree:
    ///   ldap.{uri,startTls,verifyCertificate,caFile,bindDn,passwordFile,passwordEnv,
    ///         connectTimeoutMs,operationTimeoutMs,pageSize,connectAttempts,backoffInitialMs,
    ///         backoffMaxMs}
    ///   ldap.base, ldap.personClass, ldap.orgClass, ldap.groupClasses, ldap.personFilter
    ///   mapping.*  (see Mapping)
    ///   sync.method (auto|syncrepl|timestamp), sync.maxDepartureShare, sync.source,
    ///   sync.intervalSeconds, sync.leaseSeconds
    static SyncOptions fromConfig(const Poco::Util::AbstractConfiguration& identityConfig);
};

/// The outcome of one run.
struct SyncReport {
    std::string method;       ///< "full", "syncrepl" or "timestamp"
    bool success = false;     ///< Read completely and stored (a guarded run is not a success).
    bool guarded = false;     ///< The delete guard stopped departures; see alert.
    std::size_t read = 0;     ///< Entries received.
    std::size_t created = 0, updated = 0, departed = 0, unchanged = 0, skipped = 0;
    std::size_t wouldDepart = 0;  ///< Departures found (applied unless guarded).
    std::string error;
    bool directoryError = false;  ///< The failure came from the directory (unreachable, bind, search), not the store.
    std::string alert;
    double seconds = 0;
    /// Not run: another node holds the identity.sync lease (its node id, or
    /// "nobody" while the lease is free and this node has not taken it yet).
    std::string heldBy;
    bool leaseLost = false;  ///< Stopped part-way: this node lost the lease (nothing departed).
    long long runId = 0;     ///< Its row in identity_sync_runs (0: not run, or not recorded).
};

/// What the admin endpoint shows.
struct SyncStatus {
    std::string source;
    bool running = false;
    bool hasCookie = false;       ///< A syncrepl cookie is stored.
    std::string highWater;        ///< modifyTimestamp high-water mark.
    std::string lastMethod, lastRunAt, lastSuccessAt, lastStatus, lastError, alert;
    long long created = 0, updated = 0, departed = 0, unchanged = 0, read = 0, durationMs = 0;
    std::size_t activePersons = 0;
    /// Person entries read so far by the full run or preview in progress (the
    /// last one's total once it is over): a progress figure while `running`.
    std::size_t personsRead = 0;
    /// With several hubs: the node holding the identity.sync lease ("" when
    /// none does, or the syncer is not coordinated) and whether it is this one.
    std::string leaseHolder;
    bool coordinated = false, thisNodeHolds = false;
    std::size_t requestsPending = 0;  ///< Runs asked for (requestRun) that no node has taken yet.
    /// The last runs from identity_sync_runs, newest first (at most recentRunsShown).
    struct Run {
        long long id = 0;
        std::string node, what, method, status, error;
        long long startedMs = 0, finishedMs = 0;  ///< finishedMs 0 while running.
    };
    static constexpr std::size_t recentRunsShown = 10;
    std::vector<Run> recentRuns;
    std::string toJson() const;
};

/// What a full sync would do now, found without writing anything (Syncer::preview).
struct SyncPreview {
    /// One department's share (a person's department as mapped; "" when none).
    struct Department {
        std::size_t add = 0, change = 0, depart = 0;
        /// The first persons' ids of each kind (at most idsPerKind each), for a look.
        std::vector<std::string> added, changed, departed;
    };
    static constexpr std::size_t idsPerKind = 20;
    std::map<std::string, Department> departments;  ///< Only departments with something to do.
    std::size_t read = 0, add = 0, change = 0, depart = 0, unchanged = 0;
    std::size_t activePersons = 0;  ///< Active persons stored now.
    bool guarded = false;           ///< The delete guard would hold the departures back.
    std::string toJson() const;
};

/// Syncs persons, organisational units and groups from the directory into the
/// identity store. One run at a time (a second caller waits for the first).
///
/// Delete guard: a person (unit, group) is marked departed only after a complete,
/// successful read showed it gone; a run that fails part-way departs nobody (what it
/// stored before failing - new and changed entries - stays, as it is true); a run
/// that would depart more than maxDepartureShare of the active persons (or units, or
/// groups) departs nobody, keeps the previous cookie/high-water mark so the same
/// departures are found again, logs an error and sets status().alert, until a run
/// with allowMassDeparture = true (an admin's explicit decision) applies them.
///
/// Every created/updated/departed identity goes to the ChangeSink inside the
/// transaction that stores it. Persons are written a few pages per transaction
/// (SyncOptions::transactionPersons).
///
/// Several hubs on one PostgreSQL (coordinate()): a run happens only on the node
/// holding the lease identity.sync; elsewhere runFull()/runIncremental() return
/// at once with SyncReport::heldBy naming the holder. The holder checks the lease
/// between pages and before each write, and stops a run (SyncReport::leaseLost,
/// nothing departed, the sync state left to the next holder) when it has lost it.
/// Each write transaction is also fenced by the lease token the run began with
/// (IdentityStore::LeaseFence), checked inside the transaction: a node paused
/// past the time to live between its check and its commit writes nothing once
/// another holds the lease.
/// Each run is recorded in identity_sync_runs with its node (IdentityStore::syncRuns).
class Syncer {
public:
    Syncer(store::Database& db, SyncOptions options, ChangeSink sink = {});
    ~Syncer();

    /// Reads everything (paged) and reconciles. Also records a syncrepl cookie (taken
    /// before the read) and the modifyTimestamp high-water mark for later increments.
    SyncReport runFull(bool allowMassDeparture = false);
    /// Applies what changed since the last run: syncrepl refreshOnly with the stored
    /// cookie if the server offers it, else modifyTimestamp >= high-water mark plus a
    /// complete entryUUID listing to find deletions. Without a cookie or mark: runFull.
    SyncReport runIncremental(bool allowMassDeparture = false);
    SyncStatus status() const;
    /// A dry run of a full sync: reads every person (paged) and compares each
    /// with what is stored, per department, writing nothing (not the sync state
    /// either). Persons are mapped against the stored groups. Waits for a run
    /// in progress, like the runs. Throws ldap::LdapException when the
    /// directory cannot be read.
    SyncPreview preview();
    bool isRunning() const { return running_.load(); }
    /// The options in use; read it while no run goes on (a run takes those of setOptions()).
    const SyncOptions& options() const { return options_; }

    /// New settings for the runs that start from now on (hubd's reload on
    /// SIGHUP); a run in progress keeps its own and is not waited for. `source`
    /// stays as constructed: it names the stored sync state.
    void setOptions(SyncOptions options);

    /// Takes part in the identity.sync lease from now on (docs/store.md, "Leases"):
    /// a LeaseKeeper of this syncer's, node id Database::nodeId(). Returns once
    /// the first attempt has been answered (so a run right after it finds this
    /// node the holder when the lease was free). Call once, before any run; not
    /// called: every run goes ahead (one node, SQLite).
    void coordinate(std::chrono::milliseconds leaseTtl);
    /// Called (on the lease's thread) each time this node becomes the holder:
    /// SyncSchedule runs a round at once then, so a takeover does not wait for
    /// the next interval. An empty function stops the calls.
    void setOnLeaseAcquired(std::function<void()> acquired);
    /// The keeper after coordinate(), else null (tests abandon() it to play a node that died).
    store::LeaseKeeper* lease() { return lease_.get(); }
    /// This node's id in the lease and in identity_sync_runs.
    const std::string& nodeId() const { return nodeId_; }
    /// The node holding identity.sync when it is not this one ("nobody" when
    /// free); empty when this node holds it or the syncer is not coordinated.
    std::string leaseHeldElsewhere() const;

    /// A run for the holder of the lease to do, asked for on this node (an
    /// admin's `POST /admin/identity/sync` reached a node without the lease):
    /// recorded in identity_sync_requests; returns its id. The holder takes it
    /// within seconds (runRequested, from SyncSchedule) and records the run in
    /// identity_sync_runs.
    long long requestRun(bool full, bool allowMassDeparture);
    /// On the holder: runs the oldest request not taken yet, if any. False when
    /// there was none, or this node does not hold the lease (no I/O then), or
    /// the syncer is not coordinated.
    bool runRequested();
    IdentityStore& identityStore() { return *store_; }

private:
    SyncReport execute(const char* what, bool allowMassDeparture, bool full);
    // The three ways to read what changed (see SyncRun.h, PersonPipeline.h).
    void fullRead(SyncRun& run);
    void syncReplRead(SyncRun& run, const std::string& cookie);
    void timestampRead(SyncRun& run, const std::string& highWater);
    // After a read: the delete guard's decision (DeleteGuard.h), the departures it
    // allows, and the re-mapping of persons whose groups changed.
    void finish(SyncRun& run);
    void depart(SyncRun& run, const Departures& gone);
    void remapAffectedMembers(SyncRun& run);

    store::Database& db_;
    SyncOptions options_;
    ChangeSink sink_;
    std::unique_ptr<IdentityStore> store_;
    std::string nodeId_;
    std::mutex leaseHookMutex_;  // guards onLeaseAcquired_
    std::function<void()> onLeaseAcquired_;
    std::unique_ptr<store::LeaseKeeper> lease_;  // after coordinate(); destroyed first (releases)
    mutable std::mutex runMutex_;
    std::atomic<bool> running_{false};
    std::atomic<std::size_t> personsRead_{0};  // status().personsRead
    std::mutex pendingMutex_;
    std::unique_ptr<SyncOptions> pending_;  // from setOptions(), taken by the next run
};

}  // namespace hub::identity
