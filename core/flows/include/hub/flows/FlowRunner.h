#pragma once

// Runs the BPMN flows of applications in hubd (docs/flows/bpmn.md, "In hubd"):
// starts an instance inside submit()'s transaction, then carries out the
// engine's effects after each commit. A service task calls its plugin
// operation through the plugin host, acting for the applicant, with the
// idempotency key CallContext::forFlowStep(instance, element, attempt); each
// answer is applied on the worker pool as load -> Engine::apply ->
// EngineStore::save -> status move -> commit (again on a revision conflict).
// A scheduler thread fires due timers. On start, resume() re-issues the calls
// that were out, fires overdue timers and starts the flow of applications
// left in `submitted` without an instance (a kill -9 between commit and start).
//
// Several hubs on one store (issue 17): the timers, and the restart of stuck
// submits, are one node's work at a time, that of the holder of the lease
// `flows.timers` (store::LeaseKeeper, node id Database::nodeId()); another
// node takes over once the holder stops renewing. Every step (a timer, an
// answer, a task, a message) locks its instance's row first and commits the
// new state with a compare on its revision, so steps of one instance on two
// nodes take turns, and a timer fired on one is gone from the state the other
// reads: nothing fires twice, even across a takeover. A pending service call
// is made again only when no live node is doing it (its node's lease
// `flows.node.<id>` ran out or was released, or it is past its deadline): a
// starting node leaves the calls of live nodes alone, and the holder of
// `flows.timers` makes again those of nodes that died.

#include "hub/flows/ApplicationService.h"
#include "hub/flows/engine/Engine.h"
#include "hub/flows/engine/EngineStore.h"
#include "hub/flows/engine/FlowRepository.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace hub::host {
class PluginHost;
}
namespace hub::runtime {
class WorkerPool;
}
namespace hub::store {
class LeaseKeeper;
}

namespace hub::flows {

class FlowRunner {
public:
    /// What the flow knows of the applicant (the identity lookup's answer).
    struct Person {
        std::string department;
        std::vector<std::string> roles;
        std::vector<std::string> audiences;
    };
    using PersonLookup = std::function<std::optional<Person>(const std::string& id)>;

    struct Options {
        engine::EngineOptions engine;
        PersonLookup person;
        std::int64_t timerPollMs = 1000;  ///< The scheduler's poll of due timers.
        /// The time to live of the lease `flows.timers`: how soon another node
        /// fires the timers once the holder is gone (hubd: this default).
        std::chrono::milliseconds timerLeaseTtl{15000};
        std::int64_t callTimeoutMs = 30000;
        /// Several hubs on one PostgreSQL: how long past its deadline
        /// (callTimeoutMs) a service call may still wait before another hub
        /// takes it for orphaned (the hub that made it died) and makes it
        /// again. Covers storing the answer and the hubs' clock differences.
        std::int64_t orphanedCallGraceMs = 15000;
        /// How long a message nobody waits for yet is kept for a wait that
        /// begins later (flows.messageTtlSeconds), unless the message says.
        std::int64_t messageTtlSeconds = 3600;
    };

    /// The longest time-to-live a message may ask for (30 days).
    static constexpr std::int64_t maxMessageTtlSeconds = 30LL * 24 * 3600;

    /// Candidate groups the external approval engine handles
    /// (flows.externalGroups; set at start and on each reload): a user task
    /// for one of them is sent as approval.requested, and the approval.decided
    /// answering it completes it.
    void setExternalGroups(std::set<std::string> groups);

    /// The message a receive task or message catch event names to wait for the
    /// external approval engine's decision (docs/flows/bpmn.md).
    static constexpr const char* approvalMessage = "approval.decided";

    /// An approval.decided from the external approval engine, for a flow.
    struct Decision {
        std::string applicationId;
        std::string taskId;    ///< The request's taskId (a user task's id or a message wait's key), or "".
        std::string decision;  ///< "approved" or "rejected".
        std::string reason;
        std::string actor;     ///< "approval-engine:<peer>"
    };
    enum class Delivery {
        NotFlowDriven,  ///< No flow instance drives the application.
        Applied,        ///< The task completed / the wait moved on, in the caller's transaction.
        Late,           ///< The task or the instance is closed already (a duplicate or late answer).
        Unknown,        ///< Nothing of the instance waits for it.
    };

    /// A message published to the flows (POST /admin/flows/messages, a
    /// plugin's edu.campus.hub.flow.message, hubctl flows message).
    struct Message {
        std::string name;
        std::string correlationKey;  ///< Matches the wait's zeebe:subscription key; "" for none.
        std::string applicationId;   ///< Set: only that application's instance.
        engine::Value variables;     ///< Its payload (an object), merged as the wait's outputs say.
        std::string actor;
        /// Set: another message with this id within the first's time-to-live
        /// is a duplicate (delivered or kept once). "": a fresh id.
        std::string messageId;
        /// How long to keep it when nothing waits yet; unset:
        /// Options::messageTtlSeconds; 0: never kept.
        std::optional<std::int64_t> ttlSeconds;
    };

