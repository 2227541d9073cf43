#pragma once

// Comparing what a sync read with what it knows is stored, and queuing what
// differs - the row and its change record - into a store batch. Private to
// hub::identity.

#include "hub/identity/IdentityStore.h"
#include "hub/identity/Syncer.h"

#include <string>
#include <type_traits>
#include <unordered_map>

namespace hub::identity {

/// Counts `p` in `report` as created, updated or unchanged against its stored
/// state, which it then updates (and marks seen). A created or updated person
/// is queued in `batch`, with a change record naming the fields that differ when
/// `reportChanges` (the Person itself joins its record once its row is written).
void diffPerson(Person&& p, std::unordered_map<std::string, IdentityStore::PersonState>& states, SyncReport& report,
                IdentityStore::Batch& batch, bool reportChanges);

/// Queues the row and the change record of a unit or a group.
void queueChange(IdentityStore::Batch& batch, ChangeKind kind, const Org& org);
void queueChange(IdentityStore::Batch& batch, ChangeKind kind, const Group& group);

/// Whether a unit or group read equals the stored one (what the store keeps of it).
bool sameAs(const Org& a, const Org& b);
bool sameAs(const Group& a, const Group& b);

/// Counts `item` (a unit or a group) as created, updated or unchanged against
/// `known` (entryUUID -> stored), queues it in `batch` unless unchanged, and
/// records it in `known`. True when it was queued.
template <typename Item>
bool diffItem(Item&& item, std::unordered_map<std::string, std::decay_t<Item>>& known, SyncReport& report,
              IdentityStore::Batch& batch) {
    auto it = known.find(item.entryUuid);
    if (it != known.end() && sameAs(it->second, item)) {
        ++report.unchanged;
        return false;
    }
    bool created = it == known.end();
    ++(created ? report.created : report.updated);
    queueChange(batch, created ? ChangeKind::Created : ChangeKind::Updated, item);
    std::string key = item.entryUuid;
    known[std::move(key)] = std::forward<Item>(item);
    return true;
}

}  // namespace hub::identity
