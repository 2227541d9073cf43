#include "hub/flows/Application.h"

#include "hub/common/JsonWriter.h"

namespace hub::flows {

std::string toJson(const Application& a) {
    std::string out;
    out.reserve(512 + a.formJson.size() + a.resultJson.size() + a.transitions.size() * 160);
    out += '{';
    json::appendKey(out, "id");
    json::appendString(out, a.id);
    out += ',';
    json::appendKey(out, "item_id");
    json::appendString(out, a.itemId);
    out += ',';
    json::appendKey(out, "status");
    json::appendString(out, toString(a.status));
    out += ',';
    json::appendKey(out, "applicant");
    json::appendString(out, a.applicant);
    out += ',';
    json::appendKey(out, "submitted_by");
    json::appendString(out, a.submittedBy);
    out += ',';
    json::appendKey(out, "department");
    json::appendString(out, a.department);
    out += ',';
    json::appendKey(out, "handler");
    json::appendString(out, a.handler);
    out += ',';
    json::appendKey(out, "form");
    // Stored forms were parsed and re-serialized on the way in: valid JSON.
    out += a.formJson.empty() ? std::string("{}") : a.formJson;
    out += ',';
    json::appendKey(out, "materials");
    json::appendStringArray(out, a.materials);
    out += ',';
    json::appendKey(out, "submitted_at");
    json::appendString(out, a.submittedAt);
    out += ',';
    json::appendKey(out, "updated_at");
    json::appendString(out, a.updatedAt);
    out += ',';
    json::appendKey(out, "time_limit_days");
    out += std::to_string(a.timeLimitDays);
    out += ',';
    json::appendKey(out, "due_date");
    json::appendString(out, a.dueDate);
    out += ',';
    json::appendKey(out, "overdue");
    out += a.overdue ? "true" : "false";
    out += ',';
    json::appendKey(out, "completed_at");
    if (a.completedAt.empty()) {
        out += "null";
    } else {
        json::appendString(out, a.completedAt);
    }
    out += ',';
    json::appendKey(out, "result");
    out += a.resultJson.empty() ? std::string("null") : a.resultJson;
    out += ',';
    json::appendKey(out, "version");
    out += std::to_string(a.version);
    out += ',';
    json::appendKey(out, "transitions");
    out += '[';
    for (std::size_t i = 0; i < a.transitions.size(); ++i) {
        const Transition& t = a.transitions[i];
        if (i) out += ',';
        out += '{';
        json::appendKey(out, "seq");
        out += std::to_string(t.sequence);
        out += ',';
        json::appendKey(out, "from");
        if (t.from) {
            json::appendString(out, toString(*t.from));
        } else {
            out += "null";
        }
        out += ',';
        json::appendKey(out, "to");
        json::appendString(out, toString(t.to));
        out += ',';
        json::appendKey(out, "actor");
        json::appendString(out, t.actor);
        out += ',';
        json::appendKey(out, "at");
        json::appendString(out, t.at);
        out += ',';
        json::appendKey(out, "reason");
        json::appendString(out, t.reason);
        out += '}';
    }
    out += "]}";
    return out;
}

}  // namespace hub::flows
