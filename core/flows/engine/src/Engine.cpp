// The interpreter (Engine.h). One input is applied by a Run: the input moves
// or creates tokens, which are pushed on a FIFO queue of arrivals; each
// arrival enters its element, which either makes the token wait (stored in
// the state) or passes it on (more arrivals). When the queue is empty, every
// token waits, and the inclusive joins that can no longer receive a token
// fire. FIFO order and flows taken in file order make a run deterministic.
#include "hub/flows/engine/Engine.h"

#include <algorithm>
#include <deque>
#include <stdexcept>

namespace hub::flows::engine {


namespace {

// Sets `path` ("a" or "a.b.c") in `target`, making objects on the way.
void setPath(Value& target, const std::string& path, Value value) {
    const auto dot = path.find('.');
    if (dot == std::string::npos) {
        target.set(path, std::move(value));
        return;
    }
    const std::string head = path.substr(0, dot);
    Value inner = target.member(head);
    if (!inner.isObject()) inner = Value(Value::Object{});
    setPath(inner, path.substr(dot + 1), std::move(value));
    target.set(head, std::move(inner));
}

// The members of `object` (if it is one) set at the top of `target`.
void merge(Value& target, const Value& object) {
    if (!object.isObject()) return;
    for (const auto& [key, value] : object.asObject()) target.set(key, value);
}

// A correlation key as text: a string as is, a number or boolean as JSON writes
// it; anything else (null, a list) is no key.
std::string keyText(const Value& value) {
    if (value.isString()) return value.asString();
    if (value.isNumber() || value.isBoolean()) return value.toJson();
    return {};
}

struct Arrival {
    Token token;
    std::size_t element = 0;
    std::string viaFlow;
};

class Run {
public:
    Run(const EngineOptions& options, const Definition& definition, InstanceState& state, const Input& input,
        Result& result)
        : options_(options), def_(definition), p_(definition.process), s_(state), in_(input), out_(result) {}

    void apply() {
        if (in_.kind == Input::Kind::Start) {
            start();
        } else if (s_.status != InstanceStatus::Running) {
            skip("the instance has ended (" + std::string(statusName(s_.status)) + ")");
            return;
        } else {
            switch (in_.kind) {
            case Input::Kind::TaskCompleted: taskCompleted(); break;
            case Input::Kind::ServiceCompleted: serviceCompleted(); break;
            case Input::Kind::ServiceFailed: serviceFailed(); break;
            case Input::Kind::TimerFired: timerFired(); break;
            case Input::Kind::MessageReceived: messageReceived(); break;
            case Input::Kind::RetryIncident: retryIncident(); break;
            case Input::Kind::Cancel: cancelInstance(); break;
            case Input::Kind::Start: break;
            }
        }
        if (!out_.applied) return;
        drain();
    }

private:
    void skip(std::string reason) {
        out_.applied = false;
        out_.reason = std::move(reason);
    }

    Effect& emit(Effect::Kind kind, const std::string& elementId, const std::string& id = {}) {
        out_.effects.push_back(Effect{kind, elementId, id, {}, {}, {}, 0, 0, {}, {}, {}});
        return out_.effects.back();
    }

    void history(const std::string& elementId, const std::string& event, const std::string& result = {},
                 const std::string& actor = "hub") {
        s_.history.push_back({s_.nextHistory++, elementId, event, actor, in_.now, result});
    }

    std::size_t indexOf(const std::string& elementId) const {
        auto found = p_.elementIndex.find(elementId);
        if (found == p_.elementIndex.end())
            throw std::logic_error("the state names element '" + elementId + "', which flow " + def_.flowId +
                                   " does not have");
        return found->second;
    }

    const Element& element(const std::string& id) const { return p_.elements[indexOf(id)]; }

    // Removes and returns the waiting token `id`.
    Token takeToken(std::int64_t id) {
        auto found = std::find_if(s_.tokens.begin(), s_.tokens.end(), [&](const Token& t) { return t.id == id; });
        if (found == s_.tokens.end()) throw std::logic_error("token " + std::to_string(id) + " is not waiting");
        Token token = std::move(*found);
        s_.tokens.erase(found);
        return token;
    }

    Token* findToken(Wait wait, const std::string& detail) {
        for (auto& token : s_.tokens)
            if (token.wait == wait && token.detail == detail) return &token;
        return nullptr;
    }

