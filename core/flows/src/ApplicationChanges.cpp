// Every change after submission goes through applyChange(): read, decide,
// compare-and-set on the version, the transition row and the status_changed
// event, in one transaction (the caller's, for an inbound decision). The
// public moves (transition, cancel, supplement, a plugin's answer) differ only
// in what they decide.
#include "hub/flows/ApplicationService.h"

#include "Change.h"
#include "StoredForms.h"

#include "hub/common/JsonWriter.h"
#include "hub/common/Utf8.h"

#include <Poco/Data/Statement.h>
#include <Poco/Data/Transaction.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <sstream>

using namespace Poco::Data::Keywords;

namespace hub::flows {

namespace {

// The data of application.status_changed (docs/events/README.md): the
// application after the change, where it came from, who moved it and why.
std::string statusChangedData(const Application& next, const std::string& from, const std::string& actor,
                              const std::string& reason) {
    std::string data = "{";
    json::appendKey(data, "id");
    json::appendString(data, next.id);
    data += ',';
    json::appendKey(data, "item_id");
    json::appendString(data, next.itemId);
    data += ',';
    json::appendKey(data, "applicant");
    json::appendString(data, next.applicant);
    data += ',';
    json::appendKey(data, "department");
    json::appendString(data, next.department);
    data += ',';
    json::appendKey(data, "from");
    json::appendString(data, from);
    data += ',';
    json::appendKey(data, "to");
    json::appendString(data, toString(next.status));
    data += ',';
    json::appendKey(data, "actor");
    json::appendString(data, actor);
    data += ',';
    json::appendKey(data, "reason");
    json::appendString(data, reason);
    data += ',';
    json::appendKey(data, "at");
    json::appendString(data, next.updatedAt);
    data += ",\"version\":" + std::to_string(next.version) + '}';
    return data;
}

}  // namespace

Application ApplicationService::applyChange(const std::string& id, const std::optional<std::int64_t>& expectedVersion,
                                            const std::function<Change(const Application&)>& decide,
                                            Poco::Data::Session* within) {
    // Inside a caller's transaction: its session, and no begin/commit of our own.
    Poco::Data::Session s = within ? *within : db_.session();
    // Optimistic: read, decide, then write only if nobody changed the row in
    // between (compare-and-set on version). Without an expected version a lost
    // race is retried against the fresh state, which decide() re-checks.
    for (int attempt = 0; attempt < 20; ++attempt) {
        std::optional<Application> current = load(s, id);
        if (!current) throw ApplicationNotFound(id);
        if (expectedVersion && *expectedVersion != current->version)
            throw VersionConflict(*expectedVersion, current->version);
        Change change = decide(*current);
        if (!isAllowedTransition(current->status, change.to)) {
            throw IllegalTransition(current->status, change.to,
                                    "an application in status " + std::string(toString(current->status)) +
                                        " cannot move to " + std::string(toString(change.to)));
        }

        Application next = *current;
        const Poco::Timestamp ts = currentTime();
        const std::string at = detail::formatTimestamp(ts);
        next.status = change.to;
        next.updatedAt = at;
        next.version = current->version + 1;
        if (change.formJson) next.formJson = *change.formJson;
        if (change.materials) next.materials = *change.materials;
        if (change.resultJson) next.resultJson = *change.resultJson;
        if (change.to == ApplicationStatus::Completed) next.completedAt = at;
        next.transitions.push_back(
            Transition{next.version, current->status, change.to, change.actor, at, change.reason});
        fillOverdue(next);

        std::optional<Poco::Data::Transaction> tx;
        if (!within) tx.emplace(s, true);
        std::string status(toString(next.status));
        std::string materialsJson = detail::joinMaterials(next.materials);
        Poco::Int64 newVersion = next.version, oldVersion = current->version;
        Poco::Data::Statement update(s);
        update << store::sql(
            s,
            "UPDATE flows_applications SET status = ?, form = ?, materials = ?, result = ?, completed_at = ?,"
            " updated_at = ?, version = ? WHERE id = ? AND version = ?"),
            use(status), use(next.formJson), use(materialsJson), use(next.resultJson), use(next.completedAt),
            use(next.updatedAt), use(newVersion), use(next.id), use(oldVersion);
        if (detail::execute(update) == 0) {
            if (tx) tx->rollback();
            if (expectedVersion || within) {
                // Inside a caller's transaction a retry would read the same state
                // again: report the conflict, against the version this change was
                // decided on when the caller expected none (the inbound decision).
                auto fresh = load(s, id);
                if (!fresh) throw ApplicationNotFound(id);
                throw VersionConflict(expectedVersion.value_or(current->version), fresh->version);
            }
            continue;
        }
        std::string from(toString(current->status));
        s << store::sql(s,
                        "INSERT INTO flows_transitions(application_id, seq, from_status, to_status, actor, at, reason)"
                        " VALUES(?, ?, ?, ?, ?, ?, ?)"),
            use(next.id), use(newVersion), use(from), use(status), use(change.actor), bind(at), use(change.reason), now;

        emit(s, statusChangedEvent, next.id, statusChangedData(next, from, change.actor, change.reason));
        if (tx) tx->commit();
        return next;
    }
    throw FlowException("application " + id + " is changing too often to update it; try again");
}

Application ApplicationService::transition(const std::string& id, ApplicationStatus to, const std::string& actor,
                                           const std::string& reason, std::optional<std::int64_t> expectedVersion) {
    checkText("actor", actor, true);
    const bool reasonRequired = to == ApplicationStatus::Rejected || to == ApplicationStatus::NeedsSupplement;
    checkText("reason", reason, reasonRequired);
    return applyChange(
        id, expectedVersion,
        [&](const Application&) {
            Change c;
            c.to = to;
            c.actor = actor;
            c.reason = reason;
            return c;
        },
        nullptr);
}

Application ApplicationService::transitionWithin(Poco::Data::Session& session, const std::string& id,
                                                 ApplicationStatus to, const std::string& actor,
                                                 const std::string& reason, std::optional<std::string> resultJson) {
    checkText("actor", actor, true);
    const bool reasonRequired = to == ApplicationStatus::Rejected || to == ApplicationStatus::NeedsSupplement;
    checkText("reason", reason, reasonRequired);
    return applyChange(
        id, std::nullopt,
        [&](const Application&) {
            Change c;
            c.to = to;
            c.actor = actor;
            c.reason = reason;
            c.resultJson = resultJson;
            return c;
        },
        &session);
}

Application ApplicationService::cancel(const std::string& id, const std::string& actor, const std::string& reason,
                                       std::optional<std::int64_t> expectedVersion) {
    return transition(id, ApplicationStatus::Cancelled, actor, reason, expectedVersion);
}

Application ApplicationService::supplement(const SupplementRequest& request, const catalog::Snapshot& catalog) {
    checkText("actor", request.actor, true);
    checkText("reason", request.reason, false);
    if (request.formJson.size() > options_.maxFormBytes)
        throw InvalidRequest("the form is larger than " + std::to_string(options_.maxFormBytes) + " bytes");
    if (request.materials.size() > options_.maxMaterials)
        throw InvalidRequest("more than " + std::to_string(options_.maxMaterials) + " materials given");
    const std::string extraText = request.formJson.empty() ? std::string("{}") : request.formJson;
    Poco::JSON::Object::Ptr extra = detail::parseObject(extraText);
    if (!extra) {
        catalog::ValidationResult v;
        v.problems.push_back(catalog::ValidationProblem{
            "form", "invalid_json", "the supplement form must be a JSON object", "补充的表单数据格式错误"});
        throw ValidationFailed(std::move(v));
    }

    return applyChange(
        request.id, request.expectedVersion,
        [&](const Application& current) {
            if (current.status != ApplicationStatus::NeedsSupplement) {
                throw IllegalTransition(current.status, ApplicationStatus::InReview,
                                        "only an application in needs_supplement can be supplemented; this one is " +
                                            std::string(toString(current.status)));
            }
            const catalog::ServiceItem* item = catalog.findById(current.itemId);
            if (item == nullptr) throw ItemUnavailable(current.itemId);

            Poco::JSON::Object::Ptr merged = detail::parseObject(current.formJson);
            if (!merged) merged = new Poco::JSON::Object;
            std::vector<std::string> names;
            extra->getNames(names);
            for (const auto& name : names) merged->set(name, extra->get(name));
            std::vector<std::string> materials = current.materials;
            materials.insert(materials.end(), request.materials.begin(), request.materials.end());
            materials = detail::normalizedMaterials(std::move(materials));

            catalog::ValidationResult v = catalog::validateApplication(*item, merged, materials);
            if (!v.ok()) throw ValidationFailed(std::move(v));

            // Back to where it was before the department asked for more.
            ApplicationStatus back = ApplicationStatus::InReview;
            for (auto it = current.transitions.rbegin(); it != current.transitions.rend(); ++it) {
                if (it->to == ApplicationStatus::NeedsSupplement && it->from) {
                    back = *it->from == ApplicationStatus::Submitted ? ApplicationStatus::Submitted
                                                                     : ApplicationStatus::InReview;
                    break;
                }
            }
            Change c;
            c.to = back;
            c.actor = request.actor;
            c.reason = request.reason.empty() ? std::string("supplemented") : request.reason;
            c.formJson = detail::canonical(merged);
            c.materials = std::move(materials);
            return c;
        },
        nullptr);
}

Application ApplicationService::completeFromPlugin(const std::string& id, bool ok, const std::string& resultJson,
                                                   const std::string& actor) {
    checkText("actor", actor, false);
    // A plugin's answer is untrusted input: keep it only if it is JSON, and
    // treat anything else as a failure of the operation.
    std::string stored;
    std::string reason;
    bool success = ok;
    Poco::Dynamic::Var parsed;
    bool parsedOk = false;
    if (resultJson.size() <= options_.maxFormBytes && isValidUtf8(resultJson)) {
        try {
            Poco::JSON::Parser parser;
            parsed = parser.parse(resultJson);
            parsedOk = true;
        } catch (const Poco::Exception&) {
        }
    }
    if (parsedOk) {
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) {
            auto object = parsed.extract<Poco::JSON::Object::Ptr>();
            stored = detail::canonical(object);
            for (const char* member : {"detail", "message", "error"}) {
                if (object->has(member) && object->get(member).isString()) {
                    reason = object->getValue<std::string>(member);
                    break;
                }
            }
        } else {
            std::ostringstream out;
            Poco::JSON::Stringifier::stringify(parsed, out);
            stored = out.str();
        }
    } else {
        success = false;
        reason = "the plugin returned a result that is not valid JSON";
    }
    if (!success && reason.empty()) reason = "the plugin operation failed";
    if (reason.size() > options_.maxTextBytes || !isValidUtf8(reason)) reason = "the plugin operation failed";

    return applyChange(
        id, std::nullopt,
        [&](const Application& current) {
            Change c;
            c.to = success ? ApplicationStatus::Completed : ApplicationStatus::Rejected;
            if (success && current.status == ApplicationStatus::InReview) {
                throw IllegalTransition(current.status, c.to,
                                        "an application in review must be approved before a plugin completes it");
            }
            c.actor = actor.empty() ? current.handler : actor;
            c.reason = success ? std::string() : reason;
            c.resultJson = stored;
            return c;
        },
        nullptr);
}

}  // namespace hub::flows
