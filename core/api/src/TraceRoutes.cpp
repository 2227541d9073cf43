// GET /admin/applications/{id}/trace: every hop of one application (API calls,
// flow steps, plugin calls with the vendor's answer status, events delivered,
// decisions received), in the order they happened, under its trace id.
#include "AdminRouteSupport.h"

#include "hub/store/TraceLog.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

namespace hub::api::detail {

namespace {

std::string isoTime(std::int64_t ms) {
    return Poco::DateTimeFormatter::format(Poco::Timestamp(ms * 1000), "%Y-%m-%dT%H:%M:%S.%iZ");
}

void appendHop(std::string& body, const store::TraceHop& hop) {
    body += "{\"at\":";
    appendString(body, isoTime(hop.atMs));
    body += ",\"kind\":";
    appendString(body, hop.kind);
    body += ",\"name\":";
    appendString(body, hop.name);
    body += ",\"outcome\":";
    appendString(body, hop.outcome);
    body += ",\"detail\":";
    appendString(body, hop.detail);
    body += ",\"duration_ms\":";
    body += hop.durationMs < 0 ? std::string("null") : std::to_string(hop.durationMs);
    body += ",\"trace_id\":";
    appendString(body, hop.traceId);
    body += '}';
}

}  // namespace

void addTraceRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    admin.add(http::verb::get, "/admin/applications/{id}/trace", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.store) return (void)out.send(problem(404, "no store", "No store", problemType("no-store")));
        const std::string id = request->param("id");
        blocking(s, out, [s, id] {
            auto trace = store::TraceLog(*s.store).list(id);
            if (!trace)
                return problem(404, "no trace is kept for application '" + id + "'", "Unknown application",
                               problemType("unknown-application"));
            std::string body = "{\"application_id\":";
            appendString(body, id);
            body += ",\"trace_id\":";
            appendString(body, trace->traceId);
            body += ",\"hops\":[";
            for (std::size_t i = 0; i < trace->hops.size(); ++i) {
                if (i) body += ',';
                appendHop(body, trace->hops[i]);
            }
            body += "]}";
            return Response::json(200, std::move(body));
        });
    });
}

}  // namespace hub::api::detail