    void wait(Token token, std::size_t elementIndex, Wait kind, std::string detail) {
        token.elementId = p_.elements[elementIndex].id;
        token.wait = kind;
        token.detail = std::move(detail);
        s_.tokens.push_back(std::move(token));
    }

    // Passes `token` on along `flows` of element `from` (the first flow keeps the token's id).
    void leave(Token token, const std::vector<std::size_t>& flows) {
        bool first = true;
        for (std::size_t f : flows) {
            Token next;
            next.id = first ? token.id : s_.nextToken++;
            first = false;
            queue_.push_back({next, p_.flows[f].target, p_.flows[f].id});
        }
    }

    void leaveAll(Token token, const Element& from) { leave(std::move(token), from.outgoing); }

    std::int64_t dueAt(const TimerDefinition& timer) const {
        if (timer.isDate) return timer.dateMs;
        if (timer.workingDayCalendar && options_.addWorkingDays) return options_.addWorkingDays(in_.now, timer.workingDays);
        return in_.now + timer.durationMs;
    }

    std::string schedule(const std::string& elementId, std::int64_t tokenId, std::int64_t due, const std::string& purpose) {
        Timer timer{s_.id + ":t" + std::to_string(s_.nextTimer++), elementId, tokenId, due, purpose};
        Effect& effect = emit(Effect::Kind::ScheduleTimer, elementId, timer.id);
        effect.dueAt = due;
        effect.message = purpose;
        s_.timers.push_back(timer);
        return timer.id;
    }

    void cancelTimer(std::vector<Timer>::iterator timer) {
        emit(Effect::Kind::CancelTimer, timer->elementId, timer->id);
        s_.timers.erase(timer);
    }

    // Cancels what the waiting `token` holds open: its task, message wait,
    // timers (its own, its boundaries', a retry's), incident.
    void release(const Token& token, bool cancelled) {
        for (auto timer = s_.timers.begin(); timer != s_.timers.end();) {
            if (timer->tokenId == token.id) {
                cancelTimer(timer);
                timer = s_.timers.begin();
            } else {
                ++timer;
            }
        }
        if (token.wait == Wait::Task) {
            auto task = std::find_if(s_.tasks.begin(), s_.tasks.end(), [&](const UserTask& t) { return t.id == token.detail; });
            if (task != s_.tasks.end()) {
                if (cancelled) emit(Effect::Kind::CancelTask, task->elementId, task->id);
                s_.tasks.erase(task);
            }
        }
        if (token.wait == Wait::Message && cancelled)
            emit(Effect::Kind::CancelMessageWait, token.elementId).message = token.detail;
        if (token.wait == Wait::Incident) resolveIncident(token.detail);
        if (cancelled) history(token.elementId, "cancelled");
    }

    void resolveIncident(const std::string& id) {
        for (auto& incident : s_.incidents)
            if (incident.id == id && incident.resolvedAt == 0) {
                incident.resolvedAt = in_.now;
                emit(Effect::Kind::ResolveIncident, incident.elementId, incident.id);
            }
    }

    void raiseIncident(Token token, std::size_t elementIndex, const std::string& message, std::string via = {}) {
        const Element& e = p_.elements[elementIndex];
        token.via = std::move(via);
        Incident incident{s_.id + ":i" + std::to_string(s_.nextIncident++), e.id, token.id, message, in_.now, 0};
        emit(Effect::Kind::RaiseIncident, e.id, incident.id).message = message;
        history(e.id, "incident", message);
        wait(std::move(token), elementIndex, Wait::Incident, incident.id);
        s_.incidents.push_back(std::move(incident));
    }

    Value evaluateMappings(const std::vector<IoMapping>& mappings, const Value& context) const {
        Value out(Value::Object{});
        for (const auto& mapping : mappings) setPath(out, mapping.target, mapping.source.evaluate(context));
        return out;
    }

