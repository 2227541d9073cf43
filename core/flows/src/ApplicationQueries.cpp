// Reading applications back: one with its transitions (load, find, get) and a
// filtered page of them (list), each from one read transaction's snapshot.
#include "hub/flows/ApplicationService.h"

#include "StoredForms.h"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>
#include <Poco/Data/Transaction.h>
#include <Poco/Exception.h>

#include <algorithm>

using namespace Poco::Data::Keywords;

namespace hub::flows {

namespace {

const char* const kColumns =
    "id, item_id, applicant, submitted_by, department, handler, status, form, materials, submitted_at,"
    " updated_at, time_limit_days, due_date, completed_at, result, version";

}  // namespace

namespace {

// Row `row` of a SELECT of kColumns; the application's transitions and overdue flag are the caller's.
Application applicationAt(Poco::Data::RecordSet& rs, std::size_t row) {
    Application a;
    auto text = [&](std::size_t col) { return rs.value(col, row).convert<std::string>(); };
    a.id = text(0);
    a.itemId = text(1);
    a.applicant = text(2);
    a.submittedBy = text(3);
    a.department = text(4);
    a.handler = text(5);
    auto status = parseApplicationStatus(text(6));
    if (!status) throw Poco::DataFormatException("flows_applications " + a.id + ": unknown status " + text(6));
    a.status = *status;
    a.formJson = text(7);
    a.materials = detail::parseMaterials(text(8));
    a.submittedAt = text(9);
    a.updatedAt = text(10);
    a.timeLimitDays = rs.value(11, row).convert<int>();
    a.dueDate = text(12);
    a.completedAt = text(13);
    a.resultJson = text(14);
    a.version = rs.value(15, row).convert<std::int64_t>();
    return a;
}

// Row `row` of a SELECT of seq, from_status, to_status, actor, at, reason starting at column `first`.
Transition transitionAt(Poco::Data::RecordSet& ts, std::size_t row, std::size_t first, const std::string& id) {
    Transition t;
    t.sequence = ts.value(first, row).convert<std::int64_t>();
    t.from = parseApplicationStatus(ts.value(first + 1, row).convert<std::string>());
    auto to = parseApplicationStatus(ts.value(first + 2, row).convert<std::string>());
    if (!to) throw Poco::DataFormatException("flows_transitions " + id + ": unknown status");
    t.to = *to;
    t.actor = ts.value(first + 3, row).convert<std::string>();
    t.at = ts.value(first + 4, row).convert<std::string>();
    t.reason = ts.value(first + 5, row).convert<std::string>();
    return t;
}

}  // namespace

std::optional<Application> ApplicationService::load(Poco::Data::Session& session, const std::string& id) {
    Poco::Data::Statement select(session);
    std::string key = id;
    select << store::sql(session, std::string("SELECT ") + kColumns + " FROM flows_applications WHERE id = ?"),
        use(key), now;
    Poco::Data::RecordSet rs(select);
    if (rs.rowCount() == 0) return std::nullopt;
    Application a = applicationAt(rs, 0);

    Poco::Data::Statement transitions(session);
    transitions << store::sql(session,
                              "SELECT seq, from_status, to_status, actor, at, reason FROM flows_transitions"
                              " WHERE application_id = ? ORDER BY seq"),
        use(key), now;
    Poco::Data::RecordSet ts(transitions);
    for (std::size_t row = 0; row < ts.rowCount(); ++row) a.transitions.push_back(transitionAt(ts, row, 0, id));
    fillOverdue(a);
    return a;
}

std::map<std::string, Application> ApplicationService::findMany(const std::vector<std::string>& ids) {
    std::map<std::string, Application> out;
    if (ids.empty()) return out;
    Poco::Data::Session s = db_.session();
    Poco::Data::Transaction tx(s, true);
    // PostgreSQL reads each statement at its own snapshot unless told otherwise.
    if (db_.dialect() == store::Dialect::PostgreSql) s << "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", now;
    constexpr std::size_t kChunk = 500;  // ids a statement: well inside both backends' parameter limits
    for (std::size_t from = 0; from < ids.size(); from += kChunk) {
        std::vector<std::string> chunk(ids.begin() + static_cast<std::ptrdiff_t>(from),
                                       ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), from + kChunk)));
        std::string in;
        for (std::size_t i = 0; i < chunk.size(); ++i) in += i ? ", ?" : "?";
        Poco::Data::Statement select(s);
        select << store::sql(s, std::string("SELECT ") + kColumns + " FROM flows_applications WHERE id IN (" + in + ")");
        for (auto& id : chunk) select, use(id);
        select.execute();
        Poco::Data::RecordSet rs(select);
        for (std::size_t row = 0; row < rs.rowCount(); ++row) {
            Application a = applicationAt(rs, row);
            std::string id = a.id;
            out.emplace(std::move(id), std::move(a));
        }
        Poco::Data::Statement transitions(s);
        transitions << store::sql(s,
                                  "SELECT application_id, seq, from_status, to_status, actor, at, reason"
                                  " FROM flows_transitions WHERE application_id IN (" + in +
                                      ") ORDER BY application_id, seq");
        for (auto& id : chunk) transitions, use(id);
        transitions.execute();
        Poco::Data::RecordSet ts(transitions);
        for (std::size_t row = 0; row < ts.rowCount(); ++row) {
            const std::string id = ts.value(0, row).convert<std::string>();
            auto it = out.find(id);
            if (it != out.end()) it->second.transitions.push_back(transitionAt(ts, row, 1, id));
        }
    }
    tx.commit();
    for (auto& [id, a] : out) fillOverdue(a);
    return out;
}

