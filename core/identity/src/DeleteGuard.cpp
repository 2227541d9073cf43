#include "DeleteGuard.h"

namespace hub::identity {

Departures decideDepartures(SyncRun& run, double maxDepartureShare) {
    auto gone = [&](const std::string& uuid) {
        if (run.deleted.count(uuid)) return true;
        return run.presenceComplete && !run.seen.count(uuid);
    };
    Departures d;
    // A person read in this run (seen in its state) stays, unless explicitly deleted.
    for (const auto& [uuid, st] : run.persons)
        if (st.status == PersonStatus::Active && !(st.seen && !run.deleted.count(uuid)) && gone(uuid))
            d.persons.push_back(uuid);
    std::size_t activeOrgs = 0;
    for (auto& [uuid, o] : run.orgs)
        if (o.status == PersonStatus::Active) {
            ++activeOrgs;
            if (gone(uuid)) d.orgs.push_back(&o);
        }
    for (auto& [uuid, g] : run.groups)
        if (g.status == PersonStatus::Active && gone(uuid)) d.groups.push_back(&g);

    auto exceeds = [&](std::size_t goneCount, std::size_t active) {
        return goneCount > 0 && static_cast<double>(goneCount) > maxDepartureShare * static_cast<double>(active);
    };
    d.held = !run.allowMassDeparture &&
             (exceeds(d.persons.size(), run.activePersonsBefore) || exceeds(d.orgs.size(), activeOrgs));
    if (d.held)
        d.alert = "delete guard: run would depart " + std::to_string(d.persons.size()) + " of " +
                  std::to_string(run.activePersonsBefore) + " persons, " + std::to_string(d.orgs.size()) + " of " +
                  std::to_string(activeOrgs) + " units (limit " +
                  std::to_string(static_cast<int>(maxDepartureShare * 100)) +
                  "%); none of them departed (removed groups and memberships are applied), "
                  "run a full sync with allowMassDeparture to apply";
    return d;
}

}  // namespace hub::identity
