#include "hub/flows/FlowRunner.h"

#include "FlowTrace.h"

#include "hub/common/JsonWriter.h"

#include "hub/flows/FlowException.h"
#include "hub/host/CallContext.h"
#include "hub/host/PluginHost.h"
#include "hub/runtime/WorkerPool.h"
#include "hub/store/Lease.h"
#include "hub/store/LeaseKeeper.h"
#include "hub/store/TraceLog.h"

#include <campushub/plugin.h>

#include <Poco/Data/Statement.h>
#include <Poco/Data/Transaction.h>
#include <Poco/Logger.h>
#include <Poco/UUIDGenerator.h>

#include <chrono>
#include <deque>
#include <map>

using namespace Poco::Data::Keywords;

namespace hub::flows {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("hub.flows"); }

engine::Value stringArray(const std::vector<std::string>& items) {
    engine::Value::Array out;
    for (const auto& item : items) out.emplace_back(item);
    return engine::Value(std::move(out));
}

std::vector<std::string> strings(const engine::Value& value) {
    std::vector<std::string> out;
    if (!value.isArray()) return out;
    for (const auto& item : value.asArray())
        if (item.isString()) out.push_back(item.asString());
    return out;
}

std::string applicationIdOf(const engine::InstanceState& state) {
    const auto& id = state.variables.member("application").member("id");
    return id.isString() ? id.asString() : std::string();
}

// The shortest way through the state machine (isAllowedTransition) from one
// status to another, never through cancelled: e.g. submitted -> in_review ->
// approved when a flow approves at once.
std::vector<ApplicationStatus> pathTo(ApplicationStatus from, ApplicationStatus to) {
    std::map<ApplicationStatus, ApplicationStatus> previous;
    std::deque<ApplicationStatus> queue{from};
    previous.emplace(from, from);
    while (!queue.empty()) {
        auto at = queue.front();
        queue.pop_front();
        if (at == to) break;
        for (auto next : allowedTransitions(at)) {
            if (next == ApplicationStatus::Cancelled && to != ApplicationStatus::Cancelled) continue;
            if (previous.emplace(next, at).second) queue.push_back(next);
        }
    }
    if (!previous.count(to)) return {};
    std::vector<ApplicationStatus> path;
    for (auto at = to; at != from; at = previous[at]) path.insert(path.begin(), at);
    return path;
}

// The lease whose holder fires the timers (docs/store.md, "Leases").
const char* const kTimerLease = "flows.timers";

// How often the holder of the timers looks for calls no live hub is doing.
constexpr auto orphanScanInterval = std::chrono::seconds(1);

// Several hubs: each holds the lease flows.node.<its node id> while it runs,
// so the others know whose service calls are still being done.
const char* const kNodeLeasePrefix = "flows.node.";

}  // namespace

FlowRunner::FlowRunner(store::Database& db, ApplicationService& applications, engine::EngineStore& store,
                       engine::FlowRepository& flows, host::PluginHost& plugins, Options options)
    : db_(db), applications_(applications), store_(store), flows_(flows), plugins_(plugins),
      pool_(std::make_unique<runtime::WorkerPool>("flows", 2, 4096)), options_(std::move(options)),
      engine_(options_.engine) {
    // From the start, before this hub makes any call.
    if (db_.dialect() == store::Dialect::PostgreSql)
        nodeLease_ = std::make_unique<store::LeaseKeeper>(db_, kNodeLeasePrefix + db_.nodeId(), db_.nodeId(),
                                                          options_.timerLeaseTtl);
}

FlowRunner::~FlowRunner() { stop(); }

std::int64_t FlowRunner::nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::optional<ApplicationStatus> FlowRunner::statusFor(const engine::InstanceState& state, const engine::Input& input,
                                                       const std::string& applicant) {
    if (state.status == engine::InstanceStatus::Cancelled) return ApplicationStatus::Cancelled;
    if (state.status != engine::InstanceStatus::Running) {
        if (state.outcome == "rejected") return ApplicationStatus::Rejected;
        if (state.outcome == "approved") return ApplicationStatus::Approved;
        return ApplicationStatus::Completed;
    }
    (void)input;
    // A task for the applicant is the return for supplement (hall-flows.md,
    // Task_Supplement); any other open task is a review.
    bool review = false;
    for (const auto& task : state.tasks) {
        if (!applicant.empty() && task.assignee == applicant) return ApplicationStatus::NeedsSupplement;
        review = true;
    }
    if (review) return ApplicationStatus::InReview;
    return std::nullopt;  // service calls, timers, messages: the status stays
}

