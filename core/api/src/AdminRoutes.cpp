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

Response withErrors(Response r, const std::vector<std::string>& errors) {
    r.body.pop_back();
    r.body += ",\"errors\":[";
    for (std::size_t i = 0; i < errors.size(); ++i) {
        if (i) r.body += ',';
        appendString(r.body, errors[i]);
    }
    r.body += "]}";
    return r;
}

namespace {

std::vector<std::string> texts(const std::vector<hub::xml::Error>& errors) {
    std::vector<std::string> out;
    for (const auto& e : errors) out.push_back(e.toString());
    return out;
}

// A department's item may be handled by its own department's plugins and by
// those of none; another department's plugin is that department's to offer.
catalog::Catalog::ItemCheck pluginsOf(const AdminServices& s, const std::string& department) {
    return [s, department](const catalog::ServiceItem& item) {
        if (item.handler.kind != catalog::Handler::Kind::Plugin || !s.pluginDepartment) return std::string();
        const std::string owner = s.pluginDepartment(item.handler.system);
        return owner.empty() || owner == department
                   ? std::string()
                   : "plugin '" + item.handler.system + "' belongs to department '" + owner + "'";
    };
}

Response departmentAnswer(const AdminServices& s, const std::string& department,
                          const catalog::Catalog::DepartmentResult& result) {
    if (!result.foreign.empty())
        return withErrors(problem(403,
                                  std::to_string(result.foreign.size()) + " part(s) of the file reach past department '" +
                                      department + "'; the catalogue in service is unchanged",
                                  "Forbidden", problemType("forbidden")),
                          texts(result.foreign));
    if (!result.ok)
        return withErrors(problem(422,
                                  std::to_string(result.errors.size()) +
                                      " error(s); the catalogue in service and the file on disk are unchanged",
                                  "Catalogue refused", problemType("catalog-invalid")),
                          texts(result.errors));
    auto snapshot = s.catalog->snapshot();
    std::size_t own = 0;
    for (const auto& item : snapshot->items()) own += item.sourceFile == s.catalog->departmentFile(department);
    return Response::json(200, "{\"version\":" + std::to_string(result.version) +
                                   ",\"items\":" + std::to_string(snapshot->items().size()) +
                                   ",\"department_items\":" + std::to_string(own) + "}");
}

std::optional<Response> unknownDepartment(const AdminServices& s, const std::string& department) {
    if (s.catalog->snapshot()->department(department)) return std::nullopt;
    return problem(404, "no department '" + department + "' in the catalogue's taxonomy", "Unknown department",
                   problemType("unknown-department"));
}

}  // namespace

void addCatalogAdminRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    // A department's own file: its admin's, checked against the catalogue in
    // service before it is written (docs/catalog/README.md).
    const DepartmentOf named = [](const Request& request) { return request.param("department"); };
    admin.add(http::verb::put, "/admin/catalog/departments/{department}", [s](const RequestPtr& request,
                                                                              AuditedReply out) {
        blocking(s, out, [s, request] {
            const std::string& department = request->param("department");
            if (auto unknown = unknownDepartment(s, department)) return std::move(*unknown);
            auto result = s.catalog->putDepartment(department, request->message.body(), pluginsOf(s, department));
            if (result.ok && result.foreign.empty() && s.changed)
                s.changed("catalog.department", department, request->message.body());
            return departmentAnswer(s, department, result);
        });
    }, named);
    admin.add(http::verb::delete_, "/admin/catalog/departments/{department}", [s](const RequestPtr& request,
                                                                                  AuditedReply out) {
        blocking(s, out, [s, request] {
            const std::string& department = request->param("department");
            if (auto unknown = unknownDepartment(s, department)) return std::move(*unknown);
            auto result = s.catalog->removeDepartment(department);
            if (!result.existed)
                return problem(404, "department '" + department + "' has no file of its own", "No such file",
                               problemType("no-department-file"));
            if (result.ok && s.changed) s.changed("catalog.department", department, std::nullopt);
            return departmentAnswer(s, department, result);
        });
    }, named);
    admin.add(http::verb::post, "/admin/catalog/departments/{department}/reload", [s](const RequestPtr& request,
                                                                                      AuditedReply out) {
        blocking(s, out, [s, request] {
            const std::string& department = request->param("department");
            if (auto unknown = unknownDepartment(s, department)) return std::move(*unknown);
            auto result = s.catalog->reloadDepartment(department, pluginsOf(s, department));
            if (result.ok && result.foreign.empty() && s.changed)
                s.changed("catalog.department.reload", department, std::nullopt);
            return departmentAnswer(s, department, result);
        });
    }, named);
    admin.add(http::verb::post, "/admin/catalog/reload", [s](const RequestPtr&, AuditedReply out) {
        blocking(s, out, [s] {
            // A bad catalogue never replaces a good one: the old snapshot keeps serving.
            auto result = s.catalog->reload();
            if (!result.ok)
                return withErrors(problem(422,
                                          std::to_string(result.errors.size()) +
                                              " error(s); the catalogue in service is unchanged",
                                          "Catalogue refused", problemType("catalog-invalid")),
                                  texts(result.errors));
            if (s.changed) s.changed("catalog.reload", "", std::nullopt);
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
    detail::addClusterRoutes(router, services);
}

}  // namespace hub::api
