#include "hub/flows/ApplicationService.h"

#include "hub/common/JsonWriter.h"
#include "hub/common/Utf8.h"

#include <optional>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>
#include <Poco/Data/Transaction.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/SHA2Engine.h>
#include <Poco/Timezone.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <sstream>

using namespace Poco::Data::Keywords;

namespace hub::flows {

namespace {

using Outcome = ApplicationService::SubmitResult::Outcome;

const char* const kColumns =
    "id, item_id, applicant, submitted_by, department, handler, status, form, materials, submitted_at,"
    " updated_at, time_limit_days, due_date, completed_at, result, version";

const std::vector<store::Migration> kMigrations = {
    {1,
     {// One row per application. Empty text stands for "none" (completed_at,
      // result, idempotency_key) so the columns stay NOT NULL and portable.
      "CREATE TABLE flows_applications ("
      " id TEXT PRIMARY KEY,"
      " item_id TEXT NOT NULL,"
      " applicant TEXT NOT NULL,"
      " submitted_by TEXT NOT NULL,"
      " department TEXT NOT NULL,"
      " handler TEXT NOT NULL,"
      " status TEXT NOT NULL,"
      " form TEXT NOT NULL,"
      " materials TEXT NOT NULL,"
      " submitted_at TEXT NOT NULL,"
      " updated_at TEXT NOT NULL,"
      " time_limit_days INTEGER NOT NULL,"
      " due_date TEXT NOT NULL,"
      " completed_at TEXT NOT NULL DEFAULT '',"
      " result TEXT NOT NULL DEFAULT '',"
      " version INTEGER NOT NULL,"
      " idempotency_key TEXT NOT NULL DEFAULT '',"
      " request_hash TEXT NOT NULL DEFAULT '')",
      "CREATE INDEX flows_applications_applicant ON flows_applications(applicant, submitted_at)",
      "CREATE INDEX flows_applications_department ON flows_applications(department, submitted_at)",
      "CREATE INDEX flows_applications_status ON flows_applications(status, submitted_at)",
      // seq equals the application version the transition produced, so the
      // key is portable (no AUTOINCREMENT) and gaps would show a lost write.
      "CREATE TABLE flows_transitions ("
      " application_id TEXT NOT NULL,"
      " seq INTEGER NOT NULL,"
      " from_status TEXT NOT NULL,"
      " to_status TEXT NOT NULL,"
      " actor TEXT NOT NULL,"
      " at TEXT NOT NULL,"
      " reason TEXT NOT NULL,"
      " PRIMARY KEY (application_id, seq))",
      // The constraint that makes duplicate submissions collapse, whichever
      // hub or thread they reach.
      "CREATE TABLE flows_idempotency ("
      " subject TEXT NOT NULL,"
      " idem_key TEXT NOT NULL,"
      " request_hash TEXT NOT NULL,"
      " application_id TEXT NOT NULL,"
      " created_at TEXT NOT NULL,"
      " CONSTRAINT flows_idempotency_key UNIQUE (subject, idem_key))"}},
};

std::string formatTimestamp(const Poco::Timestamp& ts) {
    return Poco::DateTimeFormatter::format(ts, "%Y-%m-%dT%H:%M:%S.%iZ");
}

std::string joinMaterials(const std::vector<std::string>& materials) {
    std::string out;
    json::appendStringArray(out, materials);
    return out;
}

std::vector<std::string> parseMaterials(const std::string& text) {
    std::vector<std::string> out;
    Poco::JSON::Parser parser;
    auto array = parser.parse(text).extract<Poco::JSON::Array::Ptr>();
    for (std::size_t i = 0; i < array->size(); ++i) out.push_back(array->getElement<std::string>(static_cast<unsigned>(i)));
    return out;
}

std::vector<std::string> normalizedMaterials(std::vector<std::string> materials) {
    std::sort(materials.begin(), materials.end());
    materials.erase(std::unique(materials.begin(), materials.end()), materials.end());
    return materials;
}

/// The form as a JSON object, or null when the text is not one.
Poco::JSON::Object::Ptr parseObject(const std::string& text) {
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var parsed = parser.parse(text);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) return parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
    }
    return nullptr;
}

