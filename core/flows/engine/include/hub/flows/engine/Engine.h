#pragma once

// The engine's runtime: a deterministic function from (definition, instance
// state, input) to (new state, effects). It holds no thread, store or clock:
// the caller gives the time in each input, carries out the effects (calls a
// plugin, opens a task on the clerks' list, arms a timer, ...) and stores the
// state with them in one transaction (EngineStore.h). Given the same inputs in
// the same order, it produces the same state and effects, so a state read back
// after a kill -9 continues exactly where the last commit left it.

#include "hub/flows/engine/Model.h"
#include "hub/flows/engine/Value.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hub::flows::engine {

/// Where a token waits.
enum class Wait {
    Service,  ///< a service task's call is out (detail: the call's key)
    Task,     ///< a user task is open (detail: the task id)
    Message,  ///< a receive task / message catch event (detail: the message name)
    Timer,    ///< a timer catch event (detail: the timer id)
    Join,     ///< arrived at a parallel or inclusive join (detail: the flow it came by)
    Incident, ///< stopped by an incident (detail: the incident id)
};

const char* waitName(Wait wait);

struct Token {
    std::int64_t id = 0;
    std::string elementId;
    Wait wait = Wait::Service;
    std::string detail;
    int attempt = 0;       ///< Service task: the current attempt, from 1.
    int firstAttempt = 1;  ///< Service task: the attempt its retries count from (an admin retry starts anew).
    std::string via;       ///< Incident: the flow it arrived by (entered again on a retry).
    std::string correlation;  ///< Message: the correlation key evaluated as the wait began, or "".
};

/// An open user task (the clerks' to-do list).
struct UserTask {
    std::string id;  ///< "<instance>:<element>:<n>"
    std::string elementId;
    std::string name;
    std::int64_t tokenId = 0;
    std::vector<std::string> candidateGroups;
    std::string assignee;
    std::int64_t createdAt = 0;  ///< Milliseconds since the epoch (UTC), as every time here.
};

/// A scheduled timer.
struct Timer {
    std::string id;         ///< "<instance>:t<n>"
    std::string elementId;  ///< The timer event, or the service task for a retry.
    std::int64_t tokenId = 0;
    std::int64_t dueAt = 0;
    std::string purpose;    ///< "catch", "boundary" or "retry".
};

struct Incident {
    std::string id;  ///< "<instance>:i<n>"
    std::string elementId;
    std::int64_t tokenId = 0;
    std::string message;
    std::int64_t at = 0;
    std::int64_t resolvedAt = 0;  ///< 0 while open.
};

/// One line of the per-element history (what the applicant's diagram shows).
struct HistoryEntry {
    std::int64_t seq = 0;
    std::string elementId;
    std::string event;   ///< "started", "completed", "cancelled", "failed", "fired", "incident", "reminded"
    std::string actor;   ///< "hub" unless a person acted.
    std::int64_t at = 0;
    std::string result;  ///< The decision, the flow taken, the error, ...
};

enum class InstanceStatus { Running, Completed, Terminated, Cancelled };
const char* statusName(InstanceStatus status);

/// Everything the engine knows of one instance; what EngineStore saves.
struct InstanceState {
    std::string id;
    std::string flowId;
    int version = 0;  ///< The deployment's version the instance runs on, for ever.
    InstanceStatus status = InstanceStatus::Running;
    std::string outcome;  ///< Set when it ends: the end event's zeebe:property outcome, else "completed".
    Value variables = Value(Value::Object{});
    std::vector<Token> tokens;  ///< Only waiting tokens: between inputs, every token waits.
    std::vector<UserTask> tasks;
    std::vector<Timer> timers;
    std::vector<Incident> incidents;  ///< Open ones, plus any resolved since the last save.
    std::vector<HistoryEntry> history;  ///< Entries not yet saved (EngineStore clears them).
    std::int64_t nextToken = 1;
    std::int64_t nextTask = 1;
    std::int64_t nextTimer = 1;
    std::int64_t nextIncident = 1;
    std::int64_t nextHistory = 1;
    std::int64_t steps = 0;  ///< Elements entered, in all.
    std::int64_t revision = 0;  ///< Bumped by each save (compare-and-set in the store).
    /// The token rows and timer rows as the store last read or wrote them
    /// (EngineStore's load() and save() set it; save() writes only the rows
    /// that differ). Not part of the state's JSON; not known on a state built
    /// by hand, whose save rewrites them all.
    struct StoredRows {
        bool known = false;
        std::vector<Token> tokens;
        std::vector<std::string> timerIds;
    } stored;
};