void FlowRunner::moveApplication(Poco::Data::Session& session, const std::string& applicationId,
                                 ApplicationStatus to, const std::string& reason,
                                 std::optional<std::string> resultJson) {
    std::string id = applicationId, current;
    Poco::Data::Statement select(session);
    select << store::sql(session, "SELECT status FROM flows_applications WHERE id = ?"), use(id), into(current), now;
    auto from = parseApplicationStatus(current);
    if (!from || *from == to) return;
    const auto path = pathTo(*from, to);
    for (std::size_t n = 0; n < path.size(); ++n)
        applications_.transitionWithin(session, applicationId, path[n], "hub", reason,
                                       n + 1 == path.size() ? resultJson : std::nullopt);
}

namespace {

// What an ended instance hands the application: its `result` variable (an
// object the flow's output mappings filled, e.g. result.certificate_no).
std::optional<std::string> resultOf(const engine::InstanceState& state) {
    if (state.status == engine::InstanceStatus::Running) return std::nullopt;
    const auto& result = state.variables.member("result");
    if (!result.isObject()) return std::nullopt;
    return result.toJson();
}

// The name of the end event an input's step reached, for the move's reason
// ("非在读，不予开具"); "" when it reached none.
std::string endReached(const engine::Definition& definition, const engine::InstanceState& state) {
    for (auto entry = state.history.rbegin(); entry != state.history.rend(); ++entry) {
        const auto* element = definition.process.find(entry->elementId);
        if (element && element->kind == engine::ElementKind::EndEvent && entry->event == "completed")
            return element->name.empty() ? element->id : element->name;
    }
    return {};
}

bool settled(const engine::InstanceState& state) {
    if (state.status != engine::InstanceStatus::Running) return true;
    for (const auto& token : state.tokens)
        if (token.wait == engine::Wait::Service) return false;
    for (const auto& timer : state.timers)
        if (timer.purpose == "retry") return false;
    return true;
}

}  // namespace

bool FlowRunner::waitSettled(const std::string& applicationId, std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    std::optional<std::string> instanceId;
    while (true) {
        std::uint64_t seen;
        {
            std::lock_guard lock(mutex_);
            seen = stepsCommitted_;
        }
        {
            Poco::Data::Session session = db_.session();
            if (!instanceId) instanceId = store_.instanceOf(session, applicationId);
            if (!instanceId) return true;
            auto state = store_.load(session, *instanceId);
            if (!state || settled(*state)) return true;
        }
        std::unique_lock lock(mutex_);
        if (!stepped_.wait_until(lock, deadline, [&] { return stepsCommitted_ != seen || stopping_; }))
            return false;
        if (stopping_) return false;
    }
}

std::optional<std::function<void()>> FlowRunner::startWithin(Poco::Data::Session& session,
                                                             const Application& application,
                                                             const std::string& flowId) {
    auto [definition, version] = flows_.latest(flowId);
    if (!definition) return std::nullopt;

    engine::Value applicant(engine::Value::Object{});
    applicant.set("id", application.applicant);
    if (auto person = options_.person ? options_.person(application.applicant) : std::nullopt) {
        applicant.set("department", person->department);
        applicant.set("roles", stringArray(person->roles));
        applicant.set("audiences", stringArray(person->audiences));
    } else {
        applicant.set("department", engine::Value());
        applicant.set("roles", engine::Value(engine::Value::Array{}));
        applicant.set("audiences", engine::Value(engine::Value::Array{}));
    }
    engine::Value app(engine::Value::Object{});
    app.set("id", application.id);
    app.set("itemId", application.itemId);
    app.set("department", application.department);
    app.set("submittedAt", application.submittedAt);
    app.set("dueDate", application.dueDate);

    engine::InstanceState state;
    state.id = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    state.flowId = flowId;
    state.version = version;
    engine::Input input;
    input.kind = engine::Input::Kind::Start;
    input.now = nowMs();
    input.variables = engine::Value(engine::Value::Object{});
    input.variables.set("form", engine::Value::fromJson(application.formJson));
    input.variables.set("applicant", applicant);
    input.variables.set("application", app);

    auto result = engine_.apply(*definition, state, input);
    store_.save(session, state, result.effects, application.id, input.now);
    store::TraceLog::record(session, {0, application.id, "", input.now, "flow", "start " + flowId,
                                      "v" + std::to_string(version), state.id, -1});
    traceEffects(session, application.id, flowId, result.effects);
    emitStepEvents(session, state, result.effects, application.id);
    if (auto to = statusFor(state, input, application.applicant))
        moveApplication(session, application.id, *to, "flow " + flowId + " v" + std::to_string(version));
    return [this, state, effects = std::move(result.effects)] { carryOut(state.id, state, effects); };
}

