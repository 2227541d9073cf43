#include "hub/api/RouteAccess.h"

#include "hub/api/AdminScope.h"

namespace hub::api {

RouteAccess RouteAccess::role(std::string role, std::function<void(const Request&, const Response&)> onRefused) {
    RouteAccess access;
    access.anyOfRoles.push_back(std::move(role));
    access.onRefused = std::move(onRefused);
    return access;
}

bool RouteAccess::allows(const Request& request) const {
    if (anyOfRoles.empty()) return true;
    const Principal& principal = request.principal;
    if (!ownerParam.empty() && principal.authenticated() && request.param(ownerParam) == principal.subject) return true;
    for (const auto& role : anyOfRoles)
        if (principal.hasRole(role)) return true;
    if (department) {
        const AdminScope scope = AdminScope::of(principal);
        if (scope.departments.empty()) return false;
        const std::string d = department(request);
        return d == "*" || scope.covers(d);
    }
    return false;
}

std::optional<Response> RouteAccess::check(const Request& request) const {
    if (allows(request)) return std::nullopt;
    std::string needed;
    for (const auto& role : anyOfRoles) needed += (needed.empty() ? "" : " or ") + role;
    if (department) needed += " or the admin role of its department";
    std::string detail =
        ownerParam.empty() ? "this needs the role " + needed : "this is another person's; it needs the role " + needed;
    Response refusal = problem(403, detail, "Forbidden", "urn:campushub:problem:forbidden");
    if (onRefused) onRefused(request, refusal);
    return refusal;
}

}  // namespace hub::api
