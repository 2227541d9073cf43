// submit(): a new application, at most once per idempotency key. The request
// hash that decides "same request" is stored, so its bytes must not change
// (ApplicationSubmitTest.StoredRequestHashKeepsItsBytes).
#include "hub/flows/ApplicationService.h"

#include "Change.h"
#include "StoredForms.h"

#include "hub/common/Utf8.h"

#include "hub/store/TraceLog.h"

#include <Poco/Data/Statement.h>
#include <Poco/Data/Transaction.h>
#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/SHA2Engine.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>

using namespace Poco::Data::Keywords;

namespace hub::flows {

namespace {

using Outcome = ApplicationService::SubmitResult::Outcome;

std::string requestHash(const std::string& itemId, const std::string& applicant, const std::string& form,
                        const std::vector<std::string>& materials) {
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    // Length-prefixed parts: no two different requests share a byte stream.
    auto part = [&](const std::string& s) {
        std::string prefix = std::to_string(s.size()) + ':';
        sha.update(prefix);
        sha.update(s);
    };
    part(itemId);
    part(applicant);
    part(form);
    for (const auto& m : materials) part(m);
    return Poco::DigestEngine::digestToHex(sha.digest());
}

std::string handlerText(const catalog::Handler& handler) {
    if (handler.kind == catalog::Handler::Kind::Plugin) return "plugin:" + handler.system + "/" + handler.operation;
    return "flow:" + handler.flowId;
}

bool validKey(const std::string& key) {
    if (key.empty() || key.size() > 255) return false;
    return std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x21 && c <= 0x7E; });
}

ApplicationService::SubmitResult invalid(const std::string& field, const char* code, const std::string& en,
                                         const std::string& zh) {
    ApplicationService::SubmitResult r;
    r.outcome = Outcome::Invalid;
    r.validation.problems.push_back(catalog::ValidationProblem{field, code, en, zh});
    r.message = en;
    return r;
}

}  // namespace