/// Poco's objects keep keys sorted, so this is a canonical text: two bodies
/// differing only in spacing or key order hash alike.
std::string canonical(Poco::JSON::Object::Ptr object) {
    std::ostringstream out;
    object->setEscapeUnicode(false);
    object->stringify(out);
    return out.str();
}

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

std::size_t execute(Poco::Data::Statement& statement) {
    return statement.execute();
}

}  // namespace

/// What one change does to an application, decided from its current state.
struct ApplicationService::Change {
    ApplicationStatus to;
    std::string actor;
    std::string reason;
    std::optional<std::string> formJson;
    std::optional<std::vector<std::string>> materials;
    std::optional<std::string> resultJson;
};

const std::vector<store::Migration>& ApplicationService::migrations() {
    return kMigrations;
}

ApplicationService::ApplicationService(store::Database& db, Options options)
    : db_(db), options_(std::move(options)) {
    db_.migrate("flows", kMigrations);
}

void ApplicationService::setEventSink(EventSink sink) {
    options_.eventSink = std::move(sink);
}

Poco::Timestamp ApplicationService::currentTime() const {
    return options_.clock ? options_.clock() : Poco::Timestamp();
}

catalog::WorkingCalendar::Date ApplicationService::dateOf(const Poco::Timestamp& timestamp) const {
    const std::int64_t offset = options_.utcOffsetSeconds ? *options_.utcOffsetSeconds : Poco::Timezone::tzd();
    const std::int64_t local = static_cast<std::int64_t>(timestamp.epochTime()) + offset;
    std::int64_t days = local / 86400;
    if (local % 86400 < 0) --days;
    return catalog::WorkingCalendar::Date{std::chrono::sys_days{std::chrono::days{days}}};
}

catalog::WorkingCalendar::Date ApplicationService::today() const {
    return dateOf(currentTime());
}

void ApplicationService::checkText(const std::string& what, const std::string& text, bool required) const {
    if (required && text.empty()) throw InvalidRequest(what + " is required");
    if (text.size() > options_.maxTextBytes)
        throw InvalidRequest(what + " is longer than " + std::to_string(options_.maxTextBytes) + " bytes");
    if (!isValidUtf8(text)) throw InvalidRequest(what + " is not valid UTF-8");
}

void ApplicationService::emit(Poco::Data::Session& session, const std::string& type, const std::string& id,
                              const std::string& dataJson) {
    if (options_.eventSink) options_.eventSink(session, type, "applications/" + id, dataJson);
}

void ApplicationService::fillOverdue(Application& a) const {
    auto due = catalog::WorkingCalendar::parseDate(a.dueDate);
    if (!due) {
        a.overdue = false;
        return;
    }
    // Open applications are late once today is past the due date; closed ones
    // were late if they were closed after it (kept for the hall's statistics).
    catalog::WorkingCalendar::Date reference = today();
    if (isTerminal(a.status) && !a.transitions.empty()) {
        int tzd = 0;
        Poco::DateTime closed;
        if (Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, a.transitions.back().at,
                                           closed, tzd)) {
            reference = dateOf(closed.timestamp());
        }
    }
    a.overdue = std::chrono::sys_days{reference} > std::chrono::sys_days{*due};
}

