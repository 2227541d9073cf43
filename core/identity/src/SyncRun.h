#pragma once

// The state of one sync run, shared by the reads (full, syncrepl, timestamp), the
// delete guard and the final write. Private to hub::identity.

#include "hub/identity/IdentityStore.h"
#include "hub/identity/Mapping.h"
#include "hub/identity/Syncer.h"

#include "hub/store/LeaseKeeper.h"

#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace hub::identity {

/// Thrown inside a run when this node no longer holds the identity.sync lease.
struct LeaseLost : std::runtime_error {
    LeaseLost() : std::runtime_error("this node lost the identity.sync lease; the run stopped, nothing departed") {}
};

/// What one run knows: the stored state it started from (kept up to date as it
/// goes), what it read, and what it reports. Owned by Syncer::execute, one per run.
struct SyncRun {
    SyncReport report;
    bool allowMassDeparture = false;
    bool incremental = false;
    std::unordered_map<std::string, IdentityStore::PersonState> persons;  ///< entryUUID -> stored state
    std::size_t activePersonsBefore = 0;
    std::unordered_map<std::string, Org> orgs;      ///< entryUUID -> unit
    std::unordered_map<std::string, Group> groups;  ///< entryUUID -> group
    GroupIndex index;
    std::unordered_set<std::string> seen;     ///< every uuid read, changed or present
    std::unordered_set<std::string> deleted;  ///< explicit deletions (syncrepl)
    bool presenceComplete = false;            ///< seen lists everything that exists
    std::string maxTimestamp;                 ///< highest modifyTimestamp read
    std::string cookie;                       ///< syncrepl cookie to keep after a clean run
    std::set<std::string> affectedMembers;    ///< members of groups that changed (incremental)
    IdentityStore::SyncState state;
    const store::LeaseKeeper* lease = nullptr;  ///< Null: one node, no lease to check.
    /// With a lease: the tenure the run began in. Every write of the run is
    /// fenced by it (IdentityStore::LeaseFence), so a node that was paused past
    /// the lease's time to live after checkLease() still writes nothing once
    /// another node has taken over.
    std::optional<IdentityStore::LeaseFence> fence;

    /// Between pages and before each write: throws LeaseLost once the lease is gone.
    void checkLease() const {
        if (lease && !lease->held()) throw LeaseLost();
    }

    /// Every write of a run: checkLease(), then the batches in one transaction
    /// under the run's fence; throws LeaseLost when the fence refused them.
    void write(IdentityStore& store, std::span<IdentityStore::Batch* const> batches, const ChangeSink& sink) const {
        checkLease();
        if (!store.write(batches, sink, fence ? &*fence : nullptr)) throw LeaseLost();
    }
    void write(IdentityStore& store, IdentityStore::Batch& batch, const ChangeSink& sink) const {
        IdentityStore::Batch* one[] = {&batch};
        write(store, std::span<IdentityStore::Batch* const>(one), sink);
    }
};

}  // namespace hub::identity
