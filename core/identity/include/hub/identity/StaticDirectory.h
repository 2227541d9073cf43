#pragma once

#include "hub/identity/Person.h"

#include <Poco/Util/AbstractConfiguration.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>

namespace hub::identity {

/// The persons listed in the hub's configuration (identity.static.person[n],
/// with the attributes id, name, department, audience and roles; the last two
/// comma- or space-separated), for a hub without a directory yet, the demo and
/// the tests. The authenticator looks a subject up here before the synced
/// directory (IdentityDirectory); the LDAP sync replaces it.
///
/// Read once at construction and never changed, so lookups take no lock.
class StaticDirectory {
public:
    explicit StaticDirectory(const Poco::Util::AbstractConfiguration& config);

    /// The listed person with this id (active, with no DN, groups, e-mails or
    /// phones), or nullptr. Valid as long as the directory.
    const Person* find(const std::string& id) const;

    /// The listed person in the API's JSON form (appendJson), or nothing.
    std::optional<std::string> json(const std::string& id) const;

    /// How many persons are listed.
    std::size_t size() const { return persons_.size(); }

private:
    std::map<std::string, Person> persons_;
};

}  // namespace hub::identity