/// What the caller must carry out after an input, in order.
struct Effect {
    enum class Kind {
        CallService,       ///< call plugin.operation with input, idempotency key `key`
        CreateTask,        ///< open user task `id`
        CompleteTask,      ///< task `id` was completed (decision in `message`)
        CancelTask,        ///< close task `id` unfinished
        ScheduleTimer,     ///< arm timer `id` for `dueAt`
        CancelTimer,       ///< disarm timer `id`
        WaitMessage,       ///< the instance waits for message `message` (correlation key: `id`, or "")
        CancelMessageWait, ///< it no longer does
        Reminder,          ///< a non-interrupting timer fired on task `id` (element: the timer)
        RaiseIncident,     ///< incident `id` (message: what failed)
        ResolveIncident,   ///< incident `id` retried
        EndInstance,       ///< the instance ended with `outcome`
    };
    Kind kind;
    std::string elementId;
    std::string id;  ///< Task, timer or incident id, or the call's idempotency key.
    std::string plugin;
    std::string operation;
    Value input;
    int attempt = 0;
    std::int64_t dueAt = 0;
    std::string message;
    std::string outcome;
    std::string actor;  ///< CompleteTask: who completed it.
};

const char* effectName(Effect::Kind kind);

/// One thing that happened to an instance.
struct Input {
    enum class Kind {
        Start,             ///< variables: the initial variables (form, applicant, ...)
        TaskCompleted,     ///< taskId, actor, decision, comment, variables: the form fields
        ServiceCompleted,  ///< callKey, variables: the plugin's result (an object)
        ServiceFailed,     ///< callKey, errorMessage; errorCode set = a business error (error boundary)
        TimerFired,        ///< timerId
        MessageReceived,   ///< messageName, correlationKey, variables: its payload
        RetryIncident,     ///< incidentId, actor
        Cancel,            ///< actor: the instance is cancelled (the application withdrawn); with
                           ///< decision set, it ends terminated with that outcome (decided by hand)
    };
    Kind kind = Kind::Start;
    std::int64_t now = 0;  ///< Milliseconds since the epoch (UTC).
    std::string actor = "hub";
    Value variables;
    std::string taskId;
    std::string decision;
    std::string comment;
    std::string callKey;
    std::string errorCode;
    std::string errorMessage;
    std::string timerId;
    std::string messageName;
    /// MessageReceived: reaches only a wait with this key; "" reaches the
    /// instance's oldest wait for the message whatever its key (a message
    /// addressed to the instance itself, e.g. by its application).
    std::string correlationKey;
    std::string incidentId;
};

/// What an input did.
struct Result {
    bool applied = false;  ///< False: the input matched nothing waiting (stale or duplicate); nothing changed.
    std::string reason;    ///< Why not applied.
    std::vector<Effect> effects;
};

struct EngineOptions {
    /// Elements one input may enter before the token is stopped with an
    /// incident (a loop with no wait state).
    std::int64_t maxStepsPerInput = 1000;
    /// Elements an instance may enter in all.
    std::int64_t maxStepsPerInstance = 100000;
    /// Service task retries: the first retry after this, doubling, at most retryMaxMs.
    std::int64_t retryBaseMs = 1000;
    std::int64_t retryMaxMs = 5 * 60 * 1000;
    /// The hall's calendar for timers with zeebe:property calendar=working-days:
    /// the time `days` working days after `fromMs`. Unset: such timers count
    /// calendar days.
    std::function<std::int64_t(std::int64_t fromMs, std::int64_t days)> addWorkingDays;
};

/// The interpreter. Stateless apart from its options: one Engine serves every
/// instance and thread.
class Engine {
public:
    explicit Engine(EngineOptions options = {}) : options_(std::move(options)) {}

    /// Applies `input` to `state` (which must belong to `definition`'s flow and
    /// version) and advances every token until each waits. A Start input needs
    /// a fresh state with id set. Throws std::invalid_argument for an input
    /// that cannot apply to this state (a start on a started instance).
    Result apply(const Definition& definition, InstanceState& state, const Input& input) const;

    const EngineOptions& options() const noexcept { return options_; }

private:
    EngineOptions options_;
};

/// The idempotency key of a service task call: "<instance>:<element>:<attempt>".
std::string callKey(const std::string& instanceId, const std::string& elementId, int attempt);

}  // namespace hub::flows::engine