bool FlowRunner::apply(const std::string& instanceId, engine::Input input) {
    return applyWith(instanceId, std::move(input), {});
}

bool FlowRunner::applyWith(const std::string& instanceId, engine::Input input,
                           const std::function<bool(Poco::Data::Session&)>& first) {
    for (int attempt = 0; attempt < 10; ++attempt) {
        Poco::Data::Session session = db_.session();
        Poco::Data::Transaction tx(session, true);
        std::optional<std::function<void()>> after;
        try {
            if (first && !first(session)) {
                tx.rollback();
                return false;
            }
            after = applyWithin(session, instanceId, input);
        } catch (const engine::InstanceConflict&) {
            tx.rollback();
            continue;  // another thread applied an input first: read it again
        }
        if (!after) return false;
        tx.commit();
        {
            std::lock_guard lock(mutex_);
            ++stepsCommitted_;
        }
        stepped_.notify_all();
        (*after)();
        return true;
    }
    throw std::runtime_error("flow instance " + instanceId + ": still conflicting after 10 attempts");
}

std::optional<std::function<void()>> FlowRunner::applyWithin(Poco::Data::Session& session,
                                                             const std::string& instanceId, engine::Input input) {
    // A write first, so SQLite takes the write lock (waiting out another
    // writer) before the read: two readers that both try to upgrade would
    // make one fail at once with "database is locked".
    store_.lockInstance(session, instanceId);
    auto state = store_.load(session, instanceId);
    if (!state) return std::nullopt;
    auto definition = flows_.version(state->flowId, state->version);
    if (!definition) {
        logger().error("flow instance %s: %s v%d is no longer deployed; it waits for an admin", instanceId,
                       state->flowId, state->version);
        return std::nullopt;
    }
    if (input.now == 0) input.now = nowMs();
    auto result = engine_.apply(*definition, *state, input);
    if (!result.applied) return std::nullopt;
    const std::string applicationId = applicationIdOf(*state);
    const std::string end = endReached(*definition, *state);  // before save() clears the history
    store_.save(session, *state, result.effects, applicationId, input.now);
    emitStepEvents(session, *state, result.effects, applicationId);
    traceEffects(session, applicationId, state->flowId, result.effects);
    const auto& applicant = state->variables.member("applicant").member("id");
    if (auto to = statusFor(*state, input, applicant.isString() ? applicant.asString() : std::string())) {
        std::string reason = !input.comment.empty() ? input.comment
                             : end.empty()          ? "flow " + state->flowId
                                                    : "flow " + state->flowId + ": " + end;
        moveApplication(session, applicationId, *to, reason, resultOf(*state));
    }
    return [this, instanceId, settled = std::move(*state), effects = std::move(result.effects)] {
        carryOut(instanceId, settled, effects);
    };
}

void FlowRunner::carryOut(const std::string& instanceId, const engine::InstanceState& state,
                          const std::vector<engine::Effect>& effects) {
    bool timers = false, waits = false;
    for (const auto& effect : effects) {
        switch (effect.kind) {
        case engine::Effect::Kind::WaitMessage: waits = true; break;
        case engine::Effect::Kind::CallService:
            call(instanceId, effect.elementId, effect.id, effect.attempt, effect.input,
                 state.variables.member("applicant"));
            break;
        case engine::Effect::Kind::ScheduleTimer: timers = true; break;
        case engine::Effect::Kind::RaiseIncident:
            logger().warning("flow instance %s: incident %s at %s: %s", instanceId, effect.id, effect.elementId,
                             effect.message);
            break;
        default: break;  // tasks, waits and ends are stored by EngineStore::save
        }
    }
    if (timers) wake_.notify_all();
    // A message that came before its wait was kept: the wait takes it now.
    if (waits) {
        try {
            deliverKept(instanceId);
        } catch (const std::exception& e) {
            logger().error("flow instance %s: handing it a kept message: %s (tried again on the next start)",
                           instanceId, std::string(e.what()));
        }
    }
}

