// GET /admin/cluster: this node, its store, and which node holds each lease
// (several hubs on one PostgreSQL, issue 17; docs/store.md "Leases").
#include "AdminRouteSupport.h"

#include "hub/store/Database.h"
#include "hub/store/Lease.h"

#include <Poco/Data/Session.h>

namespace hub::api::detail {

void addClusterRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    admin.add(http::verb::get, "/admin/cluster", [s](const RequestPtr&, AuditedReply out) {
        blocking(s, out, [s] {
            if (!s.store) return problem(503, "this hub has no store", "Unavailable", problemType("unavailable"));
            std::string body = "{\"node\":";
            appendString(body, s.store->nodeId());
            body += ",\"backend\":";
            appendString(body, store::toString(s.store->dialect()));
            if (s.changesGeneration) body += ",\"changes_generation\":" + std::to_string(s.changesGeneration());
            body += ",\"leases\":[";
            // Every lease ever taken has a row; an expired one is nobody's.
            std::vector<std::string> names;
            if (s.store->hasTable("store_leases")) {
                Poco::Data::Session session = s.store->session();
                session << "SELECT name FROM store_leases ORDER BY name", Poco::Data::Keywords::into(names),
                    Poco::Data::Keywords::now;
            }
            bool first = true;
            for (const auto& name : names) {
                auto holder = store::Lease::current(*s.store, name);
                if (!first) body += ',';
                first = false;
                body += "{\"name\":";
                appendString(body, name);
                body += ",\"holder\":";
                if (holder) {
                    appendString(body, holder->node);
                    body += ",\"token\":" + std::to_string(holder->token) +
                            ",\"expires_at_ms\":" + std::to_string(holder->expiresAtMs) + ",\"this_node\":" +
                            (holder->node == s.store->nodeId() ? "true" : "false");
                } else {
                    body += "null";
                }
                body += '}';
            }
            return Response::json(200, body + "]}");
        });
    });
}

}  // namespace hub::api::detail
