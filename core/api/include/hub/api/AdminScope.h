#pragma once

#include "hub/api/Http.h"

#include <set>
#include <string>

namespace hub::api {

/// What a caller may administer: everything (hub:admin) or the departments
/// whose dept:<department>:admin role they hold (docs/privacy.md, "Delegated
/// administration"). The routes let a department admin in (RouteAccess) and
/// narrow what they list or touch with covers().
struct AdminScope {
    bool global = false;                  ///< hub:admin.
    std::set<std::string> departments;    ///< From dept:<department>:admin roles.

    static AdminScope of(const Principal& principal);

    /// Holds an admin role of any kind.
    bool any() const { return global || !departments.empty(); }
    /// May administer what belongs to department (an empty department is the hub's own: global only).
    bool covers(const std::string& department) const {
        return global || (!department.empty() && departments.count(department) != 0);
    }
};

/// The department of dept:<department>:<what>, or "" when role is not of that form.
std::string departmentOfRole(const std::string& role, const std::string& what);

}  // namespace hub::api
