// The admin and identity routes, registered group by group (each in its own
// file, their shared parts in AdminRouteSupport.h); the order of registration
// is the router's order of matching.
#include "AdminRouteSupport.h"

#include "hub/catalog/Catalog.h"
#include "hub/catalog/Snapshot.h"

namespace hub::api {

namespace detail {

RouteAccess adminOnly(store::AuditLog* audit) {
    return RouteAccess::role("hub:admin", [audit](const Request& request, const Response& refusal) {
        auditRouteCall(audit, request, refusal.status);
    });
}

void AdminRouter::add(http::verb method, std::string pattern, AdminHandler handler, DepartmentOf department) const {
    RouteAccess access = adminOnly(audit_);
    access.department = std::move(department);
    router_.add(
        method, std::move(pattern),
        [audit = audit_, handler = std::move(handler)](const RequestPtr& request, Responder out) {
            handler(request, AuditedReply(request, std::move(out), audit));
        },
        std::move(access));
}

Response outsideScope(const std::string& what) {
    return problem(403, what + " belongs to no department you administer", "Forbidden", problemType("forbidden"));
}

void addCatalogAdminRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    admin.add(http::verb::post, "/admin/catalog/reload", [s](const RequestPtr&, AuditedReply out) {
        blocking(s, out, [s] {
            // A bad catalogue never replaces a good one: the old snapshot keeps serving.
            auto result = s.catalog->reload();
            if (!result.ok) {
                Response r = problem(
                    422, std::to_string(result.errors.size()) + " error(s); the catalogue in service is unchanged",
                    "Catalogue refused", problemType("catalog-invalid"));
                r.body.pop_back();
                r.body += ",\"errors\":[";
                for (std::size_t i = 0; i < result.errors.size(); ++i) {
                    if (i) r.body += ',';
                    appendString(r.body, result.errors[i].toString());
                }
                r.body += "]}";
                return r;
            }
            return Response::json(200, "{\"version\":" + std::to_string(result.version) +
                                           ",\"items\":" + std::to_string(s.catalog->snapshot()->items().size()) + "}");
        });
    });
}

}  // namespace detail

void addAdminRoutes(Router& router, AdminServices services) {
    detail::addIdentityRoutes(router, services);
    detail::addSyncPreviewRoutes(router, services);
    detail::addIdentitySyncRoutes(router, services);
    detail::addDeadLetterRoutes(router, services);
    detail::addPluginAdminRoutes(router, services);
    detail::addCatalogAdminRoutes(router, services);
    detail::addAuditRoutes(router, services);
    detail::addTraceRoutes(router, services);
}

}  // namespace hub::api
