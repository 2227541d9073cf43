#include "Validation.h"

#include <algorithm>
#include <deque>
#include <regex>

namespace hub::flows::engine::detail {

namespace {

bool isGateway(ElementKind kind) {
    return kind == ElementKind::ExclusiveGateway || kind == ElementKind::ParallelGateway ||
           kind == ElementKind::InclusiveGateway;
}

bool isBoundary(ElementKind kind) {
    return kind == ElementKind::TimerBoundaryEvent || kind == ElementKind::ErrorBoundaryEvent;
}

class Validator {
public:
    Validator(Definition& definition, const DeployOptions& options, std::vector<Problem>& problems)
        : def_(definition), p_(definition.process), options_(options), problems_(problems) {}

    void run() {
        link();
        if (!problems_.empty()) return;
        perElement();
        if (!problems_.empty()) return;
        reachability();
        if (!problems_.empty()) return;
        deadlocks();
        if (!problems_.empty()) return;
        inclusiveJoins();
    }

private:
    void fail(const Element& e, std::string message) { problems_.push_back({e.id, e.name, e.line, std::move(message)}); }
    void fail(const SequenceFlow& f, std::string message) {
        problems_.push_back({f.id, f.name, f.line, std::move(message)});
    }

    void link() {
        for (std::size_t i = 0; i < p_.flows.size(); ++i) {
            SequenceFlow& flow = p_.flows[i];
            auto source = p_.elementIndex.find(flow.sourceId);
            auto target = p_.elementIndex.find(flow.targetId);
            if (source == p_.elementIndex.end()) {
                fail(flow, "sourceRef '" + flow.sourceId + "' names no element of the process");
                continue;
            }
            if (target == p_.elementIndex.end()) {
                fail(flow, "targetRef '" + flow.targetId + "' names no element of the process");
                continue;
            }
            flow.source = source->second;
            flow.target = target->second;
            p_.elements[flow.source].outgoing.push_back(i);
            p_.elements[flow.target].incoming.push_back(i);
        }
        for (std::size_t i = 0; i < p_.elements.size(); ++i) {
            Element& e = p_.elements[i];
            if (!isBoundary(e.kind)) continue;
            auto host = p_.elementIndex.find(e.attachedTo);
            if (host == p_.elementIndex.end()) {
                fail(e, "attachedToRef '" + e.attachedTo + "' names no element of the process");
                continue;
            }
            Element& activity = p_.elements[host->second];
            const bool timerOk = e.kind == ElementKind::TimerBoundaryEvent &&
                                 (activity.kind == ElementKind::UserTask || activity.kind == ElementKind::ReceiveTask);
            const bool errorOk = e.kind == ElementKind::ErrorBoundaryEvent && activity.kind == ElementKind::ServiceTask;
            if (!timerOk && !errorOk) {
                fail(e, std::string("a ") + kindName(e.kind) + " on a " + kindName(activity.kind) +
                            " is not supported (timer on a userTask or receiveTask, error on a serviceTask)");
                continue;
            }
            e.attachedIndex = host->second;
            activity.boundaries.push_back(i);
        }
    }

    bool validGroup(const std::string& group) const {
        static const std::regex kDepartment("dept:[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+");
        return group == "hub:admin" || options_.externalGroups.count(group) || std::regex_match(group, kDepartment);
    }

