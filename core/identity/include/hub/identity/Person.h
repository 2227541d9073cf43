#pragma once

#include <functional>
#include <string>
#include <vector>

namespace Poco::Data {
class Session;
}

namespace hub::identity {

/// Whether a person is still in the directory. Departed persons are kept (marked,
/// never deleted) so systems that provisioned them can disable their accounts.
enum class PersonStatus { Active, Departed };

/// A person field another source than the directory owns (identity::SourcedFields).
struct SourcedField {
    std::string field;
    std::string value;
    std::string source;     ///< The plugin that wrote it (e.g. "hr").
    std::string updatedAt;  ///< ISO 8601 UTC.
};

/// A person as the hub knows it, mapped from one directory entry.
struct Person {
    std::string id;          ///< The hub's identity id (mapping "id", e.g. uid); the JWT sub.
    std::string dn;          ///< Current DN (changes on rename).
    std::string entryUuid;   ///< Stable key across renames.
    std::string name;
    std::string department;
    std::vector<std::string> audience;  ///< student / teacher / staff / ... (mapped)
    std::vector<std::string> roles;     ///< From role groups and the roles attribute.
    std::vector<std::string> groups;    ///< Names (cn) of the groups the person is in.
    std::vector<std::string> emails;
    std::vector<std::string> phones;
    PersonStatus status = PersonStatus::Active;
    std::string attributesJson = "{}";  ///< Raw kept attributes: {"name": ["v", ...]}.
    std::string updatedAt;              ///< ISO 8601 UTC of the last change in the hub.
    std::string modifyTimestamp;        ///< The directory's modifyTimestamp (GeneralizedTime).
    /// Fields other sources own, when the reader asked for them (the API's
    /// person read does; the lookups on the request path do not).
    std::vector<SourcedField> sourced;
};

/// The two JSON forms of a person (see appendJson).
enum class PersonJsonForm {
    Api,    ///< The portal API's (GET /api/v1/identities...): snake_case keys, no DN.
    Event,  ///< The data of an identity.changed event: camelCase keys, with the DN.
};

/// Appends `person` as a JSON object (valid UTF-8 whatever the strings hold), the
/// one way the hub writes a person: {"id", ["dn",] "name", "department",
/// "audience", "roles", "groups", "emails", "phones", "status",
/// "updated_at"|"updatedAt"}; the update time is left out when empty (a person
/// the hub never stored, e.g. one of identity.static). The Api form adds
/// "sourced": {"FIELD": {"value", "source", "updated_at"}} when person.sourced
/// holds any.
void appendJson(std::string& out, const Person& person, PersonJsonForm form = PersonJsonForm::Api);

/// appendJson into a new string.
std::string toJson(const Person& person, PersonJsonForm form = PersonJsonForm::Api);

/// An organisational unit.
struct Org {
    std::string entryUuid;
    std::string dn;
    std::string name;         ///< ou
    std::string description;
    std::string parentDn;
    PersonStatus status = PersonStatus::Active;
    std::string updatedAt;
};

/// A group (groupOfNames, groupOfUniqueNames, posixGroup).
struct Group {
    std::string entryUuid;
    std::string dn;
    std::string name;                  ///< cn
    std::vector<std::string> members;  ///< Member DNs (normalised) and memberUid values.
    PersonStatus status = PersonStatus::Active;
    std::string updatedAt;
};

/// What happened to an identity in a sync.
enum class ChangeKind { Created, Updated, Departed };

/// One change, as reported to the change sink (and as the data of the CloudEvent
/// edu.campus.hub.identity.changed).
struct IdentityChange {
    ChangeKind kind = ChangeKind::Updated;
    std::string subject = "person";      ///< "person", "org" or "group".
    std::string id;                       ///< Person id, or the DN for orgs and groups.
    std::string entryUuid;
    std::vector<std::string> changedFields;  ///< For Updated: which mapped fields differ.
    Person person;                        ///< The person after the change (subject person).
    Org org;                              ///< subject org.
    Group group;                          ///< subject group.

    /// The change as a JSON object (UTF-8): {"kind","subject","id","entryUuid",
    /// "changedFields", "person"|"org"|"group": {...}}, the person in its Event
    /// form. Suitable as CloudEvent data.
    std::string toJson() const;
};

const char* toString(ChangeKind kind);
const char* toString(PersonStatus status);

/// Receives every change INSIDE the database transaction that writes it: whatever
/// the sink writes with `session` (an outbox row, a provisioning task) commits or
/// rolls back together with the identity store. A sink that throws rolls the batch
/// back and fails the sync run (nothing of that batch is stored or reported).
using ChangeSink = std::function<void(Poco::Data::Session& session, const IdentityChange& change)>;

}  // namespace hub::identity
