#pragma once

#include "hub/identity/Person.h"
#include "hub/ldap/Entry.h"

#include <deque>
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
/// (or "uid:" + memberUid value) -> the groups (name and DN) it belongs to.
class GroupIndex {
public:
    /// One active group: its cn and its normalised DN.
    struct Entry {
        std::string name;
        std::string dn;
    };

    void add(const Group& group);
    void clear();
    /// The groups of a person, by its DN and its id (for memberUid groups), by name.
    std::vector<const Entry*> entriesOf(const std::string& dn, const std::string& id) const;
    /// Their names, sorted, without repeats.
    std::vector<std::string> groupsOf(const std::string& dn, const std::string& id) const;

private:
    std::deque<Entry> groups_;                                          // stable addresses
    std::unordered_map<std::string, std::size_t> byDn_;                 // group DN -> groups_ index
    std::unordered_map<std::string, std::vector<std::size_t>> byMember_;
};

/// Which groups confer something (a role, an audience): named by DN, never by a
/// group's cn, since anyone allowed to create a group anywhere in the directory
/// could otherwise pick the name (a "hub:admin" group deep in a department's
/// subtree must not make admins). Two ways, both explicit:
///   - a group DN mapped to a value;
///   - a base DN whose groups directly below it (one level, not the subtree)
///     confer their own cn.
struct GroupGrants {
    std::map<std::string, std::string> byDn;  ///< normalised group DN -> value
    std::string base;                          ///< normalised; empty: none

    bool empty() const { return byDn.empty() && base.empty(); }
    /// What `group` confers, or nothing.
    std::optional<std::string> of(const GroupIndex::Entry& group) const;
    /// Reads `key`.group[i] ([@dn] or .dn, [@<valueName>] or .<valueName>) and
    /// `key`Base. Throws Poco::InvalidArgumentException for the old name-keyed form
    /// (`key`.<cn> = value) or a group without DN or value.
    static GroupGrants fromConfig(const Poco::Util::AbstractConfiguration& c, const std::string& key,
                                  const std::string& valueName);
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
///   audienceGroups.group[i] (@dn, @audience)   audience from membership of that group
///   audienceGroupsBase = <DN>                  groups directly below it give their cn
///                                              as an audience
///   roles = employeeType                       attribute(s) giving roles (default none)
///   roleGroups.group[i] (@dn, @role)           role from membership of that group
///   roleGroupsBase = <DN>                      groups directly below it give their cn
///                                              as a role (default: no group gives a role)
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
    GroupGrants audienceGroups;
    std::vector<std::string> roleAttributes;
    GroupGrants roleGroups;
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

/// The items of a comma-separated list (a configuration value), trimmed, empty ones left out.
std::vector<std::string> splitList(const std::string& text);

/// Returns `value` as valid UTF-8 (bad bytes -> U+FFFD), cut to at most `maxBytes`.
std::string sanitizeValue(const std::string& value, std::size_t maxBytes);

}  // namespace hub::identity
