#include "hub/api/RouteAccess.h"

namespace hub::api {

RouteAccess RouteAccess::role(std::string role, std::function<void(const Request&, const Response&)> onRefused) {
    RouteAccess access;
    access.anyOfRoles.push_back(std::move(role));
    access.onRefused = std::move(onRefused);
    return access;
}

bool RouteAccess::allows(const Principal& principal) const {
    if (anyOfRoles.empty()) return true;
    for (const auto& role : anyOfRoles)
        if (principal.hasRole(role)) return true;
    return false;
}

std::optional<Response> RouteAccess::check(const Request& request) const {
    if (allows(request.principal)) return std::nullopt;
    std::string needed;
    for (const auto& role : anyOfRoles) needed += (needed.empty() ? "" : " or ") + role;
    Response refusal = problem(403, "this needs the role " + needed, "Forbidden", "urn:campushub:problem:forbidden");
    if (onRefused) onRefused(request, refusal);
    return refusal;
}

}  // namespace hub::api
