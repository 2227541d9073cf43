#include "hub/api/MetricsRoutes.h"

#include "hub/events/Relay.h"
#include "hub/flows/FlowRunner.h"
#include "hub/store/Database.h"
#include "hub/host/PluginHost.h"
#include "hub/store/AuditLog.h"

namespace hub::api {

std::string renderMetrics(const MetricsServices& s) {
    using Type = MetricsText::Type;
    MetricsText text;
    std::vector<std::string> loaded;
    if (s.plugins) {
        auto& active = text.family("hub_plugin_active_calls",
                                   "Calls running, on the plugin's workers or parked on event loops", Type::Gauge);
        auto& queued = text.family("hub_plugin_queued_calls",
                                   "Calls waiting for their turn (a worker, or the bulkhead on event loops)",
                                   Type::Gauge);
        auto& calls = text.family("hub_plugin_calls_total", "Calls completed by the plugin", Type::Counter);
        auto& failures =
            text.family("hub_plugin_failures_total", "Calls that failed in the vendor system or plugin", Type::Counter);
        auto& up = text.family("hub_plugin_up", "1 up, 0.5 degraded, 0 down", Type::Gauge);
        for (const auto& p : s.plugins->list()) {
            MetricsText::Labels labels = {{"plugin", p.name}};
            active.add(static_cast<double>(p.active), labels);
            queued.add(static_cast<double>(p.queued), labels);
            calls.add(static_cast<double>(p.calls), labels);
            failures.add(static_cast<double>(p.failures), labels);
            up.add(p.status == "up" ? 1.0 : p.status == "degraded" ? 0.5 : 0.0, labels);
            loaded.push_back(p.name);
        }
        text.family("hub_plugins_refused", "Plugins refused at load", Type::Gauge)
            .add(static_cast<double>(s.plugins->refusals().size()));
    }
    if (s.audit) {
        // A record dropped is a plugin call missing from the audit trail: alert on it.
        text.family("hub_audit_records_written_total", "Audit records of plugin calls written", Type::Counter)
            .add(static_cast<double>(s.audit->written()));
        text.family("hub_audit_records_dropped_total",
                    "Audit records lost: the writer's queue was full or a batch failed", Type::Counter)
            .add(static_cast<double>(s.audit->dropped()));
        text.family("hub_audit_queue_depth", "Audit records waiting for the writer", Type::Gauge)
            .add(static_cast<double>(s.audit->queued()));
    }
    if (s.store) {
        // Whether the store can write (from the writes themselves and its probes), and
        // the failures the routes, the relay and the audit writer met, by reason.
        auto h = s.store->health();
        // Which database this node uses and its node id (several hubs on one PostgreSQL).
        text.family("hub_store_info", "The store's backend and this node's id (store.nodeId); always 1",
                    Type::Gauge)
            .add(1.0, {{"backend", store::toString(s.store->dialect())}, {"node", s.store->nodeId()}});
        text.family("hub_store_writable",
                    "1 while the store can write; 0 from a full, read-only or failing disk until a probe write commits",
                    Type::Gauge)
            .add(h.writable ? 1.0 : 0.0);
        auto& failures = text.family("hub_store_failures_total", "Operations refused by the store, by reason",
                                     Type::Counter);
        for (std::size_t i = 0; i < h.failures.size(); ++i)
            failures.add(static_cast<double>(h.failures[i]),
                         {{"reason", store::toString(static_cast<store::StoreFault>(i))}});
        text.family("hub_store_reopens_total", "Times the store reopened its sessions after a fault", Type::Counter)
            .add(static_cast<double>(h.reopens));
    }
    if (s.flows) {
        // A message expiring unused is a vendor's report no flow took: alert on it.
        text.family("hub_flow_messages_buffered", "Flow messages kept for a wait that has not begun", Type::Gauge)
            .add(static_cast<double>(s.flows->bufferedMessages()));
        text.family("hub_flow_messages_expired_total",
                    "Kept flow messages dropped unused when their time-to-live ran out", Type::Counter)
            .add(static_cast<double>(s.flows->expiredMessages()));
    }
    if (s.relay) {
        auto e = s.relay->metrics();
        text.family("hub_events_outbox_depth", "Events not yet settled by the slowest consumer", Type::Gauge)
            .add(static_cast<double>(e.outboxDepth));
        text.family("hub_events_oldest_undelivered_seconds", "Age of the oldest undelivered event", Type::Gauge)
            .add(e.oldestUndeliveredAgeSeconds);
        text.family("hub_events_deliveries_total", "Acknowledged deliveries", Type::Counter)
            .add(static_cast<double>(e.deliveries));
        text.family("hub_events_retries_total", "Failed deliveries rescheduled", Type::Counter)
            .add(static_cast<double>(e.retries));
        text.family("hub_events_dead_letters", "Events in the dead letter store", Type::Gauge)
            .add(static_cast<double>(e.deadLetters));
        text.family("hub_events_inbound_refused_total", "Inbound messages refused", Type::Counter)
            .add(static_cast<double>(e.inboundRefused));
        text.family("hub_events_inbound_unavailable_total",
                    "Inbound messages refused because the store failed (the sender retries)", Type::Counter)
            .add(static_cast<double>(e.inboundUnavailable));
        text.family("hub_events_handshakes_refused_total",
                    "CURVE handshakes refused (unknown key, or a socket the peer may not use)", Type::Counter)
            .add(static_cast<double>(e.handshakesRefused));
    }
    if (s.requests) s.requests->render(text, loaded);
    return text.str();
}

void addMetricsRoutes(Router& router, MetricsServices s) {
    router.add(
        http::verb::get, "/metrics",
        [s](const RequestPtr& request, Responder out) {
            if (s.requireToken && !request->principal.hasRole("hub:admin") &&
                !request->principal.hasRole(kMetricsRole)) {
                out.send(problem(403, std::string("this needs the role hub:admin or ") + kMetricsRole, "Forbidden",
                                 "urn:campushub:problem:forbidden"));
                return;
            }
            Response r;
            r.contentType = "text/plain; version=0.0.4; charset=utf-8";
            r.body = renderMetrics(s);
            out.send(std::move(r));
        },
        s.requireToken);
}

}  // namespace hub::api