    // Assignment written as expressions, evaluated on the variables as the task
    // opens. What yields no string (a missing path, another type) assigns nobody:
    // the task is then for hub:admin only, and its history says so.
    void resolveAssignment(const Element& e, UserTask& task) {
        if (!e.assigneeExpression.empty()) {
            const Value v = e.assigneeExpression.evaluate(s_.variables);
            task.assignee = v.isString() ? v.asString() : std::string();
        }
        if (!e.candidateGroupsExpression.empty()) {
            const Value v = e.candidateGroupsExpression.evaluate(s_.variables);
            auto add = [&](std::string_view text) {
                std::size_t start = 0;
                while (start <= text.size()) {
                    std::size_t comma = std::min(text.find(',', start), text.size());
                    std::string_view group = text.substr(start, comma - start);
                    while (!group.empty() && group.front() == ' ') group.remove_prefix(1);
                    while (!group.empty() && group.back() == ' ') group.remove_suffix(1);
                    if (!group.empty()) task.candidateGroups.emplace_back(group);
                    start = comma + 1;
                }
            };
            if (v.isString()) add(v.asString());
            if (v.isArray())
                for (const Value& item : v.asArray())
                    if (item.isString()) add(item.asString());
        }
        if (task.assignee.empty() && task.candidateGroups.empty()) history(e.id, "unassigned");
    }

    void callService(Token token, std::size_t elementIndex) {
        const Element& e = p_.elements[elementIndex];
        const std::string key = callKey(s_.id, e.id, token.attempt);
        Effect& call = emit(Effect::Kind::CallService, e.id, key);
        call.plugin = e.plugin;
        call.operation = e.operation;
        call.attempt = token.attempt;
        call.input = e.inputs.empty() ? s_.variables : evaluateMappings(e.inputs, s_.variables);
        wait(std::move(token), elementIndex, Wait::Service, key);
    }

    // ---- inputs ----

    void start() {
        if (s_.steps != 0 || !s_.tokens.empty() || s_.id.empty())
            throw std::invalid_argument("a start needs a fresh instance state with its id");
        s_.flowId = def_.flowId;
        s_.status = InstanceStatus::Running;
        merge(s_.variables, in_.variables);
        out_.applied = true;
        for (std::size_t i = 0; i < p_.elements.size(); ++i)
            if (p_.elements[i].kind == ElementKind::StartEvent) {
                Token token;
                token.id = s_.nextToken++;
                queue_.push_back({token, i, {}});
            }
    }

    void taskCompleted() {
        auto task = std::find_if(s_.tasks.begin(), s_.tasks.end(), [&](const UserTask& t) { return t.id == in_.taskId; });
        if (task == s_.tasks.end()) return skip("no open task '" + in_.taskId + "'");
        out_.applied = true;
        const std::int64_t tokenId = task->tokenId;
        Token token = takeToken(tokenId);
        release(token, false);
        const Element& e = element(token.elementId);
        if (!in_.decision.empty()) s_.variables.set("decision", in_.decision);
        s_.variables.set("comment", in_.comment);
        merge(s_.variables, in_.variables);
        if (!e.outputs.empty()) merge(s_.variables, evaluateMappings(e.outputs, s_.variables));
        Effect& completed = emit(Effect::Kind::CompleteTask, e.id, in_.taskId);
        completed.message = in_.decision;
        completed.actor = in_.actor;
        history(e.id, "completed", in_.decision, in_.actor);
        leaveAll(std::move(token), e);
    }

    void serviceCompleted() {
        Token* waiting = findToken(Wait::Service, in_.callKey);
        if (!waiting) return skip("no call waits for key '" + in_.callKey + "'");
        out_.applied = true;
        Token token = takeToken(waiting->id);
        release(token, false);
        const Element& e = element(token.elementId);
        if (e.outputs.empty()) {
            if (in_.variables.isObject()) merge(s_.variables, in_.variables);
            else s_.variables.set("result", in_.variables);
        } else {
            Value context = s_.variables;
            merge(context, in_.variables);
            merge(s_.variables, evaluateMappings(e.outputs, context));
        }
        history(e.id, "completed", "attempt " + std::to_string(token.attempt));
        leaveAll(std::move(token), e);
    }

