// GET /admin/audit: the audit trail searched by who acted (person, or its
// alias subject), whose data was accessed (accessed), system and time.
#include "AdminRouteSupport.h"

#include "hub/store/AuditSearch.h"

#include <Poco/NumberParser.h>

namespace hub::api::detail {

namespace {

// "2026-12-01" or "2026-12-01T08:00:00[.mmm][Z]": what the stored ISO 8601
// text compares against. Anything else is refused, so a typo is not an empty answer.
bool isTimestamp(const std::string& t) {
    static const char pattern[] = "dddd-dd-ddTdd:dd:dd";
    if (t.size() != 10 && t.size() < 19) return false;
    for (std::size_t i = 0; i < t.size() && i < 19; ++i) {
        if (pattern[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(t[i])) : t[i] != pattern[i]) return false;
    }
    for (std::size_t i = 19; i < t.size(); ++i)
        if (!std::isdigit(static_cast<unsigned char>(t[i])) && t[i] != '.' && t[i] != 'Z') return false;
    return true;
}

}  // namespace

void appendAuditEntry(std::string& body, const store::AuditEntry& entry) {
    const auto& r = entry.record;
    body += "{\"id\":" + std::to_string(entry.id) + ",\"at\":";
    appendString(body, r.at);
    body += ",\"subject\":";
    appendString(body, r.subject);
    body += ",\"actingFor\":";
    appendString(body, r.actingFor);
    body += ",\"system\":";
    appendString(body, r.system);
    body += ",\"operation\":";
    appendString(body, r.operation);
    body += ",\"outcome\":";
    appendString(body, r.outcome);
    body += ",\"status\":" + std::to_string(r.httpStatus) + ",\"durationUs\":" + std::to_string(r.durationUs) +
            ",\"requestId\":";
    appendString(body, r.requestId);
    body += ",\"clientRequestId\":";
    appendString(body, r.clientRequestId);
    body += ",\"person\":";
    appendString(body, r.person);
    body += '}';
}

void addAuditRoutes(Router& router, const AdminServices& s) {
    const AdminRouter admin(router, s.audit);
    admin.add(http::verb::get, "/admin/audit", [s](const RequestPtr& request, AuditedReply out) {
        if (!s.store) return (void)out.send(problem(404, "no store", "No store", problemType("no-store")));
        store::AuditQuery query;
        request->queryParam("person", query.person);
        if (query.person.empty()) request->queryParam("subject", query.person);
        request->queryParam("accessed", query.accessed);
        request->queryParam("system", query.system);
        request->queryParam("since", query.since);
        request->queryParam("until", query.until);
        auto invalid = [&out](const std::string& detail) {
            out.send(problem(400, detail, "Invalid query parameter", problemType("invalid-query")));
        };
        for (const auto* t : {&query.since, &query.until})
            if (!t->empty() && !isTimestamp(*t))
                return invalid("since and until are ISO 8601 UTC: 2026-12-01 or 2026-12-01T08:00:00");
        std::string text;
        unsigned limit = 100;
        if (request->queryParam("limit", text) &&
            (!Poco::NumberParser::tryParseUnsigned(text, limit) || limit == 0 || limit > 1000))
            return invalid("limit must be 1..1000");
        query.limit = limit;
        if (request->queryParam("before", text)) {
            Poco::Int64 before = 0;
            if (!Poco::NumberParser::tryParse64(text, before) || before <= 0)
                return invalid("before must be a positive row id");
            query.before = before;
        }
        // The flush makes what was queued up to now searchable (the writer commits every few ms).
        blocking(s, out, [s, query] {
            if (s.audit) s.audit->flush();
            auto rows = store::searchAudit(*s.store, query);
            std::string body = "{\"items\":[";
            for (std::size_t i = 0; i < rows.size(); ++i) {
                if (i) body += ',';
                appendAuditEntry(body, rows[i]);
            }
            body += "],\"next\":";
            body += rows.size() == query.limit ? std::to_string(rows.back().id) : std::string("null");
            return Response::json(200, body + "}");
        });
    });
}

}  // namespace hub::api::detail
