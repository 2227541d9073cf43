#pragma once

#include "hub/store/AuditLog.h"

#include <cstdint>
#include <string>
#include <vector>

namespace hub::store {

class Database;

/// What to look for in the audit trail; empty fields do not filter.
struct AuditQuery {
    std::string person;       ///< The caller: matches the subject or the user a service acted for.
    std::string accessed;     ///< The person whose data a call read (AuditRecord::person).
    std::string about;        ///< Every row about this person: as caller, acted for, or accessed.
    std::string system;       ///< The plugin called ("" for the admin routes' own records).
    std::string since;        ///< ISO 8601 UTC, inclusive ("2026-12-01" or "2026-12-01T08:00:00").
    std::string until;        ///< ISO 8601 UTC, exclusive.
    std::int64_t before = 0;  ///< Only rows older than this id (paging: the last id of a page).
    std::size_t limit = 100;  ///< At most this many rows, newest first.
};

/// One stored audit row with its id.
struct AuditEntry {
    std::int64_t id = 0;
    AuditRecord record;
};

/// Searches the audit trail (audit_calls), newest first. Uses the (subject, at),
/// (person, at) and (at) indexes; a search by system alone scans. Throws StoreUnavailable
/// like every store read.
std::vector<AuditEntry> searchAudit(Database& db, const AuditQuery& query);

}  // namespace hub::store
