// What reaches a running flow from outside and what it sends out in a step's
// transaction (FlowRunner.h): reminders, the external approval engine's
// requests and decisions, and messages published to the flows.
#include "hub/flows/FlowRunner.h"

#include "FlowTrace.h"

#include "hub/common/JsonWriter.h"
#include "hub/events/CloudEvent.h"
#include "hub/runtime/WorkerPool.h"

#include <Poco/Data/Statement.h>
#include <Poco/Data/Transaction.h>
#include <Poco/UUIDGenerator.h>
#include <Poco/Logger.h>

using namespace Poco::Data::Keywords;

namespace hub::flows {

namespace {

Poco::Logger& messagesLogger() { return Poco::Logger::get("hub.flows"); }

std::string text(const engine::Value& value) { return value.isString() ? value.asString() : std::string(); }

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
    return out;
}

// The flows' decision words (hall-flows.md) for the approval engine's.
std::string flowDecision(const std::string& engineDecision) {
    if (engineDecision == "approved") return "approve";
    if (engineDecision == "rejected") return "reject";
    return engineDecision;
}

}  // namespace

void FlowRunner::setExternalGroups(std::set<std::string> groups) {
    std::lock_guard lock(mutex_);
    externalGroups_ = std::move(groups);
}

bool FlowRunner::isExternal(const engine::UserTask& task) const {
    std::lock_guard lock(mutex_);
    for (const auto& group : task.candidateGroups)
        if (externalGroups_.count(group)) return true;
    return false;
}

void FlowRunner::emitStepEvents(Poco::Data::Session& session, const engine::InstanceState& state,
                                const std::vector<engine::Effect>& effects, const std::string& applicationId) {
    for (const auto& effect : effects) {
        if (effect.kind == engine::Effect::Kind::Reminder) emitReminder(session, state, effect, applicationId);
        if (effect.kind == engine::Effect::Kind::CreateTask || effect.kind == engine::Effect::Kind::WaitMessage)
            requestApproval(session, state, effect, applicationId);
    }
}

void FlowRunner::emitReminder(Poco::Data::Session& session, const engine::InstanceState& state,
                              const engine::Effect& effect, const std::string& applicationId) {
    // The task's own row names its element and groups, for the clerks' list.
    std::string taskElement, groups;
    for (const auto& task : state.tasks)
        if (task.id == effect.id) {
            taskElement = task.elementId;
            groups = joined(task.candidateGroups);
        }
    std::string data = "{\"application_id\":";
    json::appendString(data, applicationId);
    data += ",\"instance_id\":";
    json::appendString(data, state.id);
    data += ",\"task_id\":";
    json::appendString(data, effect.id);
    data += ",\"element_id\":";
    json::appendString(data, taskElement);
    data += ",\"timer_id\":";
    json::appendString(data, effect.elementId);
    data += ",\"candidate_groups\":";
    json::appendString(data, groups);
    data += '}';
    applications_.emitWithin(session, ApplicationService::taskReminderEvent, applicationId, data);
}

void FlowRunner::requestApproval(Poco::Data::Session& session, const engine::InstanceState& state,
                                 const engine::Effect& effect, const std::string& applicationId) {
    // The engine answers with the request's taskId: a user task's id, or a
    // message wait's correlation key (by default "<instance>:<element>").
    std::string taskId, name, groups;
    engine::Value inputs(engine::Value::Object{});
    if (effect.kind == engine::Effect::Kind::CreateTask) {
        const engine::UserTask* task = nullptr;
        for (const auto& open : state.tasks)
            if (open.id == effect.id) task = &open;
        if (!task || !isExternal(*task)) return;
        taskId = task->id;
        name = task->name;
        groups = joined(task->candidateGroups);
        inputs = effect.input;
    } else {
        if (effect.message != approvalMessage) return;
        taskId = effect.id.empty() ? state.id + ":" + effect.elementId : effect.id;
    }
    const auto& variables = state.variables;
    // The task's inputs first (the engine's rules read them at the top, e.g.
    // amount), then the request's own members, which they cannot replace.
    engine::Value data(engine::Value::Object{});
    if (inputs.isObject())
        for (const auto& [key, value] : inputs.asObject()) data.set(key, value);
    data.set("applicationId", applicationId);
    data.set("taskId", taskId);
    data.set("instanceId", state.id);
    data.set("elementId", effect.elementId);
    data.set("name", name);
    data.set("serviceId", text(variables.member("application").member("itemId")));
    data.set("applicant", text(variables.member("applicant").member("id")));
    data.set("assignee", groups.empty() ? text(variables.member("application").member("department")) : groups);
    applications_.emitWithin(session, std::string(events::EventType::ApprovalRequested), applicationId,
                             data.toJson());
}

