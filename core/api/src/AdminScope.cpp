#include "hub/api/AdminScope.h"

namespace hub::api {

std::string departmentOfRole(const std::string& role, const std::string& what) {
    const std::string suffix = ":" + what;
    if (role.size() <= 5 + suffix.size() || role.rfind("dept:", 0) != 0 ||
        role.compare(role.size() - suffix.size(), suffix.size(), suffix) != 0)
        return {};
    std::string department = role.substr(5, role.size() - 5 - suffix.size());
    // dept:a:b:admin is not an admin of "a:b": department ids hold no colon.
    return department.find(':') == std::string::npos ? department : std::string();
}

AdminScope AdminScope::of(const Principal& principal) {
    AdminScope scope;
    for (const auto& role : principal.roles) {
        if (role == "hub:admin") scope.global = true;
        if (auto department = departmentOfRole(role, "admin"); !department.empty())
            scope.departments.insert(std::move(department));
    }
    return scope;
}

}  // namespace hub::api
