#pragma once

#include "hub/catalog/ApplicationValidator.h"
#include "hub/catalog/Audience.h"
#include "hub/catalog/Snapshot.h"
#include "hub/catalog/WorkingCalendar.h"
#include "hub/flows/Application.h"
#include "hub/flows/ApplicationStatus.h"
#include "hub/flows/FlowException.h"
#include "hub/store/Database.h"

#include <Poco/Data/Session.h>
#include <Poco/Timestamp.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hub::flows {

/// Applications: a user's requests for service items, their state machine,
/// idempotent submission, time limits in working days.
///
/// Everything lives in the hub's Database (tables flows_applications,
/// flows_transitions, flows_idempotency; schema module "flows"). Every change
/// of state, the transition row recording who/when/why, and the event handed
/// to the EventSink are written in ONE transaction: either all are stored or
/// none. Concurrency is handled by the database, not by locks in this object
/// (several hubs may share one database): duplicate submissions collapse on a
/// UNIQUE constraint, changes are compare-and-set on the version column.
///
/// Thread-safe; one instance per Database is enough.
class ApplicationService {
public:
    /// Called inside the open transaction of every state change, with that
    /// transaction's session; whatever it writes commits or rolls back with the
    /// change. If it throws, the change is rolled back and the exception passes
    /// to the caller. `type` is submittedEvent or statusChangedEvent, `subject`
    /// "applications/<id>", `dataJson` a JSON object (see the docs).
    using EventSink = std::function<void(Poco::Data::Session& session, const std::string& type,
                                         const std::string& subject, const std::string& dataJson)>;

    static constexpr const char* submittedEvent = "edu.campus.hub.application.submitted";
    static constexpr const char* statusChangedEvent = "edu.campus.hub.application.status_changed";
    /// A review task's non-interrupting timer fired (a flow's reminder).
    static constexpr const char* taskReminderEvent = "edu.campus.hub.task.reminder";

    struct Options {
        /// Working days for due dates (the shipped config/calendar/calendar.xml).
        catalog::WorkingCalendar calendar;
        /// The hall's offset from UTC in seconds: submission dates and "today"
        /// are taken in this zone. Empty = the machine's local zone.
        std::optional<int> utcOffsetSeconds;
        /// Current time; empty = the system clock. Tests set it.
        std::function<Poco::Timestamp()> clock;
        /// Largest accepted form JSON text, in bytes.
        std::size_t maxFormBytes = 64 * 1024;
        /// Most material ids accepted in one request.
        std::size_t maxMaterials = 100;
        /// Longest accepted reason / actor / subject / key text, in bytes.
        std::size_t maxTextBytes = 2000;
        /// No sink: events are not recorded. The hub wires the outbox here.
        EventSink eventSink;
    };

    /// A new application.
    struct SubmitRequest {
        std::string subject;    ///< The authenticated caller (JWT sub).
        std::string actingFor;  ///< The person a service token submits for; empty = the subject itself.
        std::string itemId;
        std::string formJson = "{}";              ///< A JSON object; empty text counts as {}.
        std::vector<std::string> materials;      ///< Ids of the materials provided.
        std::optional<std::string> idempotencyKey;  ///< 1..255 printable ASCII characters.
        /// For an item handled by a flow (handler flowId): move the new
        /// application on to in_review (actor "hub") in the same transaction,
        /// so it is stored in review with its events, or not at all.
        bool startReview = false;
        /// The W3C trace id the application's hops are recorded under
        /// (store::TraceLog); empty: no trace.
        std::string traceId;
    };

    /// What submit() did.
    struct SubmitResult {
        enum class Outcome {
            Created,                ///< A new application (HTTP 201).
            Replayed,               ///< Same key, same request: the earlier application (HTTP 200/201).
            IdempotencyConflict,    ///< Same key, different request (HTTP 409); nothing stored.
            ItemNotFound,           ///< No such item (HTTP 404).
            NotAllowedForAudience,  ///< The item is not offered to the applicant's audiences (HTTP 403, or 404 to hide it).
            Invalid                 ///< validation lists every problem at once (HTTP 422); nothing stored.
        };
        Outcome outcome = Outcome::Invalid;
        std::optional<Application> application;  ///< Created and Replayed only.
        catalog::ValidationResult validation;    ///< Invalid only.
        std::string message;                      ///< One line, English, for the problem+json detail.
    };

