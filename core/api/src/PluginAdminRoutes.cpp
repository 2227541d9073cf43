// The plugin host: refused plugins, reload, unload and rescan of the folder.
#include "AdminRouteSupport.h"

#include "hub/host/PluginHost.h"

namespace hub::api::detail {

void addPluginAdminRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    admin.add(http::verb::get, "/admin/plugins", [s](const RequestPtr&, AuditedReply out) {
        std::string body = "{\"refused\":[";
        bool first = true;
        for (const auto& r : s.plugins->refusals()) {
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
    });

    admin.add(http::verb::post, "/admin/plugins/{name}/reload", [s](const RequestPtr& request, AuditedReply out) {
        blocking(s, out, [s, request] {
            if (!s.plugins->has(request->param("name")))
                return problem(404, "no plugin '" + request->param("name") + "'", "Unknown plugin",
                               problemType("unknown-plugin"));
            try {
                std::string version = s.plugins->reload(request->param("name"));
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
    });
    admin.add(http::verb::delete_, "/admin/plugins/{name}", [s](const RequestPtr& request, AuditedReply out) {
        blocking(s, out, [s, request] {
            if (!s.plugins->unload(request->param("name")))
                return problem(404, "no plugin '" + request->param("name") + "'", "Unknown plugin",
                               problemType("unknown-plugin"));
            return Response::json(200, "{\"unloaded\":true}");
        });
    });
    admin.add(http::verb::post, "/admin/plugins/rescan", [s](const RequestPtr&, AuditedReply out) {
        blocking(s, out, [s] {
            std::string body = "{\"changes\":[";
            bool first = true;
            for (const auto& c : s.plugins->rescan()) {
                if (!first) body += ',';
                first = false;
                appendString(body, c);
            }
            return Response::json(200, body + "]}");
        });
    });
}

}  // namespace hub::api::detail