    void serviceFailed() {
        Token* waiting = findToken(Wait::Service, in_.callKey);
        if (!waiting) return skip("no call waits for key '" + in_.callKey + "'");
        out_.applied = true;
        Token token = takeToken(waiting->id);
        const std::size_t index = indexOf(token.elementId);
        const Element& e = p_.elements[index];
        history(e.id, "failed", (in_.errorCode.empty() ? "" : in_.errorCode + ": ") + in_.errorMessage);
        if (!in_.errorCode.empty()) {
            const Element* boundary = nullptr;
            for (std::size_t b : e.boundaries) {
                const Element& candidate = p_.elements[b];
                if (candidate.kind != ElementKind::ErrorBoundaryEvent) continue;
                if (candidate.errorCode == in_.errorCode) {
                    boundary = &candidate;
                    break;
                }
                if (candidate.errorCode.empty() && !boundary) boundary = &candidate;
            }
            if (!boundary)
                return raiseIncident(std::move(token), index,
                                     "error '" + in_.errorCode + "' is not caught: " + in_.errorMessage);
            release(token, false);
            history(boundary->id, "fired", in_.errorCode);
            leaveAll(std::move(token), *boundary);
            return;
        }
        if (token.attempt - token.firstAttempt + 1 < e.retries) {
            const int retry = token.attempt - token.firstAttempt;  // 0 for the first retry
            std::int64_t delay = options_.retryBaseMs;
            for (int i = 0; i < retry && delay < options_.retryMaxMs; ++i) delay *= 2;
            delay = std::min(delay, options_.retryMaxMs);
            const std::string timer = schedule(e.id, token.id, in_.now + delay, "retry");
            wait(std::move(token), index, Wait::Timer, timer);
            return;
        }
        const std::string message = "plugin " + e.plugin + "." + e.operation + " failed after " +
                                    std::to_string(token.attempt - token.firstAttempt + 1) +
                                    " attempts: " + in_.errorMessage;
        raiseIncident(std::move(token), index, message);
    }

    void timerFired() {
        auto timer = std::find_if(s_.timers.begin(), s_.timers.end(), [&](const Timer& t) { return t.id == in_.timerId; });
        if (timer == s_.timers.end()) return skip("no timer '" + in_.timerId + "'");
        out_.applied = true;
        const Timer fired = *timer;
        s_.timers.erase(timer);
        history(fired.elementId, "fired");
        if (fired.purpose == "retry") {
            Token token = takeToken(fired.tokenId);
            ++token.attempt;
            callService(std::move(token), indexOf(fired.elementId));
        } else if (fired.purpose == "catch") {
            Token token = takeToken(fired.tokenId);
            const Element& e = element(fired.elementId);
            history(e.id, "completed");
            leaveAll(std::move(token), e);
        } else {
            const Element& boundary = element(fired.elementId);
            if (boundary.cancelActivity) {
                Token token = takeToken(fired.tokenId);
                release(token, true);
                leaveAll(std::move(token), boundary);
            } else {
                for (const Token& token : s_.tokens)
                    if (token.id == fired.tokenId && token.wait == Wait::Task) {
                        emit(Effect::Kind::Reminder, boundary.id, token.detail);
                        history(boundary.id, "reminded", token.detail);
                    }
                Token spawned;
                spawned.id = s_.nextToken++;
                leaveAll(std::move(spawned), boundary);
            }
        }
    }

    void messageReceived() {
        Token* waiting = nullptr;
        for (auto& token : s_.tokens)
            if (token.wait == Wait::Message && token.detail == in_.messageName &&
                (in_.correlationKey.empty() || token.correlation == in_.correlationKey) &&
                (!waiting || token.id < waiting->id))
                waiting = &token;
        if (!waiting)
            return skip("nothing waits for message '" + in_.messageName + "'" +
                        (in_.correlationKey.empty() ? "" : " with correlation key '" + in_.correlationKey + "'"));
        out_.applied = true;
        Token token = takeToken(waiting->id);
        release(token, false);
        const Element& e = element(token.elementId);
        if (e.outputs.empty()) {
            merge(s_.variables, in_.variables);
        } else {
            Value context = s_.variables;
            merge(context, in_.variables);
            merge(s_.variables, evaluateMappings(e.outputs, context));
        }
        history(e.id, "completed", in_.messageName, in_.actor);
        leaveAll(std::move(token), e);
    }

    void retryIncident() {
        Token* waiting = findToken(Wait::Incident, in_.incidentId);
        if (!waiting) return skip("no open incident '" + in_.incidentId + "'");
        out_.applied = true;
        Token token = takeToken(waiting->id);
        resolveIncident(in_.incidentId);
        const std::size_t index = indexOf(token.elementId);
        history(token.elementId, "retried", in_.incidentId, in_.actor);
        if (p_.elements[index].kind == ElementKind::ServiceTask && token.attempt > 0) {
            ++token.attempt;
            token.firstAttempt = token.attempt;
            callService(std::move(token), index);
        } else {
            queue_.push_back({token, index, token.via});
        }
    }

    void cancelInstance() {
        out_.applied = true;
        cancelEverything();
        // A decision made outside the flow (an admin's) ends it with that outcome.
        if (in_.decision.empty()) end(InstanceStatus::Cancelled, "cancelled");
        else end(InstanceStatus::Terminated, in_.decision);
    }