    /// More form fields and/or materials for an application in needs_supplement.
    struct SupplementRequest {
        std::string id;
        std::string actor;
        std::string formJson = "{}";          ///< Top-level fields replace the stored ones.
        std::vector<std::string> materials;  ///< Added to the stored ones.
        std::string reason;                  ///< Optional note recorded with the transition.
        std::optional<std::int64_t> expectedVersion;
    };

    /// Which applications to list. Filters combine with AND; empty = any.
    struct ListQuery {
        std::string applicant;   ///< Only this person's (the caller's own).
        std::string department;  ///< Only this department's.
        std::string itemId;      ///< Only applications for this service item.
        std::vector<ApplicationStatus> statuses;  ///< Any of these.
        std::size_t page = 1;        ///< 1-based.
        std::size_t pageSize = 20;   ///< Clamped to maxPageSize.
    };
    static constexpr std::size_t maxPageSize = 200;

    /// One page, newest submission first.
    struct ListResult {
        std::vector<Application> items;
        std::size_t total = 0;  ///< Matches before paging.
        std::size_t page = 1;
        std::size_t pageSize = 20;
    };

    /// The schema steps of module "flows".
    static const std::vector<store::Migration>& migrations();

    /// Applies the schema migrations to `db` (which must outlive the service).
    ApplicationService(store::Database& db, Options options);

    ApplicationService(const ApplicationService&) = delete;
    ApplicationService& operator=(const ApplicationService&) = delete;

    /// Replaces the event sink. Call before serving requests (not synchronized).
    void setEventSink(EventSink sink);

    /// Starts the BPMN flow of a new application inside submit()'s open
    /// transaction on `session` (FlowRunner.h): stores the instance and moves
    /// the application to the status the flow gives it. Returns what to do
    /// once the transaction committed (the flow's service calls), or nullopt
    /// when the item's flow is not deployed: then submit() keeps the stand-in
    /// path (in_review, approval.requested).
    using FlowStarter = std::function<std::optional<std::function<void()>>(Poco::Data::Session& session,
                                                                           const Application& application,
                                                                           const std::string& flowId)>;

    /// Sets the flow starter. Call before serving requests (not synchronized).
    void setFlowStarter(FlowStarter starter) { flowStarter_ = std::move(starter); }

    /// Called by submit() after a flow it started had its first effects
    /// carried out (its service calls issued), before it answers: may wait
    /// (bounded) for an automatic flow to settle, so the answer shows where
    /// it ended (FlowRunner::waitSettled). submit() then reads the
    /// application again. Call before serving requests (not synchronized).
    using FlowSettle = std::function<void(const std::string& applicationId)>;
    void setFlowSettle(FlowSettle settle) { flowSettle_ = std::move(settle); }

    /// The store the service writes to (for its health and fault counters).
    store::Database& database() const { return db_; }

    /// Submits an application for `request.itemId` on behalf of the applicant
    /// (actingFor, else subject) whose audiences are `applicantAudiences`.
    /// Order: idempotency key first (a replay is answered even if the
    /// catalogue changed since), then item, audience, and validation of form
    /// and materials against the item (all problems at once). Throws only for
    /// database or event sink failures (Poco::Exception / the sink's; a
    /// store::StoreUnavailable or one classifyStoreFailure() recognises when
    /// the store is full, read-only, busy or failing), after rolling back:
    /// whenever submit() throws, nothing of the application was committed.
    SubmitResult submit(const SubmitRequest& request, const catalog::Snapshot& catalog,
                        catalog::AudienceSet applicantAudiences);

    /// The application with its transitions and overdue flag; nullopt if none.
    std::optional<Application> find(const std::string& id);

    /// Same for many at once, by id (the ids that have none are left out):
    /// two statements for the lot, from one snapshot, where find() per id
    /// costs a transaction each (the to-do list's applications).
    std::map<std::string, Application> findMany(const std::vector<std::string>& ids);