std::optional<Application> ApplicationService::find(const std::string& id) {
    Poco::Data::Session s = db_.session();
    // One read transaction: the row and its transitions from the same snapshot.
    Poco::Data::Transaction tx(s, true);
    auto a = load(s, id);
    tx.commit();
    return a;
}

Application ApplicationService::get(const std::string& id) {
    auto a = find(id);
    if (!a) throw ApplicationNotFound(id);
    return *a;
}

ApplicationService::ListResult ApplicationService::list(const ListQuery& query) {
    if (query.page == 0) throw InvalidRequest("page must be 1 or more");
    if (query.pageSize == 0) throw InvalidRequest("pageSize must be 1 or more");
    ListResult result;
    result.page = query.page;
    result.pageSize = std::min(query.pageSize, maxPageSize);

    std::string where = " WHERE 1 = 1";
    std::vector<std::string> params;
    params.reserve(2 + query.statuses.size());
    if (!query.applicant.empty()) {
        where += " AND applicant = ?";
        params.push_back(query.applicant);
    }
    if (!query.department.empty()) {
        where += " AND department = ?";
        params.push_back(query.department);
    }
    if (!query.itemId.empty()) {
        where += " AND item_id = ?";
        params.push_back(query.itemId);
    }
    if (!query.statuses.empty()) {
        where += " AND status IN (";
        for (std::size_t i = 0; i < query.statuses.size(); ++i) {
            where += i ? ", ?" : "?";
            params.emplace_back(toString(query.statuses[i]));
        }
        where += ')';
    }

    Poco::Data::Session s = db_.session();
    // One read transaction so the count and the page agree.
    Poco::Data::Transaction tx(s, true);
    // PostgreSQL reads each statement at its own snapshot unless told otherwise.
    if (db_.dialect() == store::Dialect::PostgreSql)
        s << "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", now;
    Poco::Int64 total = 0;
    {
        Poco::Data::Statement count(s);
        count << store::sql(s, "SELECT COUNT(*) FROM flows_applications" + where);
        for (auto& p : params) count, use(p);
        count, into(total);
        count.execute();
    }
    result.total = static_cast<std::size_t>(total);

    std::vector<std::string> ids;
    {
        Poco::Int64 limit = static_cast<Poco::Int64>(result.pageSize);
        Poco::Int64 offset = static_cast<Poco::Int64>((query.page - 1) * result.pageSize);
        if (query.page - 1 > static_cast<std::size_t>(total)) offset = total;  // far beyond the end: no overflow
        Poco::Data::Statement select(s);
        select << store::sql(
            s, "SELECT id FROM flows_applications" + where + " ORDER BY submitted_at DESC, id DESC LIMIT ? OFFSET ?");
        for (auto& p : params) select, use(p);
        select, use(limit), use(offset), into(ids);
        select.execute();
    }
    for (const auto& id : ids) {
        if (auto a = load(s, id)) result.items.push_back(std::move(*a));
    }
    tx.commit();
    return result;
}

}  // namespace hub::flows