    void cancelEverything() {
        auto tokens = std::move(s_.tokens);
        s_.tokens.clear();
        for (const Token& token : tokens) release(token, true);
        queue_.clear();
    }

    void end(InstanceStatus status, const std::string& outcome) {
        s_.status = status;
        s_.outcome = outcome;
        emit(Effect::Kind::EndInstance, {}).outcome = outcome;
    }

    // ---- running ----

    void drain() {
        while (true) {
            while (!queue_.empty() && s_.status == InstanceStatus::Running) {
                Arrival arrival = std::move(queue_.front());
                queue_.pop_front();
                enter(std::move(arrival));
            }
            if (s_.status != InstanceStatus::Running || !fireInclusiveJoin()) break;
        }
    }

    void enter(Arrival arrival) {
        const Element& e = p_.elements[arrival.element];
        ++s_.steps;
        ++steps_;
        if (steps_ > options_.maxStepsPerInput || s_.steps > options_.maxStepsPerInstance) {
            const bool perInput = steps_ > options_.maxStepsPerInput;
            raiseIncident(std::move(arrival.token), arrival.element,
                          perInput ? "step limit: " + std::to_string(options_.maxStepsPerInput) +
                                         " elements entered without a wait (a loop with no wait state?)"
                                   : "step limit: the instance entered " +
                                         std::to_string(options_.maxStepsPerInstance) + " elements",
                          arrival.viaFlow);
            return;
        }
        Token token = std::move(arrival.token);
        token.attempt = 0;
        token.firstAttempt = 1;
        switch (e.kind) {
        case ElementKind::StartEvent:
            history(e.id, "completed");
            leaveAll(std::move(token), e);
            break;
        case ElementKind::EndEvent: {
            auto property = e.properties.find("outcome");
            if (property != e.properties.end() && !property->second.empty()) s_.outcome = property->second;
            history(e.id, "completed", s_.outcome);
            if (e.terminate) {
                cancelEverything();
                end(InstanceStatus::Terminated, s_.outcome.empty() ? "terminated" : s_.outcome);
            } else if (s_.tokens.empty() && queue_.empty()) {
                end(InstanceStatus::Completed, s_.outcome.empty() ? "completed" : s_.outcome);
            }
            break;
        }
        case ElementKind::ServiceTask:
            history(e.id, "started");
            token.attempt = 1;
            callService(std::move(token), arrival.element);
            break;
        case ElementKind::UserTask: {
            history(e.id, "started");
            UserTask task{s_.id + ":" + e.id + ":" + std::to_string(s_.nextTask++), e.id, e.name, token.id,
                          e.candidateGroups, e.assignee, in_.now};
            resolveAssignment(e, task);
            Effect& create = emit(Effect::Kind::CreateTask, e.id, task.id);
            create.input = evaluateMappings(e.inputs, s_.variables);
            create.message = e.name;
            s_.tasks.push_back(task);
            armBoundaries(token.id, e);
            wait(std::move(token), arrival.element, Wait::Task, task.id);
            break;
        }
        case ElementKind::ReceiveTask:
        case ElementKind::MessageCatchEvent:
            history(e.id, "started");
            token.correlation = e.correlationKey.empty() ? std::string() : keyText(e.correlationKey.evaluate(s_.variables));
            emit(Effect::Kind::WaitMessage, e.id, token.correlation).message = e.messageName;
            armBoundaries(token.id, e);
            wait(std::move(token), arrival.element, Wait::Message, e.messageName);
            break;
        case ElementKind::TimerCatchEvent: {
            history(e.id, "started");
            const std::string timer = schedule(e.id, token.id, dueAt(*e.timer), "catch");
            wait(std::move(token), arrival.element, Wait::Timer, timer);
            break;
        }
        case ElementKind::ExclusiveGateway:
        case ElementKind::InclusiveGateway:
            gateway(std::move(token), arrival);
            break;
        case ElementKind::ParallelGateway:
            if (e.incoming.size() > 1) {
                wait(std::move(token), arrival.element, Wait::Join, arrival.viaFlow);
                fireParallelJoin(arrival.element);
            } else {
                history(e.id, "completed");
                leaveAll(std::move(token), e);
            }
            break;
        case ElementKind::TimerBoundaryEvent:
        case ElementKind::ErrorBoundaryEvent:
            // Never the target of a flow (deploy refuses it); fired by timerFired/serviceFailed.
            leaveAll(std::move(token), e);
            break;
        }
    }