std::optional<Application> ApplicationService::load(Poco::Data::Session& session, const std::string& id) {
    Poco::Data::Statement select(session);
    std::string key = id;
    select << std::string("SELECT ") + kColumns + " FROM flows_applications WHERE id = ?", use(key), now;
    Poco::Data::RecordSet rs(select);
    if (rs.rowCount() == 0) return std::nullopt;

    Application a;
    auto text = [&](std::size_t col) { return rs.value(col, 0).convert<std::string>(); };
    a.id = text(0);
    a.itemId = text(1);
    a.applicant = text(2);
    a.submittedBy = text(3);
    a.department = text(4);
    a.handler = text(5);
    auto status = parseApplicationStatus(text(6));
    if (!status) throw Poco::DataFormatException("flows_applications " + id + ": unknown status " + text(6));
    a.status = *status;
    a.formJson = text(7);
    a.materials = parseMaterials(text(8));
    a.submittedAt = text(9);
    a.updatedAt = text(10);
    a.timeLimitDays = rs.value(11, 0).convert<int>();
    a.dueDate = text(12);
    a.completedAt = text(13);
    a.resultJson = text(14);
    a.version = rs.value(15, 0).convert<std::int64_t>();

    Poco::Data::Statement transitions(session);
    transitions << "SELECT seq, from_status, to_status, actor, at, reason FROM flows_transitions"
                   " WHERE application_id = ? ORDER BY seq",
        use(key), now;
    Poco::Data::RecordSet ts(transitions);
    for (std::size_t row = 0; row < ts.rowCount(); ++row) {
        Transition t;
        t.sequence = ts.value(0, row).convert<std::int64_t>();
        t.from = parseApplicationStatus(ts.value(1, row).convert<std::string>());
        auto to = parseApplicationStatus(ts.value(2, row).convert<std::string>());
        if (!to) throw Poco::DataFormatException("flows_transitions " + id + ": unknown status");
        t.to = *to;
        t.actor = ts.value(3, row).convert<std::string>();
        t.at = ts.value(4, row).convert<std::string>();
        t.reason = ts.value(5, row).convert<std::string>();
        a.transitions.push_back(std::move(t));
    }
    fillOverdue(a);
    return a;
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

    const std::vector<std::string> materials = normalizedMaterials(request.materials);
    const std::string formText = request.formJson.empty() ? std::string("{}") : request.formJson;
    Poco::JSON::Object::Ptr form = parseObject(formText);
    const std::string formCanonical = form ? canonical(form) : formText;
    const std::string hash = requestHash(request.itemId, applicant, formCanonical, materials);

    // An earlier answer to the same key wins over everything else, even if the
    // catalogue changed since: the client is only repeating itself.
    auto replay = [&](Poco::Data::Session& s) -> std::optional<SubmitResult> {
        std::string subject = request.subject, key = *request.idempotencyKey;
        std::string storedHash, applicationId;
        Poco::Data::Statement select(s);
        select << "SELECT request_hash, application_id FROM flows_idempotency WHERE subject = ? AND idem_key = ?",
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
    a.submittedAt = formatTimestamp(submittedTs);
    a.updatedAt = a.submittedAt;
    a.timeLimitDays = item->timeLimitDays;
    a.dueDate = catalog::WorkingCalendar::formatDate(
        options_.calendar.addWorkingDays(dateOf(submittedTs), std::max(0, item->timeLimitDays)));
    a.version = 1;
    a.transitions.push_back(Transition{1, std::nullopt, ApplicationStatus::Submitted, request.subject,
                                       a.submittedAt, ""});
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
            claim << "INSERT INTO flows_idempotency(subject, idem_key, request_hash, application_id, created_at)"
                     " VALUES(?, ?, ?, ?, ?) ON CONFLICT(subject, idem_key) DO NOTHING",
                use(subject), bind(key), bind(hash), use(a.id), use(a.submittedAt);
            if (execute(claim) == 0) {
                tx.rollback();
                if (auto r = replay(s)) return *r;
                throw Poco::DataException("idempotency key vanished during submission");
            }
        }
        std::string status(toString(a.status));
        std::string materialsJson = joinMaterials(a.materials);
        Poco::Int64 version = a.version;
        int limit = a.timeLimitDays;
        s << "INSERT INTO flows_applications(id, item_id, applicant, submitted_by, department, handler, status,"
             " form, materials, submitted_at, updated_at, time_limit_days, due_date, version, idempotency_key,"
             " request_hash) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            use(a.id), use(a.itemId), use(a.applicant), use(a.submittedBy), use(a.department), use(a.handler),
            use(status), use(a.formJson), use(materialsJson), use(a.submittedAt), use(a.updatedAt), use(limit),
            use(a.dueDate), use(version), use(key), bind(hash), now;
        std::string empty;
        s << "INSERT INTO flows_transitions(application_id, seq, from_status, to_status, actor, at, reason)"
             " VALUES(?, 1, '', ?, ?, ?, ?)",
            use(a.id), use(status), use(a.submittedBy), use(a.submittedAt), use(empty), now;
        emit(s, submittedEvent, a.id, toJson(a));
        if (request.startReview && !item->handler.flowId.empty()) {
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
    }
    SubmitResult r;
    r.outcome = Outcome::Created;
    r.application = std::move(a);
    r.message = "application submitted";
    return r;
}

