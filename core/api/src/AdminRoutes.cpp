#include "hub/api/AdminRoutes.h"

#include "hub/api/RouteAudit.h"
#include "hub/catalog/Catalog.h"
#include "hub/common/Exceptions.h"
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

#include <chrono>

namespace hub::api {

namespace {

std::string type(std::string_view slug) { return "urn:campushub:problem:" + std::string(slug); }

// The answer channel of the admin routes: each answer, whatever it is, goes to
// the audit trail with the actor and its outcome.
class AuditedReply {
public:
    AuditedReply(RequestPtr request, Responder out, store::AuditLog* audit)
        : request_(std::move(request)),
          out_(std::move(out)),
          audit_(audit),
          started_(std::chrono::steady_clock::now()) {}

    bool send(Response response) const {
        unsigned status = response.status;
        if (!out_.send(std::move(response))) return false;
        auto elapsed = std::chrono::steady_clock::now() - started_;
        auditRouteCall(audit_, *request_, status,
                       std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
        return true;
    }

private:
    RequestPtr request_;
    Responder out_;
    store::AuditLog* audit_;
    std::chrono::steady_clock::time_point started_;
};

using AdminHandler = std::function<void(const RequestPtr&, AuditedReply)>;

// hub:admin, checked once by the server before the handler runs; refusals audited.
RouteAccess adminOnly(store::AuditLog* audit) {
    return RouteAccess::role("hub:admin", [audit](const Request& request, const Response& refusal) {
        auditRouteCall(audit, request, refusal.status);
    });
}

// Registers a route for hub:admin only, whose every answer is audited.
void addAdmin(Router& router, store::AuditLog* audit, http::verb method, std::string pattern, AdminHandler handler) {
    router.add(
        method, std::move(pattern),
        [audit, handler = std::move(handler)](const RequestPtr& request, Responder out) {
            handler(request, AuditedReply(request, std::move(out), audit));
        },
        adminOnly(audit));
}

template <class Reply>
// Runs fn on the api pool (database work never runs on an I/O thread). Store
// faults become 503 with their reason and are counted; anything else is a 500.
void blocking(const AdminServices& s, Reply out, std::function<Response()> fn) {
    auto task = [out, store = s.store, fn = std::move(fn)] {
        try {
            out.send(fn());
        } catch (const std::exception& e) {
            if (auto unavailable = storeProblem(e, store)) return (void)out.send(std::move(*unavailable));
            const std::string text = currentExceptionText();
            Poco::Logger::get("hub.api").error("admin: %s", text);
            out.send(problem(500, text, "Internal error", type("internal")));
        } catch (...) {
            Poco::Logger::get("hub.api").error("admin: a handler threw something that is not a std::exception");
            out.send(problem(500, "internal error", "Internal error", type("internal")));
        }
    };
    if (!s.blocking) {
        task();
        return;
    }
    if (!s.blocking->trySubmit(task))
        out.send(problem(503, "the hub is busy; retry shortly", "Overloaded", type("overloaded")));
}

std::optional<std::string> personJson(const AdminServices& s, const std::string& id) {
    if (s.directory) {
        if (auto p = s.directory->findById(id); p && p->status == identity::PersonStatus::Active)
            return identity::toJson(*p);
    }
    if (s.staticPerson) return s.staticPerson(id);
    return std::nullopt;
}

}  // namespace

void addAdminRoutes(Router& router, AdminServices s) {
    auto admin = [&router, audit = s.audit](http::verb method, std::string pattern, AdminHandler handler) {
        addAdmin(router, audit, method, std::move(pattern), std::move(handler));
    };
    router.add(http::verb::get, "/api/v1/identities/me", [s](const RequestPtr& request, Responder out) {
        blocking(s, out, [s, request]() {
            auto json = personJson(s, request->principal.subject);
            if (!json)
                return problem(404, "you are not (or no longer) in the directory", "Unknown person",
                               type("unknown-person"));
            return Response::json(200, std::move(*json));
        });
    });
    // One's own record, or anyone's for hub:admin.
    RouteAccess ownOrAdmin = adminOnly(s.audit);
    ownOrAdmin.ownerParam = "id";
    router.add(
        http::verb::get, "/api/v1/identities/{id}",
        [s](const RequestPtr& request, Responder out) {
            auto read = [s, request]() {
                auto json = personJson(s, request->param("id"));
                if (!json)
                    return problem(404, "no person '" + request->param("id") + "'", "Unknown person",
                                   type("unknown-person"));
                return Response::json(200, std::move(*json));
            };
            if (request->param("id") == request->principal.subject) return blocking(s, out, read);
            blocking(s, AuditedReply(request, std::move(out), s.audit), read);  // an admin's look
        },
        std::move(ownOrAdmin));
    admin(http::verb::get, "/api/v1/identities", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.directory) {
            out.send(problem(503, "no directory is configured (identity.ldap)", "No directory", type("no-directory")));
            return;
        }
        blocking(s, out, [s, request]() {
            std::string q, cursor, limitText;
            request->queryParam("q", q);
            request->queryParam("cursor", cursor);
            unsigned limit = 50;
            if (request->queryParam("limit", limitText) &&
                (!Poco::NumberParser::tryParseUnsigned(limitText, limit) || limit == 0 ||
                 limit > identity::IdentityDirectory::maxPageSize))
                return problem(400, "limit must be 1.." + std::to_string(identity::IdentityDirectory::maxPageSize),
                               "Invalid query parameter", type("invalid-query"));
            auto page = s.directory->search(q, limit, cursor);
            std::string body = "{\"items\":[";
            for (std::size_t i = 0; i < page.persons.size(); ++i) {
                if (i) body += ',';
                identity::appendJson(body, page.persons[i]);
            }
            body += "],\"nextCursor\":";
            appendString(body, page.nextCursor);
            body += '}';
            return Response::json(200, std::move(body));
        });
    });

