#pragma once

#include "hub/api/Http.h"

#include <cstdint>
#include <string>

namespace hub::store {
class AuditLog;
}

namespace hub::api {

/// Writes an answer of one of the hub's own routes (not a plugin's) to the audit
/// trail: the actor (and whom a service acted for), "METHOD /path" as operation
/// with system left empty, an outcome named after the status ("ok", "forbidden",
/// "not_found", ...), the status and duration. Only queues (AuditLog::record);
/// nothing when audit is null. person names whose personal data the call read
/// (the audit search by the person accessed, docs/privacy.md).
void auditRouteCall(store::AuditLog* audit, const Request& request, unsigned status, std::int64_t durationUs = 0,
                    std::string person = {});

}  // namespace hub::api
