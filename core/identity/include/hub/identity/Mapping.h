#pragma once

#include "hub/identity/Person.h"
#include "hub/ldap/Entry.h"

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::identity {

/// Group memberships by member, built from the synced groups: normalised member DN
/// (or memberUid value) -> group names.
class GroupIndex {
public:
    void add(const Group& group);
    void clear() { byMember_.clear(); }
    /// Group names for a person, by its DN and its id (for memberUid groups).
    std::vector<std::string> groupsOf(const std::string& dn, const std::string& id) const;

private:
    std::unordered_map<std::string, std::vector<std::string>> byMember_;
};

/// How directory entries become hub identities; read from configuration
/// (the subtree identity.mapping). Every key is optional:
///
///   id = uid                                   attribute giving the identity id
///   name = displayName,cn                      first attribute present wins
///   department = ou,departmentNumber           ditto; else the nearest ou= in the DN
///   audience = eduPersonAffiliation            attribute(s) giving the audience
///   audienceValues.<value> = <audience>        e.g. faculty = teacher; values not listed
///                                              are dropped (defaults: student, faculty ->
///                                              teacher, staff, employee -> staff)
///   audienceGroups.<group cn> = <audience>     audience from group membership
///   roles = employeeType                       attribute(s) giving roles (default none)
///   roleGroups.<group cn> = <role>             role from a group (default: every group's
///                                              cn is a role of its members)
///   email = mail                               multi-valued, kept as lists
///   phone = telephoneNumber
///   keep = cn,sn,givenName,title,employeeType  extra attributes kept in attributesJson
///   maxValueBytes = 4096                       longer values are cut (at a UTF-8 boundary)
///
/// Values that are not valid UTF-8 have the bad bytes replaced by U+FFFD.
class Mapping {
public:
    Mapping();  ///< The defaults above.
    static Mapping fromConfig(const Poco::Util::AbstractConfiguration& mappingConfig);

    /// Attributes to request for persons (mapped + kept + entryUUID + modifyTimestamp).
    std::vector<std::string> personAttributes() const;

    /// Maps one person entry. `entryUuid` is the entry's entryUUID.
    Person mapPerson(const ldap::Entry& entry, const std::string& entryUuid, const GroupIndex& groups) const;
    /// Same, consuming the entry (no copies of its values).
    Person mapPerson(ldap::Entry&& entry, const std::string& entryUuid, const GroupIndex& groups) const;
    /// Re-maps a stored person after its groups changed (uses its kept attributes).
    Person remapPerson(const Person& stored, const GroupIndex& groups) const;

    Org mapOrg(const ldap::Entry& entry, const std::string& entryUuid) const;
    Group mapGroup(const ldap::Entry& entry, const std::string& entryUuid) const;

    std::string idAttribute;
    std::vector<std::string> nameAttributes;
    std::vector<std::string> departmentAttributes;
    std::vector<std::string> audienceAttributes;
    std::map<std::string, std::string> audienceValues;
    std::map<std::string, std::string> audienceGroups;
    std::vector<std::string> roleAttributes;
    std::map<std::string, std::string> roleGroups;
    std::vector<std::string> emailAttributes;
    std::vector<std::string> phoneAttributes;
    std::vector<std::string> keepAttributes;
    std::size_t maxValueBytes = 4096;

private:
    // personAttributes(), and where each mapped field's attributes are in it.
    struct Plan {
        std::vector<std::string> attributes;
        std::vector<std::size_t> id, name, department, audience, roles, emails, phones;
    };
    // Made on first use: set the public fields before mapping.
    const Plan& plan() const;
    mutable std::optional<Plan> plan_;
    Person finish(Person p, const ldap::Entry& source, const GroupIndex& groups) const;
};

/// Lower-cased DN with spaces around separators removed: how DNs are compared.
std::string normalizeDn(const std::string& dn);

/// Returns `value` as valid UTF-8 (bad bytes -> U+FFFD), cut to at most `maxBytes`.
std::string sanitizeValue(const std::string& value, std::size_t maxBytes);

}  // namespace hub::identity