    void perElement() {
        std::size_t starts = 0;
        for (const Element& e : p_.elements) {
            const auto in = e.incoming.size();
            const auto out = e.outgoing.size();
            switch (e.kind) {
            case ElementKind::StartEvent:
                ++starts;
                if (in) fail(e, "a start event has no incoming flow");
                if (!out) fail(e, "the start event has no outgoing flow");
                break;
            case ElementKind::EndEvent:
                if (out) fail(e, "an end event has no outgoing flow");
                if (!in) fail(e, "the end event has no incoming flow");
                break;
            case ElementKind::TimerBoundaryEvent:
            case ElementKind::ErrorBoundaryEvent:
                if (in) fail(e, "a boundary event has no incoming flow");
                if (!out) fail(e, "the boundary event has no outgoing flow");
                break;
            default:
                if (!in) fail(e, std::string("the ") + kindName(e.kind) + " has no incoming flow");
                if (!out) fail(e, std::string("the ") + kindName(e.kind) + " has no outgoing flow");
            }
            if (!isGateway(e.kind)) {
                for (std::size_t f : e.outgoing)
                    if (p_.flows[f].condition)
                        fail(p_.flows[f], std::string("a condition on a flow leaving a ") + kindName(e.kind) +
                                              " is not supported; put an exclusive or inclusive gateway before the branches");
            }
            if (e.kind == ElementKind::ParallelGateway) {
                for (std::size_t f : e.outgoing)
                    if (p_.flows[f].condition)
                        fail(p_.flows[f], "a flow leaving a parallel gateway has no condition (use an inclusive gateway)");
                if (!e.defaultFlow.empty()) fail(e, "a parallel gateway has no default flow");
            }
            if (e.kind == ElementKind::ExclusiveGateway || e.kind == ElementKind::InclusiveGateway) {
                bool defaultFound = e.defaultFlow.empty();
                for (std::size_t f : e.outgoing) {
                    const SequenceFlow& flow = p_.flows[f];
                    if (flow.id == e.defaultFlow) {
                        defaultFound = true;
                        if (flow.condition) fail(flow, "the default flow of a gateway has no condition");
                    } else if (!flow.condition && out > 1) {
                        fail(flow, std::string("a flow leaving a ") + kindName(e.kind) +
                                       " that splits needs a condition (=...) or must be the gateway's default");
                    }
                }
                if (!defaultFound) fail(e, "default '" + e.defaultFlow + "' is not one of the gateway's outgoing flows");
                if (e.kind == ElementKind::InclusiveGateway && in > 1 && out > 1)
                    fail(e, "an inclusive gateway either splits or joins; use two gateways");
            }
            if (e.kind == ElementKind::ParallelGateway && in > 1 && out > 1)
                fail(e, "a parallel gateway either forks or joins; use two gateways");
            if (e.kind == ElementKind::ServiceTask) checkOperation(e);
            if (e.kind == ElementKind::UserTask) {
                if (e.candidateGroups.empty() && e.assignee.empty() && e.candidateGroupsExpression.empty())
                    fail(e, "a user task needs zeebe:assignmentDefinition candidateGroups (dept:<dept>:<role>) or an "
                            "assignee");
                for (const auto& group : e.candidateGroups)
                    if (!validGroup(group))
                        fail(e, "candidate group '" + group +
                                    "' is not dept:<dept>:<role>, hub:admin or a configured external group");
            }
        }
        if (starts != 1 && p_.elements.size())
            problems_.push_back({p_.id, p_.name, p_.line,
                                 "the process has " + std::to_string(starts) + " start events; the hub needs exactly one"});
        if (p_.elements.empty()) problems_.push_back({p_.id, p_.name, p_.line, "the process has no elements"});
    }

    void checkOperation(const Element& e) {
        if (!options_.operations || e.plugin.empty()) return;
        switch (options_.operations(e.plugin, e.operation)) {
        case OperationCheck::Known: break;
        case OperationCheck::UnknownOperation:
            fail(e, "plugin '" + e.plugin + "' declares no operation '" + e.operation + "' in its manifest");
            break;
        case OperationCheck::PluginNotLoaded:
            def_.warnings.push_back(e.id + " (line " + std::to_string(e.line) + "): plugin '" + e.plugin +
                                    "' is not loaded; its calls fail until it is");
            break;
        }
    }

    // Successors of an element for reachability: its flows' targets and its boundary events.
    template <typename Visit>
    void forEachNext(std::size_t index, Visit visit) const {
        const Element& e = p_.elements[index];
        for (std::size_t f : e.outgoing) visit(p_.flows[f].target);
        for (std::size_t b : e.boundaries) visit(b);
    }

