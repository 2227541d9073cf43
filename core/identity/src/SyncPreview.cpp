// Syncer::preview: a full sync's read and comparison with nothing written, so
// an operator sees per department what a run would add, change and depart
// before it does (hubctl sync preview).
#include "hub/identity/Syncer.h"

#include "SyncQueries.h"
#include "hub/common/JsonWriter.h"
#include "hub/identity/IdentityStore.h"
#include "hub/ldap/Connection.h"

#include <unordered_set>

namespace hub::identity {

namespace {

void note(std::size_t& count, std::vector<std::string>& ids, const std::string& id) {
    ++count;
    if (ids.size() < SyncPreview::idsPerKind) ids.push_back(id);
}

}  // namespace

SyncPreview Syncer::preview() {
    std::lock_guard lock(runMutex_);  // what is stored does not move under the comparison
    SyncPreview out;
    auto states = store_->loadPersonStates();
    GroupIndex groups;
    for (const auto& g : store_->loadGroups())
        if (g.status == PersonStatus::Active) groups.add(g);
    for (const auto& [uuid, st] : states)
        if (st.status == PersonStatus::Active) ++out.activePersons;

    ldap::Connection connection(options_.ldap);
    connection.connect();
    std::unordered_set<std::string> seen;
    personsRead_ = 0;
    connection.searchPaged(personsRequest(options_), [&](std::vector<ldap::Entry>&& page) {
        personsRead_ += page.size();  // status().personsRead: the preview's progress
        for (auto& entry : page) {
            ++out.read;
            std::string uuid = uuidOf(entry);
            Person p = options_.mapping.mapPerson(std::move(entry), uuid, groups);
            seen.insert(uuid);
            auto it = states.find(uuid);
            auto& department = out.departments[p.department];
            if (it == states.end() || it->second.status != PersonStatus::Active) {
                ++out.add;
                note(department.add, department.added, p.id);
            } else if (it->second.hashes != IdentityStore::hashPerson(p)) {
                ++out.change;
                note(department.change, department.changed, p.id);
            } else {
                ++out.unchanged;
            }
        }
    });
    // Departures: active persons the complete read did not find, by their stored department.
    std::vector<std::string> gone;
    for (const auto& [uuid, st] : states)
        if (st.status == PersonStatus::Active && !seen.count(uuid)) gone.push_back(uuid);
    for (const auto& p : store_->personsByUuids(gone)) {
        auto& department = out.departments[p.department];
        ++out.depart;
        note(department.depart, department.departed, p.id);
    }
    for (auto it = out.departments.begin(); it != out.departments.end();)
        it = it->second.add + it->second.change + it->second.depart ? std::next(it) : out.departments.erase(it);
    out.guarded = out.depart > 0 && static_cast<double>(out.depart) >
                                        options_.maxDepartureShare * static_cast<double>(out.activePersons);
    return out;
}

std::string SyncPreview::toJson() const {
    std::string out = "{\"read\":" + std::to_string(read) + ",\"add\":" + std::to_string(add) +
                      ",\"change\":" + std::to_string(change) + ",\"depart\":" + std::to_string(depart) +
                      ",\"unchanged\":" + std::to_string(unchanged) +
                      ",\"activePersons\":" + std::to_string(activePersons) +
                      ",\"guarded\":" + (guarded ? "true" : "false") + ",\"departments\":[";
    bool first = true;
    for (const auto& [name, d] : departments) {
        if (!first) out += ',';
        first = false;
        out += "{\"department\":";
        json::appendString(out, name);
        out += ",\"add\":" + std::to_string(d.add) + ",\"change\":" + std::to_string(d.change) +
               ",\"depart\":" + std::to_string(d.depart) + ",\"added\":";
        json::appendStringArray(out, d.added);
        out += ",\"changed\":";
        json::appendStringArray(out, d.changed);
        out += ",\"departed\":";
        json::appendStringArray(out, d.departed);
        out += '}';
    }
    return out + "]}";
}

}  // namespace hub::identity