    /// Same; throws ApplicationNotFound.
    Application get(const std::string& id);

    /// A page of applications with their transitions. Throws InvalidRequest
    /// for page 0 or pageSize 0.
    ListResult list(const ListQuery& query);

    /// Moves an application to `to`, recording actor, time and reason.
    /// `reason` is required for rejected and needs_supplement (the applicant
    /// must be told why / what is missing). With `expectedVersion`, the move
    /// happens only if the application is still at that version. Throws
    /// ApplicationNotFound, IllegalTransition, VersionConflict, InvalidRequest.
    Application transition(const std::string& id, ApplicationStatus to, const std::string& actor,
                           const std::string& reason, std::optional<std::int64_t> expectedVersion = {});

    /// Like transition(), but inside the caller's open transaction on `session`
    /// (e.g. the event relay applying an inbound decision together with its
    /// inbox record): no commit here, the caller commits or rolls back all.
    /// Writes an event about application `id` through the event sink, in the
    /// caller's open transaction (a flow's reminder commits with its step).
    void emitWithin(Poco::Data::Session& session, const std::string& type, const std::string& id,
                    const std::string& dataJson) {
        emit(session, type, id, dataJson);
    }

    /// `resultJson` set: the application's result becomes it (a flow's `result`).
    Application transitionWithin(Poco::Data::Session& session, const std::string& id, ApplicationStatus to,
                                 const std::string& actor, const std::string& reason,
                                 std::optional<std::string> resultJson = std::nullopt);

    /// transition(id, Cancelled, ...).
    Application cancel(const std::string& id, const std::string& actor, const std::string& reason,
                       std::optional<std::int64_t> expectedVersion = {});

    /// Merges the extra fields and materials into an application in
    /// needs_supplement, re-validates the whole against its item in
    /// `catalog`, and moves it back to the status it was in before
    /// (submitted or in_review). Throws ValidationFailed (every remaining
    /// problem, nothing changed), ItemUnavailable, IllegalTransition (not in
    /// needs_supplement), ApplicationNotFound, VersionConflict, InvalidRequest.
    Application supplement(const SupplementRequest& request, const catalog::Snapshot& catalog);

    /// The answer of the plugin operation handling the application: ok moves
    /// it to completed and stores `resultJson`; !ok moves it to rejected with
    /// the reason taken from the result ("detail", "message" or "error"
    /// member) and stores the result too. A result that is not JSON counts as
    /// a failure. Allowed from submitted, in_review (failure only) and
    /// approved (success only); otherwise IllegalTransition. `actor` defaults
    /// to "plugin:<system>/<operation>" of the application's handler.
    Application completeFromPlugin(const std::string& id, bool ok, const std::string& resultJson,
                                   const std::string& actor = {});

    /// Today in the hall's zone (by the configured clock).
    catalog::WorkingCalendar::Date today() const;

    /// Replaces the working-day calendar (hubd's reload on SIGHUP): submits
    /// from the next one on take their due dates from it; applications
    /// already stored keep theirs. Thread-safe.
    void setCalendar(catalog::WorkingCalendar calendar);

private:
    struct Change;
    Application applyChange(const std::string& id, const std::optional<std::int64_t>& expectedVersion,
                            const std::function<Change(const Application&)>& decide,
                            Poco::Data::Session* within);
    std::optional<Application> load(Poco::Data::Session& session, const std::string& id);
    void fillOverdue(Application& application) const;
    Poco::Timestamp currentTime() const;
    catalog::WorkingCalendar::Date dateOf(const Poco::Timestamp& timestamp) const;
    void emit(Poco::Data::Session& session, const std::string& type, const std::string& id,
              const std::string& dataJson);
    void checkText(const std::string& what, const std::string& text, bool required) const;

    store::Database& db_;
    Options options_;
    FlowStarter flowStarter_;
    FlowSettle flowSettle_;
    // The calendar in use: options_.calendar until setCalendar(); accessed only
    // through std::atomic_load/store.
    std::shared_ptr<const catalog::WorkingCalendar> calendar_ =
        std::make_shared<const catalog::WorkingCalendar>(options_.calendar);
};

}  // namespace hub::flows
