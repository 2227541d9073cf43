#pragma once

// What a sync asks the directory for, and how it files what comes back: the
// searches built from SyncOptions, the kind of each entry and the key it is
// stored under. Private to hub::identity.

#include "hub/identity/Syncer.h"
#include "hub/ldap/Connection.h"

#include <string>
#include <vector>

namespace hub::identity {

/// What a directory entry is to the sync, by its object classes.
enum class EntryKind { Person, Org, Group, Other };

EntryKind classify(const ldap::Entry& entry, const SyncOptions& options);

/// The entry's entryUUID; "dn:" + its normalised DN for a server without one.
std::string uuidOf(const ldap::Entry& entry);

/// Raises `maxTimestamp` to the entry's modifyTimestamp if that is later
/// (GeneralizedTime compares as text).
void noteTimestamp(std::string& maxTimestamp, const ldap::Entry& entry);

/// Every person, unit and group under the base, with every attribute any of them
/// is mapped from (the incremental reads, which get all kinds at once).
ldap::SearchRequest everythingRequest(const SyncOptions& options);
/// The same filter for the listing of what exists: entryUUIDs only.
ldap::SearchRequest presenceRequest(const SyncOptions& options);
/// The full sync's three searches, one kind each.
ldap::SearchRequest orgsRequest(const SyncOptions& options);
ldap::SearchRequest groupsRequest(const SyncOptions& options);
ldap::SearchRequest personsRequest(const SyncOptions& options);

}  // namespace hub::identity
