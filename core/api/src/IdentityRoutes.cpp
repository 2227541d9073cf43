// Persons: one's own record, anyone's for hub:admin, the directory search;
// and the directory sync's status and manual runs.
#include "AdminRouteSupport.h"

#include "hub/identity/IdentityDirectory.h"
#include "hub/identity/Person.h"
#include "hub/identity/SourcedFields.h"
#include "hub/identity/Syncer.h"

#include <Poco/NumberParser.h>

#include <optional>

namespace hub::api::detail {

namespace {

std::optional<std::string> personJson(const AdminServices& s, const std::string& id) {
    if (s.directory) {
        if (auto p = s.directory->findById(id); p && p->status == identity::PersonStatus::Active) {
            if (s.sourcedFields) p->sourced = s.sourcedFields->of(id);
            return identity::toJson(*p);
        }
    }
    if (s.staticPerson) return s.staticPerson(id);
    return std::nullopt;
}

}  // namespace

void addIdentityRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    router.add(http::verb::get, "/api/v1/identities/me", [s](const RequestPtr& request, Responder out) {
        blocking(s, out, [s, request]() {
            auto json = personJson(s, request->principal.subject);
            if (!json)
                return problem(404, "you are not (or no longer) in the directory", "Unknown person",
                               problemType("unknown-person"));
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
                                   problemType("unknown-person"));
                return Response::json(200, std::move(*json));
            };
            if (request->param("id") == request->principal.subject) return blocking(s, out, read);
            blocking(s, AuditedReply(request, std::move(out), s.audit), read);  // an admin's look
        },
        std::move(ownOrAdmin));
    admin.add(http::verb::get, "/api/v1/identities", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.directory) {
            out.send(problem(503, "no directory is configured (identity.ldap)", "No directory",
                             problemType("no-directory")));
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
                               "Invalid query parameter", problemType("invalid-query"));
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
}

void addIdentitySyncRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    admin.add(http::verb::get, "/admin/identity/sync", [s](const RequestPtr&, AuditedReply out) {
        if (!s.syncer)
            return (void)out.send(
                problem(404, "no directory is configured", "No directory", problemType("no-directory")));
        blocking(s, out, [s] { return Response::json(200, s.syncer->status().toJson()); });
    });
    admin.add(http::verb::post, "/admin/identity/sync", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.syncer)
            return (void)out.send(
                problem(404, "no directory is configured", "No directory", problemType("no-directory")));
        if (s.syncer->isRunning())
            return (void)out.send(problem(409, "a sync is running", "Sync running", problemType("sync-running")));
        std::string full, force;
        bool runFull = request->queryParam("full", full) && (full == "1" || full == "true");
        bool allow = request->queryParam("allowMassDeparture", force) && (force == "1" || force == "true");
        blocking(s, out, [s, runFull, allow] {
            identity::SyncReport report = runFull ? s.syncer->runFull(allow) : s.syncer->runIncremental(allow);
            if (report.guarded)
                return problem(409, report.alert, "Departures held by the delete guard", problemType("delete-guard"));
            if (!report.success)
                return report.directoryError ? problem(502,
                                                       "the directory sync (" + report.method +
                                                           ") failed: " + report.error + "; nothing was departed",
                                                       "Directory unavailable", problemType("directory-unavailable"))
                                             : problem(500,
                                                       "the directory sync (" + report.method +
                                                           ") failed: " + report.error + "; nothing was departed",
                                                       "Directory sync failed", problemType("sync-failed"));
            return Response::json(200, s.syncer->status().toJson());
        });
    });
}

}  // namespace hub::api::detail