    /// What became of a published message.
    struct Publication {
        enum class Outcome {
            Delivered,  ///< Instances waiting for it took it (`instances`).
            Buffered,   ///< Nothing waits yet: kept until `expiresAt` for the first wait that begins.
            Duplicate,  ///< A message with its id came before (`previous`: "buffered" or "delivered").
            NoWait,     ///< Nothing waits and it is not kept (time-to-live 0, or neither key nor application).
        };
        Outcome outcome = Outcome::NoWait;
        std::string messageId;
        std::vector<std::string> instances;
        std::int64_t expiresAt = 0;  ///< Milliseconds since the epoch; 0 when not kept.
        std::string previous;
    };

    FlowRunner(store::Database& db, ApplicationService& applications, engine::EngineStore& store,
               engine::FlowRepository& flows, host::PluginHost& plugins, Options options);
    ~FlowRunner();  ///< stop()

    /// ApplicationService::FlowStarter: nullopt when `flowId` is not deployed.
    std::optional<std::function<void()>> startWithin(Poco::Data::Session& session, const Application& application,
                                                     const std::string& flowId);

    /// Re-issues pending calls, fires overdue timers, starts the flows of
    /// applications stuck in submitted; then starts the timer thread. Timers
    /// and stuck submits only while this node holds the lease `flows.timers`
    /// (taken here, waiting briefly for the first answer). On PostgreSQL
    /// (several nodes) only the calls no live node is doing are re-issued
    /// (makeOrphanedCallsAgain); on SQLite all of them.
    void resume();

    /// Stops the timer thread, then runs the answers already queued and joins
    /// the runner's pool ("flows", two threads: service answers never wait
    /// behind the API's work). Answers arriving later are dropped: their calls
    /// are pending in the store and re-issued on the next start (on
    /// PostgreSQL at once by the holder of `flows.timers`: this node's lease
    /// `flows.node.<id>` is released here). Call before the plugin host goes.
    void stop();
    /// For tests of a node that dies: stop() without handing the lease
    /// `flows.timers` over; another node takes it once its time to live ran out.
    void abandon();

    /// Waits at most `bound` for the flow of `applicationId` to settle: ended,
    /// or waiting for a person, a message or a timer, with no service call
    /// out and none due for a retry. True when it settled (or no flow drives
    /// the application); false when the bound ran out first or the runner stops.
    bool waitSettled(const std::string& applicationId, std::chrono::milliseconds bound);

    /// Applies one input to an instance in its own transaction, retrying on a
    /// revision conflict, then carries out the effects. False when it did not
    /// apply (stale, duplicate, unknown instance).
    bool apply(const std::string& instanceId, engine::Input input);

    /// As apply(), inside the caller's open transaction on `session` (no
    /// commit, no retry: engine::InstanceConflict reaches the caller). Returns
    /// what to carry out after the commit, or nullopt when it did not apply.
    std::optional<std::function<void()>> applyWithin(Poco::Data::Session& session, const std::string& instanceId,
                                                     engine::Input input);

    /// Applies the external approval engine's decision to the flow driving
    /// its application, in the relay's open transaction (which records the
    /// event's id: a repeated event never gets here). A user task of an
    /// external group completes with decision approve / reject and the reason
    /// as its comment; a wait for approval.decided receives {decision,
    /// comment, decided_by}. Its effects (service calls) go to the runner's
    /// pool at once: a call that raced the commit finds its wait there, or,
    /// had the transaction rolled back, is not applied and issued again.
    Delivery applyDecisionWithin(Poco::Data::Session& session, const Decision& decision);

    /// Delivers a message to every instance that waits for it (by name and
    /// correlation key, or the application's instance), each in its own
    /// transaction. When none waits, the message is stored (flows_engine_messages)
    /// until its time-to-live runs out, and the first wait for it that begins
    /// (same name; same key, or the application's instance) takes it, exactly
    /// once, in the transaction that moves that wait on; after a restart too.
    /// Throws std::invalid_argument for a time-to-live out of range.
    Publication publishMessage(const Message& message);

    /// Kept messages dropped unused when their time-to-live ran out, since start.
    std::uint64_t expiredMessages() const noexcept { return expiredMessages_.load(); }

    /// Messages kept for a wait that has not begun, as counted on the
    /// scheduler's last poll (no store access: /metrics reads it).
    std::uint64_t bufferedMessages() const noexcept { return bufferedMessages_.load(); }