FlowRunner::Delivery FlowRunner::applyDecisionWithin(Poco::Data::Session& session, const Decision& decision) {
    auto instanceId = store_.instanceOf(session, decision.applicationId);
    if (!instanceId) return Delivery::NotFlowDriven;
    // Locked before it is read: a decision applied meanwhile by another node
    // (or thread) has committed when this reads, and this one is then Late.
    store_.lockInstance(session, *instanceId);
    auto state = store_.load(session, *instanceId);
    if (!state) return Delivery::NotFlowDriven;
    if (state->status != engine::InstanceStatus::Running) return Delivery::Late;

    engine::Input input;
    input.actor = decision.actor;
    input.comment = decision.reason;
    const std::string word = flowDecision(decision.decision);
    const engine::UserTask* task = nullptr;
    for (const auto& open : state->tasks)
        if (isExternal(open) && (decision.taskId.empty() || open.id == decision.taskId)) {
            task = &open;
            break;
        }
    const engine::Token* waiting = nullptr;
    if (!task)
        for (const auto& token : state->tokens) {
            if (token.wait != engine::Wait::Message || token.detail != approvalMessage) continue;
            const std::string key = token.correlation.empty() ? state->id + ":" + token.elementId : token.correlation;
            if (decision.taskId.empty() || key == decision.taskId) {
                waiting = &token;
                break;
            }
        }
    if (task) {
        input.kind = engine::Input::Kind::TaskCompleted;
        input.taskId = task->id;
        input.decision = word;
        input.variables = engine::Value(engine::Value::Object{});
    } else if (waiting) {
        input.kind = engine::Input::Kind::MessageReceived;
        input.messageName = approvalMessage;
        input.correlationKey = waiting->correlation;
        input.variables = engine::Value(engine::Value::Object{});
        input.variables.set("decision", word);
        input.variables.set("comment", decision.reason);
        input.variables.set("decided_by", decision.actor);
    } else {
        // A task of this instance that was closed: the answer came late or twice.
        std::vector<std::string> closed;
        std::string id = decision.taskId, instance = *instanceId;
        session << store::sql(
            session, "SELECT id FROM flows_engine_tasks WHERE id = ? AND instance_id = ? AND status <> 'open'"),
            use(id), use(instance), into(closed), now;
        return closed.empty() ? Delivery::Unknown : Delivery::Late;
    }
    auto after = applyWithin(session, *instanceId, input);
    if (!after) return Delivery::Unknown;
    if (!pool_->trySubmit(std::move(*after)))
        messagesLogger().warning("flow instance %s: the pool is full; its calls are issued on the next start", *instanceId);
    return Delivery::Applied;
}