void FlowRunner::call(const std::string& instanceId, const std::string& elementId, const std::string& key,
                      int attempt, const engine::Value& callInput, const engine::Value& applicant) {
    std::string plugin, operation, applicationId, traceId;
    // The element's plugin.operation, from the instance's definition.
    {
        Poco::Data::Session session = db_.session();
        auto state = store_.load(session, instanceId);
        if (!state) return;
        applicationId = applicationIdOf(*state);
        traceId = store::TraceLog::traceIdFor(session, applicationId);
        auto definition = flows_.version(state->flowId, state->version);
        if (!definition) return;
        const auto* element = definition->process.find(elementId);
        if (!element) return;
        plugin = element->plugin;
        operation = element->operation;
    }
    host::Caller caller;
    const auto& id = applicant.member("id");
    caller.subject = id.isString() ? id.asString() : std::string("hub");
    caller.roles = strings(applicant.member("roles"));
    caller.audiences = strings(applicant.member("audiences"));
    host::CallContext context{host::CallContext::forFlowStep(instanceId, elementId, static_cast<unsigned>(attempt)),
                              callTraceparent(traceId)};
    const std::int64_t calledAt = nowMs();
    auto answer = [this, instanceId, key, applicationId, calledAt, name = plugin + "." + operation](host::CallResult r) {
        // The vendor's answer in the trace, before the flow acts on it.
        store::TraceLog(db_).record({0, applicationId, "", calledAt, "plugin", name, host::statusName(r.status), key,
                                     nowMs() - calledAt});
        engine::Input input;
        input.callKey = key;
        if (r.status == CH_OK) {
            try {
                input.kind = engine::Input::Kind::ServiceCompleted;
                input.variables = engine::Value::fromJson(r.body);
                if (!input.variables.isObject()) throw std::invalid_argument("not a JSON object");
            } catch (const std::exception& e) {
                input.kind = engine::Input::Kind::ServiceFailed;
                input.errorMessage = std::string("the plugin's answer is not a JSON object: ") + e.what();
            }
        } else {
            input.kind = engine::Input::Kind::ServiceFailed;
            input.errorMessage = "status " + std::to_string(r.status) + ": " + r.body.substr(0, 1000);
            // A definite answer (not found, refused, conflict) is the flow's
            // business error; an outage or a timeout is retried.
            if (r.status == CH_ERR_NOT_FOUND) input.errorCode = "not_found";
            else if (r.status == CH_ERR_INVALID_ARGUMENT) input.errorCode = "invalid_argument";
            else if (r.status == CH_ERR_PERMISSION) input.errorCode = "permission";
            else if (r.status == CH_ERR_CONFLICT) input.errorCode = "conflict";
        }
        // Off the plugin's thread: the store's transaction runs on the pool.
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return;
        }
        if (!pool_->trySubmit([this, instanceId, input] {
                try {
                    apply(instanceId, input);
                } catch (const std::exception& e) {
                    logger().error("flow instance %s: applying a service answer: %s", instanceId,
                                   std::string(e.what()));
                }
            }))
            logger().warning("flow instance %s: the pool is full; the call is made again on the next start "
                             "(several hubs: once it waited past its deadline)",
                             instanceId);
    };
    std::string refusal;
    auto submitted = plugins_.submit(plugin, operation, callInput.toJson(), caller, context,
                                     std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.callTimeoutMs),
                                     answer, &refusal);
    if (submitted != host::PluginHost::Submit::Accepted) {
        host::CallResult r;
        r.status = submitted == host::PluginHost::Submit::Forbidden ? CH_ERR_PERMISSION : CH_ERR_UNAVAILABLE;
        r.body = refusal.empty() ? "the plugin host refused the call (" + plugin + "." + operation + ")" : refusal;
        answer(std::move(r));
    }
}