    void reachability() {
        const std::size_t n = p_.elements.size();
        std::vector<bool> reached(n, false), ends(n, false);
        std::deque<std::size_t> queue;
        for (std::size_t i = 0; i < n; ++i)
            if (p_.elements[i].kind == ElementKind::StartEvent) {
                reached[i] = true;
                queue.push_back(i);
            }
        while (!queue.empty()) {
            std::size_t i = queue.front();
            queue.pop_front();
            forEachNext(i, [&](std::size_t next) {
                if (!reached[next]) {
                    reached[next] = true;
                    queue.push_back(next);
                }
            });
        }
        for (std::size_t i = 0; i < n; ++i)
            if (p_.elements[i].kind == ElementKind::EndEvent) {
                ends[i] = true;
                queue.push_back(i);
            }
        while (!queue.empty()) {
            std::size_t i = queue.front();
            queue.pop_front();
            const Element& e = p_.elements[i];
            auto mark = [&](std::size_t previous) {
                if (!ends[previous]) {
                    ends[previous] = true;
                    queue.push_back(previous);
                }
            };
            for (std::size_t f : e.incoming) mark(p_.flows[f].source);
            if (isBoundary(e.kind)) mark(e.attachedIndex);
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (!reached[i]) fail(p_.elements[i], "cannot be reached from the start event");
            else if (!ends[i]) fail(p_.elements[i], "cannot reach an end event");
        }
    }

    // Elements reachable from `from` without passing `stopA` or `stopB`.
    std::vector<bool> reachableFrom(std::size_t from, std::size_t stopA, std::size_t stopB) const {
        std::vector<bool> seen(p_.elements.size(), false);
        std::deque<std::size_t> queue{from};
        seen[from] = true;
        while (!queue.empty()) {
            std::size_t i = queue.front();
            queue.pop_front();
            if (i == stopA || i == stopB) continue;
            forEachNext(i, [&](std::size_t next) {
                if (!seen[next]) {
                    seen[next] = true;
                    queue.push_back(next);
                }
            });
        }
        return seen;
    }

    // An exclusive split whose branches each feed a different part of a
    // parallel join's incoming flows: whichever branch is taken, the join
    // waits for ever for the others. (A branch that leads back to before the
    // fork feeds all of them and is not a deadlock.)
    void deadlocks() {
        for (std::size_t j = 0; j < p_.elements.size(); ++j) {
            const Element& join = p_.elements[j];
            if (join.kind != ElementKind::ParallelGateway || join.incoming.size() < 2) continue;
            for (std::size_t x = 0; x < p_.elements.size(); ++x) {
                const Element& split = p_.elements[x];
                if (split.kind != ElementKind::ExclusiveGateway || split.outgoing.size() < 2) continue;
                std::vector<std::vector<std::size_t>> fed;
                for (std::size_t f : split.outgoing) {
                    const std::size_t start = p_.flows[f].target;
                    std::vector<std::size_t> inputs;
                    if (start == j) {
                        inputs.push_back(f);
                    } else {
                        const auto seen = reachableFrom(start, x, j);
                        for (std::size_t in : join.incoming)
                            if (seen[p_.flows[in].source] && p_.flows[in].source != j) inputs.push_back(in);
                    }
                    if (!inputs.empty() && inputs.size() < join.incoming.size()) fed.push_back(inputs);
                }
                for (std::size_t a = 0; a < fed.size(); ++a)
                    for (std::size_t b = a + 1; b < fed.size(); ++b)
                        if (fed[a] != fed[b]) {
                            fail(join, "deadlock: exclusive gateway '" + split.id + "' (line " +
                                           std::to_string(split.line) +
                                           ") sends one token down one of its branches, which reach different "
                                           "incoming flows of this parallel join; the join would wait for ever "
                                           "(use an exclusive or inclusive gateway to merge)");
                            a = fed.size();
                            break;
                        }
            }
        }
    }

    void inclusiveJoins() {
        bool any = false;
        for (const Element& e : p_.elements)
            any = any || (e.kind == ElementKind::InclusiveGateway && e.incoming.size() > 1);
        if (!any) return;
        const std::size_t none = p_.elements.size();
        p_.reaches.clear();
        for (std::size_t i = 0; i < p_.elements.size(); ++i) {
            // (reaches[i][i] is true; the engine never asks it: a join's own tokens do not count.)
            p_.reaches.push_back(reachableFrom(i, none, none));
        }
    }

    Definition& def_;
    Process& p_;
    const DeployOptions& options_;
    std::vector<Problem>& problems_;
};

}  // namespace

void validate(Definition& definition, const DeployOptions& options, std::vector<Problem>& problems) {
    Validator(definition, options, problems).run();
}

}  // namespace hub::flows::engine::detail
