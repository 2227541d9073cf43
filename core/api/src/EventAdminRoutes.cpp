// The relay's dead letters: listing them and replaying them. A department
// admin sees and replays those about its departments' applications (the
// event's subject); replaying a consumer's whole queue stays hub:admin's.
#include "AdminRouteSupport.h"

#include "hub/api/AdminScope.h"
#include "hub/events/Relay.h"

namespace hub::api::detail {

namespace {

bool inScope(const AdminServices& s, const AdminScope& scope, const events::DeadLetter& d) {
    if (scope.global) return true;
    return s.applicationDepartment && scope.covers(s.applicationDepartment(d.subject));
}

}  // namespace

void addDeadLetterRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    admin.add(http::verb::get, "/admin/events/dead-letters", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.relay)
            return (void)out.send(problem(404, "the event relay is off", "No relay", problemType("no-relay")));
        blocking(s, out, [s, request] {
            std::string consumer;
            request->queryParam("consumer", consumer);
            const AdminScope scope = AdminScope::of(request->principal);
            std::string body = "{\"items\":[";
            bool first = true;
            for (const auto& d : s.relay->deadLetters(consumer, scope.global ? 100 : 1000, 0)) {
                if (!inScope(s, scope, d)) continue;
                if (!first) body += ',';
                first = false;
                body += "{\"consumer\":";
                appendString(body, d.consumer);
                body += ",\"seq\":" + std::to_string(d.seq) + ",\"id\":";
                appendString(body, d.id);
                body += ",\"type\":";
                appendString(body, d.type);
                body += ",\"subject\":";
                appendString(body, d.subject);
                body += ",\"attempts\":" + std::to_string(d.attempts) + ",\"lastError\":";
                appendString(body, d.lastError);
                body += ",\"deadAt\":" + std::to_string(d.deadAt) + "}";
            }
            body += "]}";
            return Response::json(200, std::move(body));
        });
    }, anyDepartment);
    admin.add(http::verb::post, "/admin/events/dead-letters/replay", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.relay)
            return (void)out.send(problem(404, "the event relay is off", "No relay", problemType("no-relay")));
        std::string consumer, id;
        if (!request->queryParam("consumer", consumer) || consumer.empty())
            return (void)out.send(
                problem(400, "consumer is required", "Invalid query parameter", problemType("invalid-query")));
        request->queryParam("id", id);
        const AdminScope scope = AdminScope::of(request->principal);
        if (!scope.global && id.empty())
            return (void)out.send(outsideScope("replaying every dead letter of consumer '" + consumer + "'"));
        blocking(s, out, [s, consumer, id, scope] {
            if (!scope.global) {
                bool mine = false;
                for (const auto& d : s.relay->deadLetters(consumer, 1000, 0))
                    if (d.id == id) mine = inScope(s, scope, d);
                if (!mine) return outsideScope("dead letter '" + id + "'");
            }
            return Response::json(200, "{\"replayed\":" + std::to_string(s.relay->replay(consumer, id)) + "}");
        });
    }, anyDepartment);
}

}  // namespace hub::api::detail
