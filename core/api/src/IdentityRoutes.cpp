// Persons: one's own record; anyone's for hub:admin, clerks and department
// admins, each with the fields the answer policy gives them; the directory
// search; and the directory sync's status and manual runs.
#include "AdminRouteSupport.h"

#include "hub/api/AdminScope.h"
#include "hub/api/AnswerPolicy.h"
#include "hub/identity/IdentityDirectory.h"
#include "hub/identity/Person.h"
#include "hub/identity/SourcedFields.h"
#include "hub/identity/Syncer.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
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

// Staff who may look a person up: hub:admin, and anyone with a department role.
bool holdsStaffRole(const Principal& p) {
    if (p.hasRole("hub:admin")) return true;
    for (const auto& role : p.roles)
        if (!departmentOfRole(role, "clerk").empty() || !departmentOfRole(role, "admin").empty()) return true;
    return false;
}

AnswerPolicy::Relation relationTo(const Principal& p, const std::string& department) {
    if (!department.empty() && (p.hasRole("dept:" + department + ":clerk") || p.hasRole("dept:" + department + ":admin")))
        return AnswerPolicy::Relation::Department;
    return p.hasRole("hub:admin") ? AnswerPolicy::Relation::Admin : AnswerPolicy::Relation::Other;
}

std::string departmentIn(const std::string& personJson) {
    try {
        Poco::JSON::Parser parser;
        auto object = parser.parse(personJson).extract<Poco::JSON::Object::Ptr>();
        return object->optValue<std::string>("department", "");
    } catch (const Poco::Exception&) {
        return {};
    }
}

const AnswerPolicy& policyOf(const AdminServices& s) {
    static const AnswerPolicy defaults;
    return s.answers ? *s.answers : defaults;
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
    // One's own record; anyone's for staff, with the fields their relation to
    // the person allows (AnswerPolicy); a student's look at another is refused.
    router.add(http::verb::get, "/api/v1/identities/{id}", [s](const RequestPtr& request, Responder out) {
        const std::string& id = request->param("id");
        const Principal& p = request->principal;
        if (id == p.subject) {
            return blocking(s, out, [s, id]() {
                auto json = personJson(s, id);
                if (!json) return problem(404, "no person '" + id + "'", "Unknown person", problemType("unknown-person"));
                return Response::json(200, std::move(*json));
            });
        }
        // Another person's record: every look is in the audit trail, naming whom it was about.
        AuditedReply reply = AuditedReply(request, std::move(out), s.audit).about(id);
        if (!holdsStaffRole(p))
            return (void)reply.send(problem(403, "this is another person's; it needs the role hub:admin or a clerk's",
                                            "Forbidden", problemType("forbidden")));
        blocking(s, reply, [s, id, request]() {
            auto json = personJson(s, id);
            if (!json) return problem(404, "no person '" + id + "'", "Unknown person", problemType("unknown-person"));
            const auto relation = relationTo(request->principal, departmentIn(*json));
            return Response::json(200, policyOf(s).apply(AnswerPolicy::Record::Person, relation, *json));
        });
    });
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
                const auto relation = relationTo(request->principal, page.persons[i].department);
                body += policyOf(s).apply(AnswerPolicy::Record::Person, relation, identity::toJson(page.persons[i]));
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
            if (!report.heldBy.empty()) {
                // Several hubs: the node holding identity.sync runs it, within seconds;
                // GET shows it (lastRunAt, requestsPending).
                const long long id = s.syncer->requestRun(runFull, allow);
                std::string body = "{\"requested\":" + std::to_string(id) + ",\"runsOn\":";
                appendString(body, report.heldBy);
                body += ",\"requestedOn\":";
                appendString(body, s.syncer->nodeId());
                body += ",\"status\":\"/admin/identity/sync\"}";
                return Response::json(202, std::move(body));
            }
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
