#pragma once

// The person part of a full sync. Private to hub::identity.

#include "SyncRun.h"

#include "hub/ldap/Connection.h"

namespace hub::identity {

/// Reads every person `request` finds, page by page, and stores those that
/// differ from the stored state, in three stages on three threads joined by
/// hand-off queues (see PersonPipeline.cpp):
///   - the paged reader (this thread) reads a page and maps each entry while the
///     server prepares the next;
///   - the comparer finds what differs from `run.persons` (and updates it);
///   - the store writer stores that, several pages per transaction.
/// Counts into run.report, marks what it read in run.seen/run.persons, and
/// raises run.maxTimestamp. Departs nobody: that is the delete guard's, after a
/// complete read. Returns once every stage has stopped; throws the first
/// failure (the writer's, else the comparer's, else the reader's), and what was
/// stored before it stays, as it is true.
void syncPersons(ldap::Connection& connection, const ldap::SearchRequest& request, const SyncOptions& options,
                 IdentityStore& store, const ChangeSink& sink, SyncRun& run);

}  // namespace hub::identity
