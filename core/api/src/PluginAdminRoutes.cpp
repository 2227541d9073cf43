// The plugin host: refused plugins, reload, unload and rescan of the folder.
// A department admin manages the plugins of its departments (pluginDepartment);
// the rescan reads the whole folder, so it stays hub:admin's.
#include "AdminRouteSupport.h"

#include "hub/api/AdminScope.h"
#include "hub/host/PluginHost.h"

#include <filesystem>

namespace hub::api::detail {

namespace {

std::string departmentOfPlugin(const AdminServices& s, const std::string& name) {
    return s.pluginDepartment ? s.pluginDepartment(name) : std::string();
}

// A refused plugin is named by its folder: plugins/<name>/plugin.xml, its library, or plugins/<name>.
std::string pluginOfPath(const std::string& text) {
    std::filesystem::path path(text);
    if (!path.has_filename()) path = path.parent_path();
    if (path.filename() == "plugin.xml" || path.extension() == ".so") path = path.parent_path();
    return path.filename().string();
}

}  // namespace

void addPluginAdminRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    const DepartmentOf pluginNamed = [s](const Request& request) { return departmentOfPlugin(s, request.param("name")); };
    admin.add(
        http::verb::get, "/admin/plugins",
        [s](const RequestPtr& request, AuditedReply out) {
        const AdminScope scope = AdminScope::of(request->principal);
        std::string body = "{\"refused\":[";
        bool first = true;
        for (const auto& r : s.plugins->refusals()) {
            if (!scope.covers(departmentOfPlugin(s, pluginOfPath(r.path)))) continue;
            if (!first) body += ',';
            first = false;
            body += "{\"path\":";
            appendString(body, r.path);
            body += ",\"reason\":";
            appendString(body, r.reason);
            body += '}';
        }
        body += "]}";
        out.send(Response::json(200, std::move(body)));
        },
        anyDepartment);

    admin.add(http::verb::post, "/admin/plugins/{name}/reload", [s](const RequestPtr& request, AuditedReply out) {
        blocking(s, out, [s, request] {
            if (!s.plugins->has(request->param("name")))
                return problem(404, "no plugin '" + request->param("name") + "'", "Unknown plugin",
                               problemType("unknown-plugin"));
            try {
                std::string version = s.plugins->reload(request->param("name"));
                if (s.changed) s.changed("plugin.reload", request->param("name"), std::nullopt);
                std::string body = "{\"plugin\":";
                appendString(body, request->param("name"));
                body += ",\"version\":";
                appendString(body, version);
                return Response::json(200, body + "}");
            } catch (const host::LoadError& e) {
                return problem(422, e.what(), "New version refused; the running one stays",
                               problemType("reload-refused"));
            }
        });
    }, pluginNamed);
    admin.add(http::verb::delete_, "/admin/plugins/{name}", [s](const RequestPtr& request, AuditedReply out) {
        blocking(s, out, [s, request] {
            if (!s.plugins->unload(request->param("name")))
                return problem(404, "no plugin '" + request->param("name") + "'", "Unknown plugin",
                               problemType("unknown-plugin"));
            if (s.changed) s.changed("plugin.unload", request->param("name"), std::nullopt);
            return Response::json(200, "{\"unloaded\":true}");
        });
    }, pluginNamed);
    admin.add(http::verb::post, "/admin/plugins/rescan", [s](const RequestPtr&, AuditedReply out) {
        blocking(s, out, [s] {
            std::string body = "{\"changes\":[";
            bool first = true;
            for (const auto& c : s.plugins->rescan()) {
                if (!first) body += ',';
                first = false;
                appendString(body, c);
            }
            if (s.changed) s.changed("plugin.rescan", "", std::nullopt);
            return Response::json(200, body + "]}");
        });
    });
}

}  // namespace hub::api::detail