ApplicationService::SubmitResult ApplicationService::submit(const SubmitRequest& request,
                                                            const catalog::Snapshot& catalog,
                                                            catalog::AudienceSet applicantAudiences) {
    checkText("subject", request.subject, true);
    checkText("actingFor", request.actingFor, false);
    const std::string applicant = request.actingFor.empty() ? request.subject : request.actingFor;

    // Cheap refusals first: nothing here reads the database.
    if (request.idempotencyKey && !validKey(*request.idempotencyKey))
        return invalid("idempotencyKey", "invalid_idempotency_key",
                       "the Idempotency-Key must be 1 to 255 printable ASCII characters",
                       "Idempotency-Key 须为1至255个可打印ASCII字符");
    if (request.formJson.size() > options_.maxFormBytes)
        return invalid("form", "too_large",
                       "the form is " + std::to_string(request.formJson.size()) + " bytes; at most " +
                           std::to_string(options_.maxFormBytes) + " are accepted",
                       "表单数据过大（最多" + std::to_string(options_.maxFormBytes) + "字节）");
    if (request.materials.size() > options_.maxMaterials)
        return invalid("materials", "too_many",
                       std::to_string(request.materials.size()) + " materials given; at most " +
                           std::to_string(options_.maxMaterials) + " are accepted",
                       "材料数量过多（最多" + std::to_string(options_.maxMaterials) + "项）");
    if (request.itemId.size() > options_.maxTextBytes || !isValidUtf8(request.itemId)) {
        SubmitResult r;
        r.outcome = Outcome::ItemNotFound;
        r.message = "no such service item";
        return r;
    }

    const std::vector<std::string> materials = detail::normalizedMaterials(request.materials);
    const std::string formText = request.formJson.empty() ? std::string("{}") : request.formJson;
    Poco::JSON::Object::Ptr form = detail::parseObject(formText);
    const std::string formCanonical = form ? detail::canonical(form) : formText;
    const std::string hash = requestHash(request.itemId, applicant, formCanonical, materials);

    // An earlier answer to the same key wins over everything else, even if the
    // catalogue changed since: the client is only repeating itself.
    auto replay = [&](Poco::Data::Session& s) -> std::optional<SubmitResult> {
        std::string subject = request.subject, key = *request.idempotencyKey;
        std::string storedHash, applicationId;
        Poco::Data::Statement select(s);
        select << store::sql(
            s, "SELECT request_hash, application_id FROM flows_idempotency WHERE subject = ? AND idem_key = ?"),
            use(subject), use(key), into(storedHash), into(applicationId), now;
        if (applicationId.empty()) return std::nullopt;
        SubmitResult r;
        if (storedHash != hash) {
            r.outcome = Outcome::IdempotencyConflict;
            r.message = "the Idempotency-Key was already used for a different request";
            return r;
        }
        r.outcome = Outcome::Replayed;
        r.application = load(s, applicationId);
        if (!r.application)
            throw Poco::DataException("flows_idempotency points to missing application " + applicationId);
        r.message = "the application was already submitted with this Idempotency-Key";
        return r;
    };

    Poco::Data::Session s = db_.session();
    if (request.idempotencyKey) {
        if (auto r = replay(s)) return *r;
    }

    const catalog::ServiceItem* item = catalog.findById(request.itemId);
    if (item == nullptr) {
        SubmitResult r;
        r.outcome = Outcome::ItemNotFound;
        r.message = "no such service item: " + request.itemId;
        return r;
    }
    if (!item->audience.intersects(applicantAudiences)) {
        SubmitResult r;
        r.outcome = Outcome::NotAllowedForAudience;
        r.message = "service item " + item->id + " is not offered to " +
                    (applicantAudiences.empty() ? std::string("this applicant") : applicantAudiences.toString());
        return r;
    }
    catalog::ValidationResult validation = form ? catalog::validateApplication(*item, form, materials)
                                                : catalog::validateApplication(*item, formText, materials);
    if (!validation.ok()) {
        SubmitResult r;
        r.outcome = Outcome::Invalid;
        r.message = "the application is not complete: " + std::to_string(validation.problems.size()) +
                    " problem(s), all listed";
        r.validation = std::move(validation);
        return r;
    }

    const Poco::Timestamp submittedTs = currentTime();
    Application a;
    a.id = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    a.itemId = item->id;
    a.applicant = applicant;
    a.submittedBy = request.subject;
    a.department = item->departmentId;
    a.handler = handlerText(item->handler);
    a.status = ApplicationStatus::Submitted;
    a.formJson = formCanonical;
    a.materials = materials;
    a.submittedAt = detail::formatTimestamp(submittedTs);
    a.updatedAt = a.submittedAt;
    a.timeLimitDays = item->timeLimitDays;
    a.dueDate = catalog::WorkingCalendar::formatDate(
        std::atomic_load(&calendar_)->addWorkingDays(dateOf(submittedTs), std::max(0, item->timeLimitDays)));
    a.version = 1;
    a.transitions.push_back(
        Transition{1, std::nullopt, ApplicationStatus::Submitted, request.subject, a.submittedAt, ""});
    fillOverdue(a);

    std::string key = request.idempotencyKey.value_or("");
    std::string subject = request.subject;
    {
        Poco::Data::Transaction tx(s, true);
        if (request.idempotencyKey) {
            // The first statement of the transaction is a write, so SQLite takes
            // the write lock (waiting out other writers) before reading anything:
            // a concurrent duplicate sees the committed row and collapses here.
            Poco::Data::Statement claim(s);
            claim << store::sql(
                s,
                "INSERT INTO flows_idempotency(subject, idem_key, request_hash, application_id, created_at)"
                " VALUES(?, ?, ?, ?, ?) ON CONFLICT(subject, idem_key) DO NOTHING"),
                use(subject), bind(key), bind(hash), use(a.id), use(a.submittedAt);
            if (detail::execute(claim) == 0) {
                tx.rollback();
                if (auto r = replay(s)) return *r;
                throw Poco::DataException("idempotency key vanished during submission");
            }
        }
        std::string status(toString(a.status));
        std::string materialsJson = detail::joinMaterials(a.materials);
        Poco::Int64 version = a.version;
        int limit = a.timeLimitDays;
        s << store::sql(
            s,
            "INSERT INTO flows_applications(id, item_id, applicant, submitted_by, department, handler, status,"
            " form, materials, submitted_at, updated_at, time_limit_days, due_date, version, idempotency_key,"
            " request_hash) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            use(a.id), use(a.itemId), use(a.applicant), use(a.submittedBy), use(a.department), use(a.handler),
            use(status), use(a.formJson), use(materialsJson), use(a.submittedAt), use(a.updatedAt), use(limit),
            use(a.dueDate), use(version), use(key), bind(hash), now;
        std::string empty;
        s << store::sql(s,
                        "INSERT INTO flows_transitions(application_id, seq, from_status, to_status, actor, at, reason)"
                        " VALUES(?, 1, '', ?, ?, ?, ?)"),
            use(a.id), use(status), use(a.submittedBy), use(a.submittedAt), use(empty), now;
        // Before the flow starts, so its first hops carry the trace id.
        if (!request.traceId.empty()) store::TraceLog::bind(s, a.id, request.traceId);
        emit(s, submittedEvent, a.id, toJson(a));
        std::optional<std::function<void()>> flowStarted;
        if (request.startReview && !item->handler.flowId.empty() && flowStarter_)
            flowStarted = flowStarter_(s, a, item->handler.flowId);
        if (flowStarted) {
            // The flow decided the status, in this transaction.
            a = *load(s, a.id);
        } else if (request.startReview && !item->handler.flowId.empty()) {
            // In the same transaction: the application is stored already in
            // review with its approval requested, or not at all, never stuck in
            // submitted because the second write failed.
            const std::string reason = "sent to the approval engine (" + item->handler.flowId + ")";
            a = applyChange(
                a.id, std::nullopt,
                [&](const Application&) {
                    Change c;
                    c.to = ApplicationStatus::InReview;
                    c.actor = "hub";
                    c.reason = reason;
                    return c;
                },
                &s);
        }
        tx.commit();
        if (flowStarted && *flowStarted) {
            (*flowStarted)();
            // An automatic flow may end within moments: answer with where it stands then.
            if (flowSettle_) {
                flowSettle_(a.id);
                Poco::Data::Session fresh = db_.session();
                if (auto settled = load(fresh, a.id)) a = std::move(*settled);
            }
        }
    }
    SubmitResult r;
    r.outcome = Outcome::Created;
    r.application = std::move(a);
    r.message = "application submitted";
    return r;
}

}  // namespace hub::flows