    /// Drops the kept messages whose time-to-live ran out (counted) and forgets
    /// delivered ones past theirs; the scheduler does this on each poll.
    void expireMessages();

    /// For the applications' event sink, inside the change's transaction: a
    /// move made by someone else than the flow feeds the flow there too
    /// (docs/flows/applications.md): withdrawn (cancelled) cancels the
    /// instance; approved, rejected or completed by hand ends it with that
    /// outcome; a supplement (needs_supplement -> submitted / in_review)
    /// completes the applicant's return task with the merged form, and the
    /// flow moves on. Open tasks, timers and waits of an ended instance stop.
    void onApplicationEvent(Poco::Data::Session& session, const std::string& type, const std::string& dataJson);

    /// The application status an instance's state stands for, given the last
    /// input (the rule documented in docs/flows/applications.md); nullopt: keep.
    static std::optional<ApplicationStatus> statusFor(const engine::InstanceState& state,
                                                      const engine::Input& input, const std::string& applicant);

private:
    /// apply(), with `first` run at the start of the transaction (a claim
    /// that commits with the step); false from it: nothing applied.
    bool applyWith(const std::string& instanceId, engine::Input input,
                   const std::function<bool(Poco::Data::Session&)>& first);
    void carryOut(const std::string& instanceId, const engine::InstanceState& state,
                  const std::vector<engine::Effect>& effects);
    void call(const std::string& instanceId, const std::string& elementId, const std::string& key, int attempt,
              const engine::Value& callInput, const engine::Value& applicant);
    /// The events a step sends, in its transaction: a reminder for each
    /// Reminder effect, approval.requested for each task of an external group
    /// and each wait for approval.decided that opens.
    void emitStepEvents(Poco::Data::Session& session, const engine::InstanceState& state,
                        const std::vector<engine::Effect>& effects, const std::string& applicationId);
    void emitReminder(Poco::Data::Session& session, const engine::InstanceState& state, const engine::Effect& effect,
                      const std::string& applicationId);
    void requestApproval(Poco::Data::Session& session, const engine::InstanceState& state,
                         const engine::Effect& effect, const std::string& applicationId);
    bool isExternal(const engine::UserTask& task) const;  ///< Takes mutex_.
    /// Moves the application to `to` the shortest way; `resultJson` set:
    /// its result becomes it (on the last move).
    void moveApplication(Poco::Data::Session& session, const std::string& applicationId, ApplicationStatus to,
                         const std::string& reason, std::optional<std::string> resultJson = std::nullopt);
    /// Hands `instanceId`'s message waits the oldest kept message each
    /// matches, one per transaction (claim + apply commit together).
    void deliverKept(const std::string& instanceId);
    /// deliverKept() for every instance with a wait that a kept message
    /// matches (`messageId` set: that message's).
    void deliverKeptToWaiting(const std::string& messageId = {});
    void timerLoop();
    /// Fires due timers while this node holds the lease; false when it does not.
    bool fireDueTimers();
    bool holdsTimers() const;
    void startStuck();
    /// Makes again the service calls no live hub is doing; how many.
    std::size_t makeOrphanedCallsAgain(bool atStart);
    void forgetGoneNodes();
    static std::int64_t nowMs();

    store::Database& db_;
    ApplicationService& applications_;
    engine::EngineStore& store_;
    engine::FlowRepository& flows_;
    host::PluginHost& plugins_;
    std::unique_ptr<runtime::WorkerPool> pool_;
    Options options_;
    engine::Engine engine_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable stepped_;  // a step committed (waitSettled)
    std::uint64_t stepsCommitted_ = 0;  // behind mutex_
    bool stopping_ = false;
    std::set<std::string> externalGroups_;  // behind mutex_
    std::thread timers_;
    std::unique_ptr<store::LeaseKeeper> timerLease_;      // flows.timers; from resume() to stop()
    std::unique_ptr<store::LeaseKeeper> abandonedLease_;  // abandon(): its row left to run out
    std::atomic<bool> abandoning_{false};
    std::int64_t stuckStartedUnder_ = -1;  // the lease token startStuck() last ran under (timer thread)
    std::chrono::steady_clock::time_point nextOrphanScan_{};  // timer thread
    std::uint64_t orphanScans_ = 0;                           // timer thread
    // PostgreSQL: flows.node.<node id>, held while this hub runs (its calls are
    // being done); released at stop, left to run out by abandon().
    std::unique_ptr<store::LeaseKeeper> nodeLease_;
    std::atomic<std::uint64_t> expiredMessages_{0};
    std::atomic<std::uint64_t> bufferedMessages_{0};
};

}  // namespace hub::flows
