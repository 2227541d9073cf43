#pragma once

#include "hub/api/Http.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hub::api {

/// What a route asks of its caller beyond a valid token. HttpServer checks it in
/// one place, right after authentication and before the handler runs, so no
/// handler repeats a role check.
///
/// One role out of a list (e.g. hub:admin), unless the route parameter
/// ownerParam names the caller themselves, or a department admin's role
/// (dept:<d>:admin) for the department the route's request belongs to.
struct RouteAccess {
    /// The caller needs one of these roles; empty: any authenticated caller.
    std::vector<std::string> anyOfRoles;
    /// When set, a caller whose own id is the value of this route parameter
    /// needs no role: their own record (e.g. "id" of /api/v1/identities/{id}).
    std::string ownerParam;
    /// When set, a caller holding dept:<d>:admin passes, d being what this returns
    /// for the request; "*" lets every department admin in, and the handler
    /// narrows what they see to their departments (AdminScope).
    std::function<std::string(const Request&)> department;
    /// Told of each refusal, after the 403 is made (the audit trail); may be empty.
    std::function<void(const Request&, const Response&)> onRefused;

    /// Only callers holding role.
    static RouteAccess role(std::string role, std::function<void(const Request&, const Response&)> onRefused = {});

    bool allows(const Request& request) const;

    /// Nothing when request's principal may use the route; otherwise the 403
    /// problem+json to answer (onRefused has been told).
    std::optional<Response> check(const Request& request) const;
};

}  // namespace hub::api