Application ApplicationService::applyChange(const std::string& id,
                                            const std::optional<std::int64_t>& expectedVersion,
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
        const std::string at = formatTimestamp(ts);
        next.status = change.to;
        next.updatedAt = at;
        next.version = current->version + 1;
        if (change.formJson) next.formJson = *change.formJson;
        if (change.materials) next.materials = *change.materials;
        if (change.resultJson) next.resultJson = *change.resultJson;
        if (change.to == ApplicationStatus::Completed) next.completedAt = at;
        next.transitions.push_back(Transition{next.version, current->status, change.to, change.actor, at, change.reason});
        fillOverdue(next);

        std::optional<Poco::Data::Transaction> tx;
        if (!within) tx.emplace(s, true);
        std::string status(toString(next.status));
        std::string materialsJson = joinMaterials(next.materials);
        Poco::Int64 newVersion = next.version, oldVersion = current->version;
        Poco::Data::Statement update(s);
        update << "UPDATE flows_applications SET status = ?, form = ?, materials = ?, result = ?, completed_at = ?,"
                  " updated_at = ?, version = ? WHERE id = ? AND version = ?",
            use(status), use(next.formJson), use(materialsJson), use(next.resultJson), use(next.completedAt),
            use(next.updatedAt), use(newVersion), use(next.id), use(oldVersion);
        if (execute(update) == 0) {
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
        s << "INSERT INTO flows_transitions(application_id, seq, from_status, to_status, actor, at, reason)"
             " VALUES(?, ?, ?, ?, ?, ?, ?)",
            use(next.id), use(newVersion), use(from), use(status), use(change.actor), bind(at), use(change.reason),
            now;

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
        json::appendString(data, status);
        data += ',';
        json::appendKey(data, "actor");
        json::appendString(data, change.actor);
        data += ',';
        json::appendKey(data, "reason");
        json::appendString(data, change.reason);
        data += ',';
        json::appendKey(data, "at");
        json::appendString(data, at);
        data += ",\"version\":" + std::to_string(next.version) + '}';
        emit(s, statusChangedEvent, next.id, data);
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
                                                 const std::string& reason) {
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
    Poco::JSON::Object::Ptr extra = parseObject(extraText);
    if (!extra) {
        catalog::ValidationResult v;
        v.problems.push_back(catalog::ValidationProblem{"form", "invalid_json", "the supplement form must be a JSON object",
                                                        "补充的表单数据格式错误"});
        throw ValidationFailed(std::move(v));
    }

    return applyChange(request.id, request.expectedVersion, [&](const Application& current) {
        if (current.status != ApplicationStatus::NeedsSupplement) {
            throw IllegalTransition(current.status, ApplicationStatus::InReview,
                                    "only an application in needs_supplement can be supplemented; this one is " +
                                        std::string(toString(current.status)));
        }
        const catalog::ServiceItem* item = catalog.findById(current.itemId);
        if (item == nullptr) throw ItemUnavailable(current.itemId);

        Poco::JSON::Object::Ptr merged = parseObject(current.formJson);
        if (!merged) merged = new Poco::JSON::Object;
        std::vector<std::string> names;
        extra->getNames(names);
        for (const auto& name : names) merged->set(name, extra->get(name));
        std::vector<std::string> materials = current.materials;
        materials.insert(materials.end(), request.materials.begin(), request.materials.end());
        materials = normalizedMaterials(std::move(materials));

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
        c.formJson = canonical(merged);
        c.materials = std::move(materials);
        return c;
    }, nullptr);
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
            stored = canonical(object);
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

    return applyChange(id, std::nullopt, [&](const Application& current) {
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
    }, nullptr);
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
    Poco::Int64 total = 0;
    {
        Poco::Data::Statement count(s);
        count << "SELECT COUNT(*) FROM flows_applications" + where;
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
        select << "SELECT id FROM flows_applications" + where + " ORDER BY submitted_at DESC, id DESC LIMIT ? OFFSET ?";
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
