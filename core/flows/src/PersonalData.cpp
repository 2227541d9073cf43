#include "hub/flows/PersonalData.h"

#include "hub/common/JsonWriter.h"
#include "hub/flows/ApplicationService.h"
#include "hub/store/Database.h"

#include <Poco/Data/Session.h>

#include <utility>
#include <vector>

namespace hub::flows {

namespace {

using namespace Poco::Data::Keywords;

void appendMember(std::string& out, const char* key, const std::string& value) {
    json::appendString(out, key);
    out += ':';
    json::appendString(out, value);
}

}  // namespace

std::string personalDataJson(ApplicationService& applications, store::Database& db, const std::string& person) {
    std::string out = "{\"applications\":[";
    ApplicationService::ListQuery query;
    query.applicant = person;
    query.pageSize = ApplicationService::maxPageSize;
    bool first = true;
    for (query.page = 1;; ++query.page) {
        auto page = applications.list(query);
        for (const auto& listed : page.items) {
            auto full = applications.find(listed.id);  // with every transition
            if (!full) continue;
            if (!std::exchange(first, false)) out += ',';
            out += toJson(*full);
        }
        if (page.items.size() < page.pageSize) break;
    }
    out += "],\"ratings\":[";
    Poco::Data::Session session = db.session();
    if (db.hasTable("flows_ratings")) {
        std::vector<std::string> ids, comments, at;
        std::vector<int> scores;
        session << store::sql(session,
                              "SELECT application_id, score, comment, rated_at FROM flows_ratings WHERE applicant = ?"
                              " ORDER BY rated_at"),
            bind(person), into(ids), into(scores), into(comments), into(at), now;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (i) out += ',';
            out += '{';
            appendMember(out, "application_id", ids[i]);
            out += ",\"score\":" + std::to_string(scores[i]) + ',';
            appendMember(out, "comment", comments[i]);
            out += ',';
            appendMember(out, "rated_at", at[i]);
            out += '}';
        }
    }
    out += "],\"tasks\":[";
    if (db.hasTable("flows_engine_tasks")) {
        std::vector<std::string> ids, apps, names, assignees, claimed, statuses, closedBy, decisions;
        std::vector<Poco::Int64> created, closed;
        session << store::sql(
            session,
            "SELECT id, application_id, name, assignee, claimed_by, status, created_at, closed_at, closed_by,"
            " decision FROM flows_engine_tasks WHERE assignee = ? OR claimed_by = ? OR closed_by = ?"
            " OR application_id IN (SELECT id FROM flows_applications WHERE applicant = ?) ORDER BY created_at"),
            bind(person), bind(person), bind(person), bind(person), into(ids), into(apps), into(names), into(assignees),
            into(claimed), into(statuses), into(created), into(closed), into(closedBy), into(decisions), now;
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (i) out += ',';
            out += "{\"created_at\":" + std::to_string(created[i]) + ",\"closed_at\":" + std::to_string(closed[i]);
            const std::pair<const char*, const std::string*> members[] = {
                {"id", &ids[i]},           {"application_id", &apps[i]}, {"name", &names[i]},
                {"assignee", &assignees[i]}, {"claimed_by", &claimed[i]}, {"status", &statuses[i]},
                {"closed_by", &closedBy[i]}, {"decision", &decisions[i]}};
            for (const auto& [key, value] : members) {
                out += ',';
                appendMember(out, key, *value);
            }
            out += '}';
        }
    }
    return out + "]}";
}

}  // namespace hub::flows
