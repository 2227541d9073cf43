// The relay's dead letters: listing them and replaying them.
#include "AdminRouteSupport.h"

#include "hub/events/Relay.h"

namespace hub::api::detail {

void addDeadLetterRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    admin.add(http::verb::get, "/admin/events/dead-letters", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.relay)
            return (void)out.send(problem(404, "the event relay is off", "No relay", problemType("no-relay")));
        blocking(s, out, [s, request] {
            std::string consumer;
            request->queryParam("consumer", consumer);
            std::string body = "{\"items\":[";
            bool first = true;
            for (const auto& d : s.relay->deadLetters(consumer, 100, 0)) {
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
    });
    admin.add(http::verb::post, "/admin/events/dead-letters/replay", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.relay)
            return (void)out.send(problem(404, "the event relay is off", "No relay", problemType("no-relay")));
        std::string consumer, id;
        if (!request->queryParam("consumer", consumer) || consumer.empty())
            return (void)out.send(
                problem(400, "consumer is required", "Invalid query parameter", problemType("invalid-query")));
        request->queryParam("id", id);
        blocking(s, out, [s, consumer, id] {
            return Response::json(200, "{\"replayed\":" + std::to_string(s.relay->replay(consumer, id)) + "}");
        });
    });
}

}  // namespace hub::api::detail