void FlowRunner::resume() {
    if (!timerLease_) {
        timerLease_ = std::make_unique<store::LeaseKeeper>(
            db_, kTimerLease, db_.nodeId(), options_.timerLeaseTtl,
            store::LeaseKeeper::Callbacks{[this](std::int64_t) { wake_.notify_all(); }, {}});
        // The keeper's first turn is on its thread: wait for it (a round trip),
        // so the holder fires what fell due while the hubs were down before it
        // answers; a node that sees another holder goes on at once.
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!timerLease_->held() && std::chrono::steady_clock::now() < until) {
            auto holder = store::Lease::current(db_, kTimerLease);
            if (holder && holder->node != db_.nodeId()) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
    // This node's own lease first: a call made before it is held looks
    // orphaned to the others.
    if (nodeLease_) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!nodeLease_->held() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    makeOrphanedCallsAgain(true);
    if (fireDueTimers()) {
        startStuck();
        stuckStartedUnder_ = timerLease_->token();
    }
    // Waits that began before a kill -9 could hand them the message kept for
    // them. A store that cannot write now (read-only) does not stop the start:
    // the scheduler's polls expire them, and the next start hands them over.
    try {
        expireMessages();
        deliverKeptToWaiting();
    } catch (const std::exception& e) {
        logger().warning("flow messages kept for a wait: not handed over at start: %s", std::string(e.what()));
    }
    std::lock_guard lock(mutex_);
    if (!timers_.joinable() && !stopping_) timers_ = std::thread([this] { timerLoop(); });
}

// One hub (SQLite): at start, every pending call is one its last run left
// out. Several hubs on one PostgreSQL: each call's row names the hub that made
// it, and a live hub keeps its lease flows.node.<id>; a call is made again
// only when no live hub is doing it: its hub's lease ran out (it died) or was
// released (it stopped, dropping the answers still to come), or it is this
// hub's own from before a restart (`atStart`), or it is still out
// orphanedCallGraceMs past its deadline (its answer was lost). Each is
// claimed before it is made again, so of two hubs finding it one does. Same
// idempotency key: the vendor sees the same request again, never a new one.
std::size_t FlowRunner::makeOrphanedCallsAgain(bool atStart) {
    const bool severalHubs = db_.dialect() == store::Dialect::PostgreSql;
    const std::int64_t at = nowMs();
    std::vector<engine::PendingCall> pending;
    {
        Poco::Data::Session session = db_.session();
        pending = severalHubs ? store_.orphanedCalls(session, at - options_.callTimeoutMs - options_.orphanedCallGraceMs,
                                                     kNodeLeasePrefix, atStart ? db_.nodeId() : std::string())
                              : store_.pendingCalls(session);
    }
    std::size_t made = 0;
    for (const auto& p : pending) {
        engine::Value input, applicant;
        {
            Poco::Data::Session session = db_.session();
            if (severalHubs && !store_.claimCall(session, p, at)) continue;
            auto state = store_.load(session, p.instanceId);
            if (!state) continue;
            // Made again with the input the first call had (the task's input
            // mappings over the variables, all of them when it maps none): the
            // variables have not changed while the token waited.
            auto definition = flows_.version(state->flowId, state->version);
            if (!definition) continue;
            const auto* element = definition->process.find(p.elementId);
            if (!element) continue;
            input = state->variables;
            if (!element->inputs.empty()) {
                input = engine::Value(engine::Value::Object{});
                for (const auto& mapping : element->inputs)
                    input.set(mapping.target, mapping.source.evaluate(state->variables));
            }
            applicant = state->variables.member("applicant");
        }
        if (severalHubs)
            logger().information("flow instance %s: call %s (made by %s) is out on no live hub; made again here",
                                 p.instanceId, p.key, p.waitingNode.empty() ? std::string("?") : p.waitingNode);
        call(p.instanceId, p.elementId, p.key, p.attempt, input, applicant);
        ++made;
    }
    return made;
}

// Every start of a hub adds a row flows.node.<id> to store_leases (ids are
// unique per process): the rows of hubs gone for a day are deleted, now and
// then, so /admin/cluster lists the live ones and the recently gone. A call
// whose hub has no row is as orphaned as one whose row expired.
void FlowRunner::forgetGoneNodes() {
    const bool postgres = db_.dialect() == store::Dialect::PostgreSql;
    const std::string clock = postgres ? "(extract(epoch from clock_timestamp()) * 1000)::bigint"
                                       : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
    std::string pattern = std::string(kNodeLeasePrefix) + "%";
    Poco::Data::Session session = db_.session();
    session << db_.sql("DELETE FROM store_leases WHERE name LIKE ? AND expires_at_ms < " + clock + " - 86400000"),
        use(pattern), now;
}

void FlowRunner::abandon() {
    if (timerLease_) timerLease_->abandon();  // held() false from here
    if (nodeLease_) nodeLease_->abandon();   // its calls are orphaned once it runs out
    abandoning_ = true;
    stop();
}

void FlowRunner::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    stepped_.notify_all();
    if (timers_.joinable()) timers_.join();
    if (!abandoning_)
        timerLease_.reset();  // handed over at once: another node fires from now on
    else if (timerLease_)
        abandonedLease_ = std::move(timerLease_);  // kept: destroying it would release the row
    pool_->shutdown();
    // The answers still to come are dropped: released, the calls out are
    // another hub's to make again at once (abandoned: once the lease ran out).
    if (!abandoning_) nodeLease_.reset();
}

