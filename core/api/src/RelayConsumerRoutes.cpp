// The relay's consumers: how far behind each is, for the console's overview.
#include "ConsoleApiSupport.h"

#include "hub/events/Relay.h"

namespace hub::api::detail {

void addRelayConsumerRoutes(Router& router, const ConsoleApiServices& s) {
    const AdminRouter admin(router, s.audit);
    admin.add(http::verb::get, "/admin/events/consumers", [s](const RequestPtr&, AuditedReply out) {
        if (!s.relay)
            return (void)out.send(problem(404, "the event relay is off", "No relay", problemType("no-relay")));
        // metrics() reads the relay's board, no database: answered on the I/O thread.
        auto m = s.relay->metrics();
        std::string body = "{\"deadLetters\":" + std::to_string(m.deadLetters) + ",\"consumers\":[";
        for (std::size_t i = 0; i < m.consumers.size(); ++i) {
            const auto& c = m.consumers[i];
            if (i) body += ',';
            body += "{\"name\":";
            appendString(body, c.name);
            body += ",\"cursor\":" + std::to_string(c.cursor) + ",\"depth\":" + std::to_string(c.depth) +
                    ",\"inFlight\":" + std::to_string(c.inFlight) +
                    ",\"oldestUndeliveredSeconds\":" + std::to_string(c.oldestUndeliveredAgeSeconds) +
                    ",\"delivering\":" + (c.delivering ? "true" : "false") +
                    ",\"deliveries\":" + std::to_string(c.deliveries) + ",\"retries\":" + std::to_string(c.retries) +
                    ",\"deadLettered\":" + std::to_string(c.deadLettered) + "}";
        }
        out.send(Response::json(200, body + "]}"));
    });
}

}  // namespace hub::api::detail
