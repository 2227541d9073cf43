// ApplicationService: the schema, the service's settings and what its parts
// share (text checks, the event sink). The parts, each in its own file:
//   ApplicationSubmit.cpp   submit(): cheap refusals, the idempotency key, the
//                           catalogue checks, the insert, the optional review step;
//   ApplicationChanges.cpp  every later change: the state machine's moves,
//                           supplements, a plugin's answer (applyChange);
//   ApplicationQueries.cpp  reading applications back (load, find, list);
//   TimeLimits.cpp          the hall's clock and calendar: due dates, overdue.
#include "hub/flows/ApplicationService.h"

#include "hub/common/Utf8.h"
#include "hub/store/TraceLog.h"

#include <utility>

namespace hub::flows {

namespace {

const std::vector<store::Migration> kApplicationMigrations = {
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

}  // namespace

const std::vector<store::Migration>& ApplicationService::migrations() {
    return kApplicationMigrations;
}

ApplicationService::ApplicationService(store::Database& db, Options options) : db_(db), options_(std::move(options)) {
    db_.migrate("flows", kApplicationMigrations);
    store::TraceLog::migrate(db_);  // submit binds an application's trace id in its transaction
}

void ApplicationService::setCalendar(catalog::WorkingCalendar calendar) {
    std::atomic_store(&calendar_, std::make_shared<const catalog::WorkingCalendar>(std::move(calendar)));
}

void ApplicationService::setEventSink(EventSink sink) {
    options_.eventSink = std::move(sink);
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

}  // namespace hub::flows