    void armBoundaries(std::int64_t tokenId, const Element& activity) {
        for (std::size_t b : activity.boundaries) {
            const Element& boundary = p_.elements[b];
            if (boundary.kind == ElementKind::TimerBoundaryEvent)
                schedule(boundary.id, tokenId, dueAt(*boundary.timer), "boundary");
        }
    }

    void gateway(Token token, const Arrival& arrival) {
        const Element& e = p_.elements[arrival.element];
        if (e.kind == ElementKind::InclusiveGateway && e.incoming.size() > 1) {
            wait(std::move(token), arrival.element, Wait::Join, arrival.viaFlow);
            return;  // fired by fireInclusiveJoin once nothing else can arrive
        }
        if (e.outgoing.size() == 1) {
            history(e.id, "completed", p_.flows[e.outgoing.front()].id);
            leaveAll(std::move(token), e);
            return;
        }
        std::vector<std::size_t> taken;
        std::size_t fallback = p_.flows.size();
        for (std::size_t f : e.outgoing) {
            const SequenceFlow& flow = p_.flows[f];
            if (flow.id == e.defaultFlow) {
                fallback = f;
                continue;
            }
            const Value value = flow.condition ? flow.condition->evaluate(s_.variables) : Value();
            if (value.isBoolean() && value.asBoolean()) {
                taken.push_back(f);
                if (e.kind == ElementKind::ExclusiveGateway) break;
            }
        }
        if (taken.empty() && fallback < p_.flows.size()) taken.push_back(fallback);
        if (taken.empty()) {
            raiseIncident(std::move(token), arrival.element,
                          "no outgoing flow's condition is true and the gateway has no default flow", arrival.viaFlow);
            return;
        }
        std::string result;
        for (std::size_t f : taken) result += (result.empty() ? "" : ",") + p_.flows[f].id;
        history(e.id, "completed", result);
        leave(std::move(token), taken);
    }

    void fireParallelJoin(std::size_t joinIndex) {
        const Element& join = p_.elements[joinIndex];
        std::vector<std::int64_t> consumed;
        for (std::size_t f : join.incoming) {
            const Token* found = nullptr;
            for (const Token& t : s_.tokens)
                if (t.wait == Wait::Join && t.elementId == join.id && t.detail == p_.flows[f].id &&
                    (!found || t.id < found->id))
                    found = &t;
            if (!found) return;
            consumed.push_back(found->id);
        }
        Token merged;
        merged.id = *std::min_element(consumed.begin(), consumed.end());
        for (std::int64_t id : consumed) takeToken(id);
        history(join.id, "completed");
        leaveAll(std::move(merged), join);
    }

    // An inclusive join with tokens fires when no token elsewhere can still reach it.
    bool fireInclusiveJoin() {
        for (std::size_t j = 0; j < p_.elements.size(); ++j) {
            const Element& join = p_.elements[j];
            if (join.kind != ElementKind::InclusiveGateway || join.incoming.size() < 2) continue;
            std::vector<std::int64_t> arrived;
            bool pending = false;
            for (const Token& t : s_.tokens) {
                if (t.wait == Wait::Join && t.elementId == join.id) arrived.push_back(t.id);
                else if (!p_.reaches.empty() && p_.reaches[indexOf(t.elementId)][j]) pending = true;
            }
            if (arrived.empty() || pending) continue;
            Token merged;
            merged.id = *std::min_element(arrived.begin(), arrived.end());
            for (std::int64_t id : arrived) takeToken(id);
            history(join.id, "completed");
            leaveAll(std::move(merged), join);
            return true;
        }
        return false;
    }

    const EngineOptions& options_;
    const Definition& def_;
    const Process& p_;
    InstanceState& s_;
    const Input& in_;
    Result& out_;
    std::deque<Arrival> queue_;
    std::int64_t steps_ = 0;
};

}  // namespace

Result Engine::apply(const Definition& definition, InstanceState& state, const Input& input) const {
    Result result;
    if (input.kind != Input::Kind::Start && state.flowId != definition.flowId)
        throw std::invalid_argument("instance " + state.id + " runs flow '" + state.flowId + "', not '" +
                                    definition.flowId + "'");
    Run(options_, definition, state, input, result).apply();
    return result;
}

}  // namespace hub::flows::engine
