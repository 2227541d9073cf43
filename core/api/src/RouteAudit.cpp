#include "hub/api/RouteAudit.h"

#include "hub/store/AuditLog.h"

namespace hub::api {

namespace {

const char* outcomeOf(unsigned status) {
    if (status < 400) return "ok";
    switch (status) {
        case 400:
            return "invalid_argument";
        case 403:
            return "forbidden";
        case 404:
            return "not_found";
        case 409:
            return "conflict";
        case 412:
            return "precondition_failed";
        case 422:
            return "refused";
        case 503:
            return "unavailable";
        default:
            return status >= 500 ? "error" : "failed";
    }
}

}  // namespace

void auditRouteCall(store::AuditLog* audit, const Request& request, unsigned status, std::int64_t durationUs,
                    std::string person) {
    if (!audit) return;
    store::AuditRecord record;
    const Principal& p = request.principal;
    record.subject = p.viaService.empty() ? p.subject : p.viaService;
    record.actingFor = p.viaService.empty() ? std::string() : p.subject;
    auto method = request.message.method_string();
    record.operation.assign(method.data(), method.size());
    record.operation += ' ';
    // The path is the client's: bounded, and kept to printable ASCII for whoever reads the trail.
    for (char c : request.path.substr(0, 512)) record.operation += c > 0x20 && c < 0x7f ? c : '?';
    record.outcome = outcomeOf(status);
    record.httpStatus = static_cast<int>(status);
    record.durationUs = durationUs;
    record.requestId = request.requestId;
    record.clientRequestId = request.clientRequestId;
    record.person = std::move(person);
    audit->record(std::move(record));
}

}  // namespace hub::api
