// Each plugin's calls and failures per interval (PluginActivity), for the console's chart.
#include "ConsoleApiSupport.h"

#include "hub/api/PluginActivity.h"

namespace hub::api::detail {

void addPluginActivityRoutes(Router& router, const ConsoleApiServices& s) {
    const AdminRouter admin(router, s.audit);
    admin.add(http::verb::get, "/admin/plugins/activity", [s](const RequestPtr&, AuditedReply out) {
        if (!s.activity)
            return (void)out.send(
                problem(404, "plugin activity is not sampled", "No activity", problemType("no-activity")));
        std::string body = "{\"intervalSeconds\":" + std::to_string(s.activity->interval().count()) + ",\"plugins\":[";
        bool firstPlugin = true;
        for (const auto& series : s.activity->series()) {
            if (!firstPlugin) body += ',';
            firstPlugin = false;
            body += "{\"name\":";
            appendString(body, series.plugin);
            body += ",\"points\":[";
            for (std::size_t i = 0; i < series.points.size(); ++i) {
                const auto& p = series.points[i];
                if (i) body += ',';
                body += "{\"at\":" + std::to_string(p.at) + ",\"calls\":" + std::to_string(p.calls) +
                        ",\"failures\":" + std::to_string(p.failures) + "}";
            }
            body += "]}";
        }
        out.send(Response::json(200, body + "]}"));
    });
}

}  // namespace hub::api::detail
