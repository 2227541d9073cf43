#pragma once

// Who sees one application on the console's pages (its rating, its BPMN flow),
// and the look-up those routes share. Private to hub::api.
//
// Wider than the application's own GET (ApplicationRoutes' mayRead: the
// applicant, the department's clerks and admins, hub:admin): any role in the
// department reads these, as any role there reads the department's figures
// (GET /admin/evaluation), e.g. a dean.

#include "ProblemTypes.h"

#include "hub/api/Http.h"
#include "hub/api/RouteAudit.h"
#include "hub/flows/ApplicationService.h"

#include <string>
#include <variant>

namespace hub::api::detail {

/// The applicant, hub:admin, or anyone holding a role dept:<d>:<role> in the
/// application's department d.
inline bool seesOnConsole(const Principal& p, const flows::Application& a) {
    if (a.applicant == p.subject || p.hasRole("hub:admin")) return true;
    const std::string prefix = "dept:" + a.department + ":";
    for (const auto& role : p.roles)
        if (role.size() > prefix.size() && role.compare(0, prefix.size(), prefix) == 0) return true;
    return false;
}

/// The application the request's {id} names, or the answer instead: 404 when
/// there is none, 403 (audited) when `allowed(principal, application)` is false.
template <typename Allowed>
std::variant<flows::Application, Response> applicationFor(flows::ApplicationService& applications,
                                                          store::AuditLog* audit, const Request& request,
                                                          Allowed allowed, const std::string& refusal) {
    const std::string& id = request.param("id");
    auto app = applications.find(id);
    if (!app)
        return problem(404, "application '" + id + "' does not exist", "Unknown application",
                       problemType("unknown-application"));
    if (!allowed(request.principal, *app)) {
        Response refused = problem(403, refusal, "Forbidden", problemType("forbidden"));
        auditRouteCall(audit, request, refused.status);
        return refused;
    }
    return *app;
}

}  // namespace hub::api::detail
