#include "SyncQueries.h"

#include "hub/ldap/Filter.h"

#include <algorithm>

namespace hub::identity {

namespace {

std::string classFilter(const std::string& cls) {
    return "(objectClass=" + ldap::escapeFilterValue(cls) + ")";
}

std::string personFilterOf(const SyncOptions& o) {
    std::string f = classFilter(o.personClass);
    return o.personFilter.empty() ? f : "(&" + f + o.personFilter + ")";
}

std::string groupFilterOf(const SyncOptions& o) {
    std::string f = "(|";
    for (const auto& g : o.groupClasses) f += classFilter(g);
    return f + ")";
}

std::string allFilterOf(const SyncOptions& o) {
    return "(|" + personFilterOf(o) + classFilter(o.orgClass) + groupFilterOf(o) + ")";
}

}  // namespace

EntryKind classify(const ldap::Entry& e, const SyncOptions& o) {
    if (e.hasValue("objectClass", o.personClass)) return EntryKind::Person;
    for (const auto& g : o.groupClasses)
        if (e.hasValue("objectClass", g)) return EntryKind::Group;
    if (e.hasValue("objectClass", o.orgClass)) return EntryKind::Org;
    return EntryKind::Other;
}

std::string uuidOf(const ldap::Entry& e) {
    std::string u = e.first("entryUUID");
    return u.empty() ? "dn:" + normalizeDn(e.dn) : u;
}

void noteTimestamp(std::string& maxTs, const ldap::Entry& e) {
    const auto& v = e.values("modifyTimestamp");
    if (!v.empty() && v.front() > maxTs) maxTs = v.front();
}

ldap::SearchRequest everythingRequest(const SyncOptions& o) {
    ldap::SearchRequest r;
    r.base = o.base;
    r.filter = allFilterOf(o);
    r.attributes = o.mapping.personAttributes();
    for (const char* extra : {"objectClass", "entryUUID", "modifyTimestamp", "ou", "description", "cn", "member",
                              "uniqueMember", "memberUid"})
        if (std::find(r.attributes.begin(), r.attributes.end(), extra) == r.attributes.end())
            r.attributes.push_back(extra);
    return r;
}

ldap::SearchRequest presenceRequest(const SyncOptions& o) {
    ldap::SearchRequest r;
    r.base = o.base;
    r.filter = allFilterOf(o);
    r.attributes = {"entryUUID"};
    return r;
}

ldap::SearchRequest orgsRequest(const SyncOptions& o) {
    ldap::SearchRequest r;
    r.base = o.base;
    r.filter = classFilter(o.orgClass);
    r.attributes = {"ou", "description", "entryUUID", "modifyTimestamp"};
    return r;
}

ldap::SearchRequest groupsRequest(const SyncOptions& o) {
    ldap::SearchRequest r;
    r.base = o.base;
    r.filter = groupFilterOf(o);
    r.attributes = {"cn", "member", "uniqueMember", "memberUid", "entryUUID", "modifyTimestamp"};
    return r;
}

ldap::SearchRequest personsRequest(const SyncOptions& o) {
    ldap::SearchRequest r;
    r.base = o.base;
    r.filter = personFilterOf(o);
    r.attributes = o.mapping.personAttributes();
    r.attributes.push_back("entryUUID");
    r.attributes.push_back("modifyTimestamp");
    return r;
}

}  // namespace hub::identity
