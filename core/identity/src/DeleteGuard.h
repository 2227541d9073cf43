#pragma once

// The delete guard's decision: who a sync run departs. Private to hub::identity.

#include "SyncRun.h"

#include <string>
#include <vector>

namespace hub::identity {

/// The identities a run found gone, and whether the guard holds them back.
struct Departures {
    std::vector<std::string> persons;  ///< entryUUIDs of active persons gone
    std::vector<Org*> orgs;            ///< active units gone (in run.orgs)
    std::vector<Group*> groups;        ///< active groups gone (in run.groups)
    /// Persons and units stay: too many of them are gone. Groups depart all the
    /// same: a group that is gone takes away what it conferred (roles,
    /// audiences), and the removal of a privilege is never held back.
    bool held = false;
    std::string alert;  ///< Why they are held (for the log, the report and the status).

    std::size_t size() const { return persons.size() + orgs.size() + groups.size(); }
};

/// Decides who `run` departs, before anything is written. Gone is an active
/// identity explicitly deleted (syncrepl), or one a complete read did not see;
/// after an incomplete read, only the explicit deletions. Holds persons and
/// units back when, unless run.allowMassDeparture, more than
/// `maxDepartureShare` of the active persons, or of the active units, are gone.
Departures decideDepartures(SyncRun& run, double maxDepartureShare);

}  // namespace hub::identity
