// Retention: a run on demand, the last reports, and legal holds on applications.
#include "hub/api/PrivacyRoutes.h"

#include "AdminRouteSupport.h"

#include "hub/api/AdminScope.h"
#include "hub/common/Utf8.h"
#include "hub/flows/ApplicationService.h"
#include "hub/flows/Retention.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/NumberParser.h>

namespace hub::api::detail {

namespace {

std::string holdReason(const Request& request) {
    const std::string& body = request.message.body();
    if (body.empty()) throw std::invalid_argument("a legal hold needs a body {\"reason\": \"...\"}");
    if (!isValidUtf8(body)) throw std::invalid_argument("the body is not valid UTF-8");
    Poco::JSON::Object::Ptr object;
    try {
        Poco::JSON::Parser parser;
        object = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        throw std::invalid_argument("the body is not a JSON object: " + e.message());
    }
    auto reason = object->get("reason");
    if (!reason.isString() || reason.extract<std::string>().empty())
        throw std::invalid_argument("'reason' must be a non-empty string");
    if (reason.extract<std::string>().size() > 2000) throw std::invalid_argument("'reason' is longer than 2000 bytes");
    return reason.extract<std::string>();
}

Response invalidRequest(const std::string& detail) {
    return problem(400, detail, "Invalid request", problemType("invalid-request"));
}

}  // namespace

void addRetentionRoutes(Router& router, const PrivacyServices& s) {
    if (!s.retention || !s.applications) return;
    const AdminRouter admin(router, s.admin.audit);
    admin.add(http::verb::post, "/admin/retention/run", [s](const RequestPtr& request, AuditedReply out) {
        blocking(s.admin, out, [s, actor = request->principal.subject] {
            return Response::json(200, s.retention->run(actor).toJson());
        });
    });
    admin.add(http::verb::get, "/admin/retention/runs", [s](const RequestPtr& request, AuditedReply out) {
        std::string text;
        unsigned limit = 20;
        if (request->queryParam("limit", text) &&
            (!Poco::NumberParser::tryParseUnsigned(text, limit) || limit == 0 || limit > 1000))
            return (void)out.send(invalidRequest("limit must be 1..1000"));
        blocking(s.admin, out, [s, limit] {
            std::string body = "{\"items\":[";
            auto reports = s.retention->reports(limit);
            for (std::size_t i = 0; i < reports.size(); ++i) body += (i ? "," : "") + reports[i];
            return Response::json(200, body + "]}");
        });
    });
    // hub:admin, or the admin of the application's department (checked once it is read).
    for (const auto method : {http::verb::put, http::verb::delete_}) {
        admin.add(
            method, "/admin/applications/{id}/legal-hold",
            [s, method](const RequestPtr& request, AuditedReply out) {
                blocking(s.admin, out, [s, method, request] {
                    const std::string& id = request->param("id");
                    auto application = s.applications->find(id);
                    if (!application)
                        return problem(404, "no application " + id, "Unknown application",
                                       problemType("unknown-application"));
                    if (!AdminScope::of(request->principal).covers(application->department))
                        return outsideScope("application " + id);
                    if (method == http::verb::delete_) {
                        if (!s.retention->release(id))
                            return problem(404, "application " + id + " is not held", "No legal hold",
                                           problemType("no-legal-hold"));
                        std::string released = "{\"application_id\":";
                        appendString(released, id);
                        return Response::json(200, released + ",\"held\":false}");
                    }
                    std::string reason;
                    try {
                        reason = holdReason(*request);
                    } catch (const std::invalid_argument& e) {
                        return invalidRequest(e.what());
                    }
                    s.retention->hold(id, reason, request->principal.subject);
                    auto hold = s.retention->holdOf(id);
                    std::string body = "{\"application_id\":";
                    appendString(body, id);
                    body += ",\"held\":true,\"reason\":";
                    appendString(body, hold ? hold->reason : reason);
                    body += ",\"held_by\":";
                    appendString(body, hold ? hold->heldBy : request->principal.subject);
                    body += ",\"held_at\":";
                    appendString(body, hold ? hold->heldAt : std::string());
                    return Response::json(200, body + "}");
                });
            },
            anyDepartment);
    }
}

}  // namespace hub::api::detail
