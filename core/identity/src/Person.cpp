#include "hub/identity/Person.h"

#include "Json.h"

namespace hub::identity {

const char* toString(ChangeKind kind) {
    switch (kind) {
        case ChangeKind::Created: return "created";
        case ChangeKind::Updated: return "updated";
        case ChangeKind::Departed: return "departed";
    }
    return "updated";
}

const char* toString(PersonStatus status) { return status == PersonStatus::Active ? "active" : "departed"; }

std::string IdentityChange::toJson() const {
    using detail::appendJsonString;
    using detail::jsonList;
    std::string out = "{\"kind\":";
    appendJsonString(out, toString(kind));
    out += ",\"subject\":";
    appendJsonString(out, subject);
    out += ",\"id\":";
    appendJsonString(out, id);
    out += ",\"entryUuid\":";
    appendJsonString(out, entryUuid);
    out += ",\"changedFields\":" + jsonList(changedFields);
    auto field = [&](const char* name, const std::string& value) {
        out += ",\"";
        out += name;
        out += "\":";
        appendJsonString(out, value);
    };
    if (subject == "person") {
        out += ",\"person\":{\"id\":";
        appendJsonString(out, person.id);
        field("dn", person.dn);
        field("name", person.name);
        field("department", person.department);
        out += ",\"audience\":" + jsonList(person.audience);
        out += ",\"roles\":" + jsonList(person.roles);
        out += ",\"groups\":" + jsonList(person.groups);
        out += ",\"emails\":" + jsonList(person.emails);
        out += ",\"phones\":" + jsonList(person.phones);
        field("status", toString(person.status));
        field("updatedAt", person.updatedAt);
        out += "}";
    } else if (subject == "org") {
        out += ",\"org\":{\"dn\":";
        appendJsonString(out, org.dn);
        field("name", org.name);
        field("description", org.description);
        field("parentDn", org.parentDn);
        field("status", toString(org.status));
        out += "}";
    } else {
        out += ",\"group\":{\"dn\":";
        appendJsonString(out, group.dn);
        field("name", group.name);
        out += ",\"memberCount\":" + std::to_string(group.members.size());
        field("status", toString(group.status));
        out += "}";
    }
    out += "}";
    return out;
}

}  // namespace hub::identity
