#include "hub/api/AdminRoutes.h"

#include "hub/catalog/Catalog.h"
#include "hub/catalog/Snapshot.h"
#include "hub/events/Relay.h"
#include "hub/host/PluginHost.h"
#include "hub/host/WorkerPool.h"
#include "hub/identity/IdentityDirectory.h"
#include "hub/identity/Syncer.h"
#include "hub/store/AuditLog.h"
#include "hub/store/Database.h"

#include "StoreProblem.h"

#include <Poco/Logger.h>
#include <Poco/NumberParser.h>

namespace hub::api {

namespace {

std::string type(std::string_view slug) { return "urn:campushub:problem:" + std::string(slug); }

Response forbidden() { return problem(403, "this needs the role hub:admin", "Forbidden", type("forbidden")); }

void blocking(host::WorkerPool* pool, Responder out, std::function<Response()> fn) {
    auto task = [out, fn = std::move(fn)] {
        try {
            out.send(fn());
        } catch (const std::exception& e) {
            if (auto unavailable = storeProblem(e, nullptr)) return (void)out.send(std::move(*unavailable));
            Poco::Logger::get("hub.api").error("admin: %s", std::string(e.what()));
            out.send(problem(500, e.what(), "Internal error", type("internal")));
        }
    };
    if (!pool) {
        task();
        return;
    }
    if (!pool->trySubmit(task)) out.send(problem(503, "the hub is busy; retry shortly", "Overloaded", type("overloaded")));
}

void appendList(std::string& out, const char* key, const std::vector<std::string>& values) {
    out += ",\"";
    out += key;
    out += "\":[";
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) out += ',';
        appendString(out, values[i]);
    }
    out += ']';
}

// A person as the API shows it: the mapped fields, not the raw directory entry.
std::string toJson(const identity::Person& p) {
    std::string out = "{\"id\":";
    appendString(out, p.id);
    out += ",\"name\":";
    appendString(out, p.name);
    out += ",\"department\":";
    appendString(out, p.department);
    appendList(out, "audience", p.audience);
    appendList(out, "roles", p.roles);
    appendList(out, "groups", p.groups);
    appendList(out, "emails", p.emails);
    appendList(out, "phones", p.phones);
    out += ",\"status\":";
    appendString(out, p.status == identity::PersonStatus::Active ? "active" : "departed");
    out += ",\"updated_at\":";
    appendString(out, p.updatedAt);
    out += '}';
    return out;
}

std::optional<std::string> personJson(const AdminServices& s, const std::string& id) {
    if (s.directory) {
        if (auto p = s.directory->findById(id); p && p->status == identity::PersonStatus::Active) return toJson(*p);
    }
    if (s.staticPerson) return s.staticPerson(id);
    return std::nullopt;
}

void metric(std::string& out, const char* name, const char* help, const char* kind, double value,
            const std::string& labels = {}) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += kind;
    out += '\n';
    out += name;
    if (!labels.empty()) out += "{" + labels + "}";
    out += ' ';
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", value);
    out += buf;
    out += '\n';
}

}  // namespace

