// A person's own data: GET /api/v1/me/export.
#include "hub/api/PrivacyRoutes.h"

#include "AdminRouteSupport.h"

#include "hub/flows/PersonalData.h"
#include "hub/identity/IdentityDirectory.h"
#include "hub/identity/Person.h"
#include "hub/store/AuditLog.h"
#include "hub/store/AuditSearch.h"

namespace hub::api {

namespace detail {
void addRetentionRoutes(Router& router, const PrivacyServices& s);
}

namespace {

// The person's whole record: the directory's, departed or not, else identity.static.
std::optional<std::string> wholeRecord(const AdminServices& s, const std::string& id) {
    if (s.directory)
        if (auto p = s.directory->findById(id)) return identity::toJson(*p);
    if (s.staticPerson) return s.staticPerson(id);
    return std::nullopt;
}

}  // namespace

void addPrivacyRoutes(Router& router, PrivacyServices s) {
    router.add(http::verb::get, "/api/v1/me/export", [s](const RequestPtr& request, Responder out) {
        const std::string me = request->principal.subject;
        detail::AuditedReply reply = detail::AuditedReply(request, std::move(out), s.admin.audit).about(me);
        detail::blocking(s.admin, reply, [s, me] {
            std::string body = "{\"subject\":";
            appendString(body, me);
            body += ",\"exportedAt\":";
            appendString(body, store::AuditLog::formatTime(std::chrono::system_clock::now()));
            body += ",\"identity\":";
            body += wholeRecord(s.admin, me).value_or("null");
            if (s.applications && s.admin.store) {
                std::string flows = flows::personalDataJson(*s.applications, *s.admin.store, me);
                body += ',' + flows.substr(1, flows.size() - 2);  // its members, without the braces
            }
            body += ",\"audit\":[";
            if (s.admin.store) {
                if (s.admin.audit) s.admin.audit->flush();
                store::AuditQuery query;
                query.about = me;
                query.limit = 10000;
                auto rows = store::searchAudit(*s.admin.store, query);
                for (std::size_t i = 0; i < rows.size(); ++i) {
                    if (i) body += ',';
                    detail::appendAuditEntry(body, rows[i]);
                }
            }
            return Response::json(200, body + "]}");
        });
    });
    detail::addRetentionRoutes(router, s);
}

}  // namespace hub::api