void FlowRunner::onApplicationEvent(Poco::Data::Session& session, const std::string& type,
                                    const std::string& dataJson) {
    // The runner's own moves (actor hub) follow the flow: nothing to feed back.
    if (type != ApplicationService::statusChangedEvent || dataJson.find("\"actor\":\"hub\"") != std::string::npos)
        return;
    const engine::Value data = engine::Value::fromJson(dataJson);
    const std::string id = text(data.member("id")), from = text(data.member("from")), to = text(data.member("to"));
    const std::string actor = text(data.member("actor"));
    if (id.empty() || actor.empty() || actor == "hub") return;
    auto instanceId = store_.instanceOf(session, id);
    if (!instanceId) return;
    store_.lockInstance(session, *instanceId);  // as applyDecisionWithin
    auto state = store_.load(session, *instanceId);
    if (!state || state->status != engine::InstanceStatus::Running) return;
    auto definition = flows_.version(state->flowId, state->version);
    if (!definition) return;

    engine::Input input;
    input.now = nowMs();
    input.actor = actor;
    input.comment = text(data.member("reason"));
    if (to == "cancelled" || to == "approved" || to == "rejected" || to == "completed") {
        // Withdrawn by the applicant, or decided by hand (POST .../transitions):
        // the flow stops there, its open tasks, timers and waits with it.
        input.kind = engine::Input::Kind::Cancel;
        if (to != "cancelled") input.decision = to;
    } else if (from == "needs_supplement") {
        // The applicant supplied what was missing (POST .../supplement): their
        // return task (Task_Supplement) completes with the merged form.
        const std::string applicant = text(state->variables.member("applicant").member("id"));
        for (const auto& task : state->tasks)
            if (!applicant.empty() && task.assignee == applicant) input.taskId = task.id;
        if (input.taskId.empty()) return;
        input.kind = engine::Input::Kind::TaskCompleted;
        std::string form, applicationId = id;
        session << store::sql(session, "SELECT form FROM flows_applications WHERE id = ?"), use(applicationId),
            into(form), now;
        input.variables = engine::Value(engine::Value::Object{});
        input.variables.set("form", engine::Value::fromJson(form.empty() ? std::string("{}") : form));
    } else {
        return;  // a clerk's hand move to in_review or needs_supplement: the flow's tasks stay as they are
    }
    auto result = engine_.apply(*definition, *state, input);
    if (!result.applied) return;
    store_.save(session, *state, result.effects, id, input.now);
    emitStepEvents(session, *state, result.effects, id);
    traceEffects(session, id, state->flowId, result.effects);
    if (input.kind == engine::Input::Kind::TaskCompleted) {
        if (auto status = statusFor(*state, input, text(state->variables.member("applicant").member("id"))))
            moveApplication(session, id, *status, "flow " + state->flowId);
    }
    auto after = [this, instance = *instanceId, settled = std::move(*state), effects = std::move(result.effects)] {
        carryOut(instance, settled, effects);
    };
    if (!pool_->trySubmit(std::move(after)))
        messagesLogger().warning("flow instance %s: the pool is full; its calls are issued on the next start", *instanceId);
}

FlowRunner::Publication FlowRunner::publishMessage(const Message& message) {
    const std::int64_t ttl = message.ttlSeconds.value_or(options_.messageTtlSeconds);
    if (ttl < 0 || ttl > maxMessageTtlSeconds)
        throw std::invalid_argument("ttlSeconds must be 0 (never kept) to " + std::to_string(maxMessageTtlSeconds) +
                                    " (30 days), not " + std::to_string(ttl));
    Publication out;
    out.messageId =
        message.messageId.empty() ? Poco::UUIDGenerator::defaultGenerator().createRandom().toString() : message.messageId;
    const std::int64_t at = nowMs();
    const engine::Value variables =
        message.variables.isObject() ? message.variables : engine::Value(engine::Value::Object{});
    engine::StoredMessage record{out.messageId, message.name, message.correlationKey, message.applicationId,
                                 variables.toJson(), message.actor, "delivered", "", at, at + ttl * 1000};
    auto duplicate = [&](Poco::Data::Session& session) {
        out.outcome = Publication::Outcome::Duplicate;
        out.instances.clear();
        if (auto previous = store_.message(session, out.messageId)) {
            out.previous = previous->status;
            if (!previous->instanceId.empty()) out.instances.push_back(previous->instanceId);
            out.expiresAt = previous->expiresAt;
        }
        return out;
    };
    std::vector<std::string> candidates;
    {
        Poco::Data::Session session = db_.session();
        // A record whose time ran out no longer makes its id a duplicate.
        if (const auto dropped = store_.expireMessages(session, at)) expiredMessages_ += dropped;
        if (!message.messageId.empty() && store_.message(session, out.messageId)) return duplicate(session);
        if (!message.applicationId.empty()) {
            if (auto id = store_.instanceOf(session, message.applicationId)) candidates.push_back(*id);
        } else {
            candidates = store_.messageWaiters(session, message.name, message.correlationKey);
        }
    }
    for (const auto& instanceId : candidates) {
        engine::Input input;
        input.kind = engine::Input::Kind::MessageReceived;
        input.messageName = message.name;
        input.correlationKey = message.correlationKey;
        input.variables = variables;
        input.actor = message.actor;
        // A message with an id leaves its record in the first delivery's
        // transaction: the same id again is a duplicate, even one racing this.
        bool known = false;
        std::function<bool(Poco::Data::Session&)> remember;
        if (!message.messageId.empty() && out.instances.empty())
            remember = [&](Poco::Data::Session& session) {
                record.instanceId = instanceId;
                known = !store_.insertMessage(session, record);
                return !known;
            };
        if (applyWith(instanceId, input, remember)) out.instances.push_back(instanceId);
        if (known) {
            Poco::Data::Session session = db_.session();
            return duplicate(session);
        }
    }
    if (!out.instances.empty()) {
        out.outcome = Publication::Outcome::Delivered;
        out.expiresAt = message.messageId.empty() ? 0 : record.expiresAt;
        return out;
    }
    if (ttl == 0 || (message.correlationKey.empty() && message.applicationId.empty())) {
        out.outcome = Publication::Outcome::NoWait;
        return out;
    }
    record.status = "buffered";
    record.instanceId.clear();
    {
        Poco::Data::Session session = db_.session();
        Poco::Data::Transaction tx(session, true);
        if (!store_.insertMessage(session, record)) {
            tx.rollback();
            return duplicate(session);
        }
        tx.commit();
    }
    out.outcome = Publication::Outcome::Buffered;
    out.expiresAt = record.expiresAt;
    logger().information("flow message %s (%s) kept until %s ms: nothing waits for it yet", message.name,
                         message.correlationKey, std::to_string(record.expiresAt));
    // A wait that began between the look for waiters and the commit above
    // looked for kept messages before this one was there: hand it over now.
    deliverKeptToWaiting(out.messageId);
    Poco::Data::Session session = db_.session();
    if (auto kept = store_.message(session, out.messageId); kept && kept->status == "delivered") {
        out.outcome = Publication::Outcome::Delivered;
        out.instances = {kept->instanceId};
    }
    return out;
}

