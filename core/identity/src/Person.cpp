#include "hub/identity/Person.h"

#include "hub/common/JsonWriter.h"

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

void appendJson(std::string& out, const Person& p, PersonJsonForm form) {
    using json::appendKey;
    using json::appendString;
    using json::appendStringArray;
    const bool event = form == PersonJsonForm::Event;
    out += '{';
    appendKey(out, "id");
    appendString(out, p.id);
    if (event) {
        out += ',';
        appendKey(out, "dn");
        appendString(out, p.dn);
    }
    out += ',';
    appendKey(out, "name");
    appendString(out, p.name);
    out += ',';
    appendKey(out, "department");
    appendString(out, p.department);
    out += ',';
    appendKey(out, "audience");
    appendStringArray(out, p.audience);
    out += ',';
    appendKey(out, "roles");
    appendStringArray(out, p.roles);
    out += ',';
    appendKey(out, "groups");
    appendStringArray(out, p.groups);
    out += ',';
    appendKey(out, "emails");
    appendStringArray(out, p.emails);
    out += ',';
    appendKey(out, "phones");
    appendStringArray(out, p.phones);
    out += ',';
    appendKey(out, "status");
    appendString(out, toString(p.status));
    if (!p.updatedAt.empty()) {
        out += ',';
        appendKey(out, event ? "updatedAt" : "updated_at");
        appendString(out, p.updatedAt);
    }
    if (!event && !p.sourced.empty()) {
        out += ',';
        appendKey(out, "sourced");
        out += '{';
        for (std::size_t i = 0; i < p.sourced.size(); ++i) {
            const SourcedField& f = p.sourced[i];
            if (i) out += ',';
            appendKey(out, f.field);
            out += '{';
            appendKey(out, "value");
            appendString(out, f.value);
            out += ',';
            appendKey(out, "source");
            appendString(out, f.source);
            out += ',';
            appendKey(out, "updated_at");
            appendString(out, f.updatedAt);
            out += '}';
        }
        out += '}';
    }
    out += '}';
}

std::string toJson(const Person& person, PersonJsonForm form) {
    std::string out;
    appendJson(out, person, form);
    return out;
}

std::string IdentityChange::toJson() const {
    using json::appendKey;
    using json::appendString;
    std::string out = "{";
    appendKey(out, "kind");
    appendString(out, toString(kind));
    auto field = [&](const char* name, const std::string& value) {
        out += ',';
        appendKey(out, name);
        appendString(out, value);
    };
    field("subject", subject);
    field("id", id);
    field("entryUuid", entryUuid);
    out += ',';
    appendKey(out, "changedFields");
    json::appendStringArray(out, changedFields);
    if (subject == "person") {
        out += ',';
        appendKey(out, "person");
        appendJson(out, person, PersonJsonForm::Event);
    } else if (subject == "org") {
        out += ",\"org\":{\"dn\":";
        appendString(out, org.dn);
        field("name", org.name);
        field("description", org.description);
        field("parentDn", org.parentDn);
        field("status", toString(org.status));
        out += "}";
    } else {
        out += ",\"group\":{\"dn\":";
        appendString(out, group.dn);
        field("name", group.name);
        out += ",\"memberCount\":";
        json::appendNumber(out, group.members.size());
        field("status", toString(group.status));
        out += "}";
    }
    out += "}";
    return out;
}

}  // namespace hub::identity
