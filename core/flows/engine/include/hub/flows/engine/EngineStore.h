#pragma once

// The engine's tables (schema module "flows_engine") and the writes that go
// with each input, inside the caller's open transaction: the caller (the
// application service, the timer scheduler, an inbound message) begins a
// transaction on a session, changes the application and writes its outbox
// events, calls save() with the same session, and commits. Either all of it is
// stored or nothing, so a kill -9 at any point resumes from the last commit.

#include "hub/flows/engine/Engine.h"
#include "hub/store/Database.h"

#include <Poco/Data/Session.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hub::flows::engine {

/// save() found the instance changed since it was loaded (another hub or
/// thread applied an input first): nothing was written; reload and re-apply.
class InstanceConflict : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A service call that was out when the hub stopped (re-issued on start, at
/// least once, with the same idempotency key).
struct PendingCall {
    std::string instanceId;
    std::string elementId;
    std::string key;
    int attempt = 0;
    std::int64_t waitingSince = 0;  ///< When the call was made (the step's time), or last claimed.
    std::string waitingNode;        ///< The hub that made it (Database::nodeId()), or last claimed it.
};

/// A timer as the scheduler sees it.
struct StoredTimer {
    std::string id;
    std::string instanceId;
    std::string elementId;
    std::int64_t dueAt = 0;
};

/// An open user task row (the clerks' to-do list).
struct StoredTask {
    std::string id;
    std::string instanceId;
    std::string applicationId;
    std::string elementId;
    std::string name;
    std::string candidateGroups;  ///< Comma-separated, as written in the flow.
    std::string assignee;
    std::string claimedBy;
    std::int64_t createdAt = 0;
};

/// Which open tasks a caller's to-do list needs (openTasksFor): the tasks the
/// caller may act on, narrowed by the list's filters. Matching is done in SQL
/// and may let through more than the caller may act on (SQLite's LIKE ignores
/// ASCII case), never fewer: the caller checks each task it returns.
struct TaskSelection {
    bool everyTask = false;              ///< hub:admin: every open task (the filters below still narrow).
    std::string assignee;                ///< The caller's subject: tasks assigned to it.
    std::vector<std::string> groups;     ///< The caller's roles: tasks with one of them among their candidate groups.
    std::vector<std::string> adminOf;    ///< Departments the caller administers: tasks of their applications.
    // Filters on the task's application (flows_applications); empty: none.
    std::string applicationId;
    std::string department;
    std::string itemId;
};

/// An open incident row (what an admin sees and retries).
struct StoredIncident {
    std::string id;
    std::string instanceId;
    std::string elementId;
    std::string message;
    std::int64_t createdAt = 0;
};

/// A message published to the flows that no wait took at once: kept
/// ("buffered") until `expiresAt` for a wait that begins later, or, once
/// taken ("delivered"), remembered as long for its id (a duplicate is known).
struct StoredMessage {
    std::string id;
    std::string name;
    std::string correlationKey;
    std::string applicationId;
    std::string variables;  ///< JSON object.
    std::string actor;
    std::string status;      ///< "buffered" or "delivered"
    std::string instanceId;  ///< Delivered: the instance that took it.
    std::int64_t createdAt = 0;
    std::int64_t expiresAt = 0;
};

class EngineStore {
public:
    static const std::vector<store::Migration>& migrations();

    /// Migrates the engine's tables on `db`.
    explicit EngineStore(store::Database& db);

    /// Stores a deployment; the same file (by hash) keeps its version, a new
    /// one gets the next. Returns the version.
    int saveDeployment(Poco::Data::Session& session, const Definition& definition, std::int64_t nowMs);

    /// The XML of a deployed version, or nullopt.
    std::optional<std::string> deploymentXml(Poco::Data::Session& session, const std::string& flowId, int version);

    /// Takes SQLite's write lock for the instance's transaction before its
    /// state is read (an UPDATE that changes nothing): two readers that both
    /// upgraded to writers would make one fail at once with "database is locked".
    void lockInstance(Poco::Data::Session& session, const std::string& instanceId);

    /// Writes `state` after an input (its instance row by compare-and-set on
    /// `revision`; the token and timer rows that changed since load() or the
    /// last save(); new history; incidents) and the tasks the effects open or
    /// close, with statements prepared once per connection. Throws InstanceConflict when the row changed
    /// since it was loaded. On success bumps state.revision, clears the saved
    /// history and drops resolved incidents. No begin/commit here.
    void save(Poco::Data::Session& session, InstanceState& state, const std::vector<Effect>& effects,
              const std::string& applicationId, std::int64_t nowMs);

    /// The state as last committed, or nullopt.
    std::optional<InstanceState> load(Poco::Data::Session& session, const std::string& instanceId);

    /// The instance driving an application, or nullopt.
    std::optional<std::string> instanceOf(Poco::Data::Session& session, const std::string& applicationId);
    /// The application an instance runs for, or nullopt.
    std::optional<std::string> applicationOf(Poco::Data::Session& session, const std::string& instanceId);

    /// The instances with a wait for message `name` whose correlation key (as
    /// evaluated when the wait began) is `correlationKey`.
    std::vector<std::string> messageWaiters(Poco::Data::Session& session, const std::string& name,
                                            const std::string& correlationKey);

    /// Stores a message record; false (nothing written) when its id exists.
    bool insertMessage(Poco::Data::Session& session, const StoredMessage& message);

    /// The record of message `id`, whatever its status, or nullopt.
    std::optional<StoredMessage> message(Poco::Data::Session& session, const std::string& id);

    /// The oldest kept message, alive at `nowMs`, that a wait for `name` with
    /// correlation key `correlationKey` ("" for none) in an instance of
    /// application `applicationId` takes: the same key (and no application
    /// or that one), or no key and that application.
    std::optional<StoredMessage> keptMessageFor(Poco::Data::Session& session, const std::string& name,
                                                const std::string& correlationKey, const std::string& applicationId,
                                                std::int64_t nowMs);

    /// Marks kept message `id` delivered to `instanceId`: a compare-and-set,
    /// false when it was delivered meanwhile (or is not kept).
    bool markMessageDelivered(Poco::Data::Session& session, const std::string& id, const std::string& instanceId);

    /// Instances with a message wait that a kept message (alive at `nowMs`;
    /// only message `messageId` when set) matches.
    std::vector<std::string> instancesWaitingForKept(Poco::Data::Session& session, std::int64_t nowMs,
                                                     const std::string& messageId = {});

    /// Deletes the records whose time-to-live ran out by `nowMs`; returns how
    /// many of them were kept messages never delivered.
    std::uint64_t expireMessages(Poco::Data::Session& session, std::int64_t nowMs);

    /// Kept messages alive at `nowMs`.
    std::uint64_t keptMessages(Poco::Data::Session& session, std::int64_t nowMs);

    /// Timers due at `nowMs` or before, earliest first.
    std::vector<StoredTimer> dueTimers(Poco::Data::Session& session, std::int64_t nowMs, std::size_t limit);

    /// Service calls out (tokens waiting for a plugin's answer): one hub makes
    /// them all again on start.
    std::vector<PendingCall> pendingCalls(Poco::Data::Session& session);
    /// Several hubs: the service calls out that no live hub is doing, to be
    /// made again: made before `waitingBefore` (ms; past their deadline, so
    /// their answer was lost), or by `ownNode` (this hub's id: its last run
    /// made them), or by a hub whose lease `nodeLeasePrefix` + its id has run
    /// out or never was (it died or stopped).
    std::vector<PendingCall> orphanedCalls(Poco::Data::Session& session, std::int64_t waitingBefore,
                                           const std::string& nodeLeasePrefix, const std::string& ownNode);
    /// Takes a pending call over to make it again here: a compare-and-set of
    /// its waiting_since and waiting_node to `nowMs` and this hub; false when
    /// it was answered or taken meanwhile (of several hubs finding one
    /// orphaned call, one makes it again).
    bool claimCall(Poco::Data::Session& session, const PendingCall& call, std::int64_t nowMs);

    /// Open user tasks, oldest first.
    std::vector<StoredTask> openTasks(Poco::Data::Session& session);
    /// The open user tasks `selection` picks, oldest first: one query that
    /// reads only those rows, not every open task (the to-do list of one clerk
    /// among thousands of open tasks). The department, item and adminOf terms
    /// read ApplicationService's flows_applications.
    std::vector<StoredTask> openTasksFor(Poco::Data::Session& session, const TaskSelection& selection);
    /// The open task `taskId` (a read by its key), or nothing when it is not open.
    std::optional<StoredTask> openTask(Poco::Data::Session& session, const std::string& taskId);

    /// Open incidents, oldest first.
    std::vector<StoredIncident> openIncidents(Poco::Data::Session& session);

    /// Claims an open task for `user`: true when it was unclaimed or is
    /// theirs already; false when it is closed or claimed by someone else.
    /// A compare-and-set: of two clerks claiming at once, one wins.
    bool claimTask(Poco::Data::Session& session, const std::string& taskId, const std::string& user);

    /// Gives a claimed task back: true when `user` held it (or `force`, for an
    /// admin), false otherwise.
    bool unclaimTask(Poco::Data::Session& session, const std::string& taskId, const std::string& user, bool force);

    /// The saved history of an instance, in order.
    std::vector<HistoryEntry> history(Poco::Data::Session& session, const std::string& instanceId);

private:
    store::Database& db_;
};

/// The state (without history) as JSON, and back; what the instance row keeps.
std::string stateToJson(const InstanceState& state);
InstanceState stateFromJson(const std::string& json);

}  // namespace hub::flows::engine