void FlowRunner::deliverKept(const std::string& instanceId) {
    std::vector<std::string> names, keys;
    std::optional<std::string> applicationId;
    {
        Poco::Data::Session session = db_.session();
        std::string id = instanceId;
        session << store::sql(
            session,
            "SELECT detail, correlation_key FROM flows_engine_tokens WHERE instance_id = ? AND wait = 'message'"
            " ORDER BY token_id"),
            use(id), into(names), into(keys), now;
        if (names.empty()) return;
        applicationId = store_.applicationOf(session, instanceId);
    }
    for (std::size_t n = 0; n < names.size(); ++n) {
        std::optional<engine::StoredMessage> kept;
        {
            Poco::Data::Session session = db_.session();
            kept = store_.keptMessageFor(session, names[n], keys[n], applicationId.value_or(""), nowMs());
        }
        if (!kept) continue;
        engine::Input input;
        input.kind = engine::Input::Kind::MessageReceived;
        input.messageName = kept->name;
        input.correlationKey = kept->correlationKey;
        input.variables = engine::Value::fromJson(kept->variables);
        input.actor = kept->actor;
        // The claim and the step commit together: taken exactly once. The
        // step's own effects look for the next kept message (carryOut).
        const bool applied = applyWith(instanceId, input, [&](Poco::Data::Session& session) {
            return store_.markMessageDelivered(session, kept->id, instanceId);
        });
        if (applied) {
            logger().information("flow instance %s took the kept message %s (%s)", instanceId, kept->name,
                                 kept->correlationKey);
            return;
        }
    }
}

void FlowRunner::deliverKeptToWaiting(const std::string& messageId) {
    std::vector<std::string> instances;
    {
        Poco::Data::Session session = db_.session();
        instances = store_.instancesWaitingForKept(session, nowMs(), messageId);
    }
    for (const auto& instanceId : instances) deliverKept(instanceId);
}

void FlowRunner::expireMessages() {
    Poco::Data::Session session = db_.session();
    const std::int64_t at = nowMs();
    if (const auto dropped = store_.expireMessages(session, at)) {
        expiredMessages_ += dropped;
        logger().warning("%s kept flow message(s) expired before any wait took them", std::to_string(dropped));
    }
    bufferedMessages_ = store_.keptMessages(session, at);
}

}  // namespace hub::flows
