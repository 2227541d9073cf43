#include "hub/store/AuditSearch.h"

#include "hub/store/Database.h"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>

namespace hub::store {

std::vector<AuditEntry> searchAudit(Database& db, const AuditQuery& query) {
    // The filters are bound, never spliced into the SQL; only which ones apply
    // changes the text.
    std::string sql =
        "SELECT id, at, subject, acting_for, system, operation, outcome, http_status, duration_us, request_id,"
        " client_request_id, person FROM audit_calls WHERE 1=1";
    std::vector<std::string> texts;
    if (!query.person.empty()) {
        sql += " AND (subject = ? OR acting_for = ?)";
        texts.push_back(query.person);
        texts.push_back(query.person);
    }
    if (!query.accessed.empty()) {
        sql += " AND person = ?";
        texts.push_back(query.accessed);
    }
    if (!query.about.empty()) {
        sql += " AND (subject = ? OR acting_for = ? OR person = ?)";
        for (int i = 0; i < 3; ++i) texts.push_back(query.about);
    }
    if (!query.system.empty()) {
        sql += " AND system = ?";
        texts.push_back(query.system);
    }
    if (!query.since.empty()) {
        sql += " AND at >= ?";
        texts.push_back(query.since);
    }
    if (!query.until.empty()) {
        sql += " AND at < ?";
        texts.push_back(query.until);
    }
    if (query.before > 0) sql += " AND id < " + std::to_string(query.before);
    sql += " ORDER BY id DESC LIMIT " + std::to_string(query.limit);

    auto session = db.session();
    Poco::Data::Statement select(session);
    select << store::sql(db.dialect(), sql);
    for (auto& t : texts) select, Poco::Data::Keywords::use(t);
    select.execute();
    Poco::Data::RecordSet rows(select);
    std::vector<AuditEntry> out;
    out.reserve(rows.rowCount());
    for (bool more = rows.moveFirst(); more; more = rows.moveNext()) {
        AuditEntry e;
        e.id = rows["id"].convert<std::int64_t>();
        e.record.at = rows["at"].convert<std::string>();
        e.record.subject = rows["subject"].convert<std::string>();
        e.record.actingFor = rows["acting_for"].convert<std::string>();
        e.record.system = rows["system"].convert<std::string>();
        e.record.operation = rows["operation"].convert<std::string>();
        e.record.outcome = rows["outcome"].convert<std::string>();
        e.record.httpStatus = rows["http_status"].convert<int>();
        e.record.durationUs = rows["duration_us"].convert<std::int64_t>();
        e.record.requestId = rows["request_id"].convert<std::string>();
        e.record.clientRequestId = rows["client_request_id"].convert<std::string>();
        e.record.person = rows["person"].convert<std::string>();
        out.push_back(std::move(e));
    }
    return out;
}

}  // namespace hub::store