void FlowRunner::timerLoop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, std::chrono::milliseconds(options_.timerPollMs));
        if (stopping_) break;
        lock.unlock();
        try {
            // A node that took the lease over also starts what the last holder left stuck.
            if (fireDueTimers() && timerLease_->token() != stuckStartedUnder_) {
                startStuck();
                stuckStartedUnder_ = timerLease_->token();
            }
            // Several hubs: the holder also makes again the calls of hubs that
            // died or stopped since (resume() looks only at start).
            if (nodeLease_ && holdsTimers() && std::chrono::steady_clock::now() >= nextOrphanScan_) {
                nextOrphanScan_ = std::chrono::steady_clock::now() + orphanScanInterval;
                makeOrphanedCallsAgain(false);
                if (++orphanScans_ % 3600 == 1) forgetGoneNodes();
            }
            expireMessages();
        } catch (const std::exception& e) {
            logger().error("flow timers: %s", std::string(e.what()));
        }
        lock.lock();
    }
}

bool FlowRunner::holdsTimers() const {
    return timerLease_ && timerLease_->held();
}

bool FlowRunner::fireDueTimers() {
    if (!holdsTimers()) return false;
    std::vector<engine::StoredTimer> due;
    {
        Poco::Data::Session session = db_.session();
        due = store_.dueTimers(session, nowMs(), 100);
    }
    for (const auto& timer : due) {
        // Lost meanwhile: the next holder reads what is still due. One fired
        // by both is fired once (its instance's step sees it gone).
        if (!holdsTimers()) return false;
        engine::Input input;
        input.kind = engine::Input::Kind::TimerFired;
        input.timerId = timer.id;
        apply(timer.instanceId, input);
    }
    return true;
}

void FlowRunner::startStuck() {
    // Applications of a flow item left in submitted with no instance: the hub
    // died between the submit's commit and the flow's start.
    std::vector<std::string> ids, handlers;
    {
        Poco::Data::Session session = db_.session();
        Poco::Data::Statement select(session);
        select << "SELECT id, handler FROM flows_applications WHERE status = 'submitted' AND handler LIKE 'flow:%'"
                  " AND id NOT IN (SELECT application_id FROM flows_engine_instances)",
            into(ids), into(handlers), now;
    }
    for (std::size_t n = 0; n < ids.size(); ++n) {
        const std::string flowId = handlers[n].substr(5);
        if (!flows_.latest(flowId).first) continue;
        const Application application = applications_.get(ids[n]);
        std::optional<std::function<void()>> after;
        {
            Poco::Data::Session session = db_.session();
            Poco::Data::Transaction tx(session, true);
            after = startWithin(session, application, flowId);
            tx.commit();
        }
        logger().information("flow %s started for application %s left in submitted", flowId, ids[n]);
        if (after && *after) (*after)();
    }
}

}  // namespace hub::flows