    admin(http::verb::get, "/admin/identity/sync", [s](const RequestPtr&, AuditedReply out) {
        if (!s.syncer) return (void)out.send(problem(404, "no directory is configured", "No directory", type("no-directory")));
        blocking(s, out, [s] { return Response::json(200, s.syncer->status().toJson()); });
    });
    admin(http::verb::post, "/admin/identity/sync", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.syncer) return (void)out.send(problem(404, "no directory is configured", "No directory", type("no-directory")));
        if (s.syncer->isRunning())
            return (void)out.send(problem(409, "a sync is running", "Sync running", type("sync-running")));
        std::string full, force;
        bool runFull = request->queryParam("full", full) && (full == "1" || full == "true");
        bool allow = request->queryParam("allowMassDeparture", force) && (force == "1" || force == "true");
        blocking(s, out, [s, runFull, allow] {
            identity::SyncReport report = runFull ? s.syncer->runFull(allow) : s.syncer->runIncremental(allow);
            if (report.guarded)
                return problem(409, report.alert, "Departures held by the delete guard", type("delete-guard"));
            if (!report.success)
                return report.directoryError
                           ? problem(502, "the directory sync (" + report.method + ") failed: " + report.error +
                                              "; nothing was departed",
                                     "Directory unavailable", type("directory-unavailable"))
                           : problem(500, "the directory sync (" + report.method + ") failed: " + report.error +
                                              "; nothing was departed",
                                     "Directory sync failed", type("sync-failed"));
            return Response::json(200, s.syncer->status().toJson());
        });
    });

    admin(http::verb::get, "/admin/events/dead-letters", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.relay) return (void)out.send(problem(404, "the event relay is off", "No relay", type("no-relay")));
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
    admin(http::verb::post, "/admin/events/dead-letters/replay", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.relay) return (void)out.send(problem(404, "the event relay is off", "No relay", type("no-relay")));
        std::string consumer, id;
        if (!request->queryParam("consumer", consumer) || consumer.empty())
            return (void)out.send(problem(400, "consumer is required", "Invalid query parameter", type("invalid-query")));
        request->queryParam("id", id);
        blocking(s, out, [s, consumer, id] {
            return Response::json(200, "{\"replayed\":" + std::to_string(s.relay->replay(consumer, id)) + "}");
        });
    });

    admin(http::verb::get, "/admin/plugins", [s](const RequestPtr&, AuditedReply out) {
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

    admin(http::verb::post, "/admin/plugins/{name}/reload", [s](const RequestPtr& request, AuditedReply out) {
        blocking(s, out, [s, request] {
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
    admin(http::verb::delete_, "/admin/plugins/{name}", [s](const RequestPtr& request, AuditedReply out) {
        blocking(s, out, [s, request] {
            if (!s.plugins->unload(request->param("name")))
                return problem(404, "no plugin '" + request->param("name") + "'", "Unknown plugin", type("unknown-plugin"));
            return Response::json(200, "{\"unloaded\":true}");
        });
    });
    admin(http::verb::post, "/admin/plugins/rescan", [s](const RequestPtr&, AuditedReply out) {
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

    admin(http::verb::post, "/admin/catalog/reload", [s](const RequestPtr&, AuditedReply out) {
        blocking(s, out, [s] {
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
}

}  // namespace hub::api