void addAdminRoutes(Router& router, AdminServices s) {
    router.add(http::verb::get, "/api/v1/identities/me", [s](const RequestPtr& request, Responder out) {
        blocking(s.blocking, out, [s, request]() {
            auto json = personJson(s, request->principal.subject);
            if (!json)
                return problem(404, "you are not (or no longer) in the directory", "Unknown person",
                               type("unknown-person"));
            return Response::json(200, std::move(*json));
        });
    });
    router.add(http::verb::get, "/api/v1/identities/{id}", [s](const RequestPtr& request, Responder out) {
        if (!request->principal.hasRole("hub:admin") && request->param("id") != request->principal.subject) {
            out.send(forbidden());
            return;
        }
        blocking(s.blocking, out, [s, request]() {
            auto json = personJson(s, request->param("id"));
            if (!json)
                return problem(404, "no person '" + request->param("id") + "'", "Unknown person",
                               type("unknown-person"));
            return Response::json(200, std::move(*json));
        });
    });
    router.add(http::verb::get, "/api/v1/identities", [s](const RequestPtr& request, Responder out) {
        if (!request->principal.hasRole("hub:admin")) {
            out.send(forbidden());
            return;
        }
        if (!s.directory) {
            out.send(problem(503, "no directory is configured (identity.ldap)", "No directory", type("no-directory")));
            return;
        }
        blocking(s.blocking, out, [s, request]() {
            std::string q, cursor, limitText;
            request->queryParam("q", q);
            request->queryParam("cursor", cursor);
            unsigned limit = 50;
            if (request->queryParam("limit", limitText) &&
                (!Poco::NumberParser::tryParseUnsigned(limitText, limit) || limit == 0 || limit > 1000))
                return problem(400, "limit must be 1..1000", "Invalid query parameter", type("invalid-query"));
            auto page = s.directory->search(q, limit, cursor);
            std::string body = "{\"items\":[";
            for (std::size_t i = 0; i < page.persons.size(); ++i) {
                if (i) body += ',';
                body += toJson(page.persons[i]);
            }
            body += "],\"nextCursor\":";
            appendString(body, page.nextCursor);
            body += '}';
            return Response::json(200, std::move(body));
        });
    });

    router.add(http::verb::get, "/admin/identity/sync", [s](const RequestPtr& request, Responder out) {
        if (!request->principal.hasRole("hub:admin")) return (void)out.send(forbidden());
        if (!s.syncer) return (void)out.send(problem(404, "no directory is configured", "No directory", type("no-directory")));
        blocking(s.blocking, out, [s] { return Response::json(200, s.syncer->status().toJson()); });
    });
    router.add(http::verb::post, "/admin/identity/sync", [s](const RequestPtr& request, Responder out) {
        if (!request->principal.hasRole("hub:admin")) return (void)out.send(forbidden());
        if (!s.syncer) return (void)out.send(problem(404, "no directory is configured", "No directory", type("no-directory")));
        if (s.syncer->isRunning())
            return (void)out.send(problem(409, "a sync is running", "Sync running", type("sync-running")));
        std::string full, force;
        bool runFull = request->queryParam("full", full) && (full == "1" || full == "true");
        bool allow = request->queryParam("allowMassDeparture", force) && (force == "1" || force == "true");
        blocking(s.blocking, out, [s, runFull, allow] {
            if (runFull)
                s.syncer->runFull(allow);
            else
                s.syncer->runIncremental(allow);
            return Response::json(200, s.syncer->status().toJson());
        });
    });

    router.add(http::verb::get, "/admin/events/dead-letters", [s](const RequestPtr& request, Responder out) {
        if (!request->principal.hasRole("hub:admin")) return (void)out.send(forbidden());
        if (!s.relay) return (void)out.send(problem(404, "the event relay is off", "No relay", type("no-relay")));
        blocking(s.blocking, out, [s, request] {
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
    router.add(http::verb::post, "/admin/events/dead-letters/replay", [s](const RequestPtr& request, Responder out) {
        if (!request->principal.hasRole("hub:admin")) return (void)out.send(forbidden());
        if (!s.relay) return (void)out.send(problem(404, "the event relay is off", "No relay", type("no-relay")));
        std::string consumer, id;
        if (!request->queryParam("consumer", consumer) || consumer.empty())
            return (void)out.send(problem(400, "consumer is required", "Invalid query parameter", type("invalid-query")));
        request->queryParam("id", id);
        blocking(s.blocking, out, [s, consumer, id] {
            return Response::json(200, "{\"replayed\":" + std::to_string(s.relay->replay(consumer, id)) + "}");
        });
    });

    router.add(http::verb::get, "/admin/plugins", [s](const RequestPtr& request, Responder out) {
        if (!request->principal.hasRole("hub:admin")) return (void)out.send(forbidden());
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

    router.add(http::verb::post, "/admin/plugins/{name}/reload", [s](const RequestPtr& request, Responder out) {
        if (!request->principal.hasRole("hub:admin")) return (void)out.send(forbidden());
        blocking(s.blocking, out, [s, request] {
            if (!s.plugins->has(request->param("name")))
                return problem(404, "no plugin '" + request->param("name") + "'", "Unknown plugin", type("unknown-plugin"));
            try {
                std::string version = s.plugins->reload(request->param("name"));
                std::string body = "{\"plugin\":";
                appendString(body, request->param("name"));
                body += ",\"version\":";
                appendString(body, version);
                return Response::json(200, body + "}");
            } catch (const host::LoadError& e) {
                return problem(422, e.what(), "New version refused; the running one stays", type("reload-refused"));
            }
        });
    });
    router.add(http::verb::delete_, "/admin/plugins/{name}", [s](const RequestPtr& request, Responder out) {
        if (!request->principal.hasRole("hub:admin")) return (void)out.send(forbidden());
        blocking(s.blocking, out, [s, request] {
            if (!s.plugins->unload(request->param("name")))
                return problem(404, "no plugin '" + request->param("name") + "'", "Unknown plugin", type("unknown-plugin"));
            return Response::json(200, "{\"unloaded\":true}");
        });
    });
    router.add(http::verb::post, "/admin/plugins/rescan", [s](const RequestPtr& request, Responder out) {
        if (!request->principal.hasRole("hub:admin")) return (void)out.send(forbidden());
        blocking(s.blocking, out, [s] {
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

    router.add(http::verb::post, "/admin/catalog/reload", [s](const RequestPtr& request, Responder out) {
        if (!request->principal.hasRole("hub:admin")) return (void)out.send(forbidden());
        blocking(s.blocking, out, [s] {
            // A bad catalogue never replaces a good one: the old snapshot keeps serving.
            auto result = s.catalog->reload();
            if (!result.ok) {
                Response r = problem(422, std::to_string(result.errors.size()) +
                                              " error(s); the catalogue in service is unchanged",
                                     "Catalogue refused", type("catalog-invalid"));
                r.body.pop_back();
                r.body += ",\"errors\":[";
                for (std::size_t i = 0; i < result.errors.size(); ++i) {
                    if (i) r.body += ',';
                    appendString(r.body, result.errors[i].toString());
                }
                r.body += "]}";
                return r;
            }
            return Response::json(200, "{\"version\":" + std::to_string(result.version) + ",\"items\":" +
                                           std::to_string(s.catalog->snapshot()->items().size()) + "}");
        });
    });

    router.add(
        http::verb::get, "/metrics",
        [s](const RequestPtr&, Responder out) {
            Response r;
            r.contentType = "text/plain; version=0.0.4";
            std::string& m = r.body;
            for (const auto& p : s.plugins->list()) {
                std::string labels = "plugin=\"" + p.name + "\"";
                metric(m, "hub_plugin_active_calls", "Calls running, on the plugin's workers or parked on event loops", "gauge",
                       static_cast<double>(p.active), labels);
                metric(m, "hub_plugin_queued_calls", "Calls waiting for their turn (a worker, or the bulkhead on event loops)", "gauge",
                       static_cast<double>(p.queued), labels);
                metric(m, "hub_plugin_calls_total", "Calls completed by the plugin", "counter",
                       static_cast<double>(p.calls), labels);
                metric(m, "hub_plugin_failures_total", "Calls that failed in the vendor system or plugin", "counter",
                       static_cast<double>(p.failures), labels);
                metric(m, "hub_plugin_up", "1 up, 0.5 degraded, 0 down", "gauge",
                       p.status == "up" ? 1.0 : p.status == "degraded" ? 0.5 : 0.0, labels);
            }
            metric(m, "hub_plugins_refused", "Plugins refused at load", "gauge",
                   static_cast<double>(s.plugins->refusals().size()));
            if (s.audit) {
                // A record dropped is a plugin call missing from the audit trail: alert on it.
                metric(m, "hub_audit_records_written_total", "Audit records of plugin calls written", "counter",
                       static_cast<double>(s.audit->written()));
                metric(m, "hub_audit_records_dropped_total",
                       "Audit records lost: the writer's queue was full or a batch failed", "counter",
                       static_cast<double>(s.audit->dropped()));
                metric(m, "hub_audit_queue_depth", "Audit records waiting for the writer", "gauge",
                       static_cast<double>(s.audit->queued()));
            }
            if (s.store) {
                // Whether the store can write (from the writes themselves and its probes), and
                // the failures the application routes and the audit writer met, by reason.
                auto h = s.store->health();
                metric(m, "hub_store_writable",
                       "1 while the store can write; 0 from a full, read-only or failing disk until a probe write "
                       "commits",
                       "gauge", h.writable ? 1.0 : 0.0);
                m += "# HELP hub_store_failures_total Operations refused by the store, by reason\n"
                     "# TYPE hub_store_failures_total counter\n";
                for (std::size_t i = 0; i < h.failures.size(); ++i)
                    m += "hub_store_failures_total{reason=\"" +
                         std::string(store::toString(static_cast<store::StoreFault>(i))) + "\"} " +
                         std::to_string(h.failures[i]) + '\n';
                metric(m, "hub_store_reopens_total", "Times the store reopened its sessions after a fault", "counter",
                       static_cast<double>(h.reopens));
            }
            if (s.relay) {
                auto e = s.relay->metrics();
                metric(m, "hub_events_outbox_depth", "Events not yet settled by the slowest consumer", "gauge",
                       static_cast<double>(e.outboxDepth));
                metric(m, "hub_events_oldest_undelivered_seconds", "Age of the oldest undelivered event", "gauge",
                       e.oldestUndeliveredAgeSeconds);
                metric(m, "hub_events_deliveries_total", "Acknowledged deliveries", "counter",
                       static_cast<double>(e.deliveries));
                metric(m, "hub_events_retries_total", "Failed deliveries rescheduled", "counter",
                       static_cast<double>(e.retries));
                metric(m, "hub_events_dead_letters", "Events in the dead letter store", "gauge",
                       static_cast<double>(e.deadLetters));
                metric(m, "hub_events_inbound_refused_total", "Inbound messages refused", "counter",
                       static_cast<double>(e.inboundRefused));
            }
            out.send(std::move(r));
        },
        false);
}

}  // namespace hub::api
