#pragma once

// Helpers shared by the engine's tests: flow files written the way Camunda
// Modeler saves them, around a process body given by the test.

#include "hub/flows/engine/Deployer.h"
#include "hub/flows/engine/Engine.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace hub::flows::engine::test {

/// A whole .bpmn file (bpmn: prefix, zeebe namespace, Camunda Cloud platform)
/// with `body` as the content of process `id`; `top` goes before the process.
inline std::string flowFile(const std::string& body, const std::string& top = "", const std::string& id = "p1") {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
           "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" "
           "xmlns:camunda=\"http://camunda.org/schema/1.0/bpmn\" "
           "xmlns:flowable=\"http://flowable.org/bpmn\" "
           "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
           "xmlns:modeler=\"http://camunda.org/schema/modeler/1.0\" id=\"Definitions_1\" "
           "targetNamespace=\"http://bpmn.io/schema/bpmn\" exporter=\"Camunda Modeler\" exporterVersion=\"5.16.0\" "
           "modeler:executionPlatform=\"Camunda Cloud\">\n" +
           top + "<bpmn:process id=\"" + id + "\" name=\"测试\" isExecutable=\"true\">\n" + body +
           "</bpmn:process>\n</bpmn:definitions>\n";
}

/// start -> `middle` (elements whose first takes flow "in" and last gives "out") -> end.
inline std::string linear(const std::string& middle) {
    return "<bpmn:startEvent id=\"start\"/>\n"
           "<bpmn:sequenceFlow id=\"in\" sourceRef=\"start\" targetRef=\"a\"/>\n" +
           middle +
           "<bpmn:sequenceFlow id=\"out\" sourceRef=\"a\" targetRef=\"end\"/>\n"
           "<bpmn:endEvent id=\"end\"/>\n";
}

inline std::string serviceTask(const std::string& id, const std::string& type, const std::string& more = "") {
    return "<bpmn:serviceTask id=\"" + id + "\" name=\"调用\"><bpmn:extensionElements><zeebe:taskDefinition type=\"" +
           type + "\" retries=\"2\"/>" + more + "</bpmn:extensionElements></bpmn:serviceTask>\n";
}

inline std::string userTask(const std::string& id, const std::string& groups, const std::string& more = "") {
    return "<bpmn:userTask id=\"" + id + "\" name=\"审核\"><bpmn:extensionElements>"
           "<zeebe:assignmentDefinition candidateGroups=\"" + groups + "\"/>" + more +
           "</bpmn:extensionElements></bpmn:userTask>\n";
}

inline std::string flow(const std::string& id, const std::string& from, const std::string& to,
                        const std::string& condition = "") {
    if (condition.empty())
        return "<bpmn:sequenceFlow id=\"" + id + "\" sourceRef=\"" + from + "\" targetRef=\"" + to + "\"/>\n";
    return "<bpmn:sequenceFlow id=\"" + id + "\" sourceRef=\"" + from + "\" targetRef=\"" + to +
           "\"><bpmn:conditionExpression xsi:type=\"bpmn:tFormalExpression\">" + condition +
           "</bpmn:conditionExpression></bpmn:sequenceFlow>\n";
}

inline std::string readData(const std::string& name) {
    std::ifstream in(std::string(HUB_TEST_SOURCE_DIR) + "/core/flows/engine/tests/data/" + name, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

using Kind = Effect::Kind;

/// Drives one instance input by input (no store, no threads).
inline constexpr std::int64_t kStart = 1790816400000;  // 2026-10-01T01:00:00Z
inline constexpr std::int64_t kDay = 86400000;

struct Driver {
    explicit Driver(const std::string& xml, EngineOptions options = {})
        : def(deployFlow(xml, "test.bpmn")), engine(std::move(options)) {
        state.id = "i1";
        state.version = 1;
    }

    Result apply(Input input) {
        input.now = now;
        last = engine.apply(*def, state, input);
        return last;
    }
    Result start(const std::string& variables = "{}") {
        Input in;
        in.kind = Input::Kind::Start;
        in.variables = Value::fromJson(variables);
        return apply(in);
    }
    Result complete(const std::string& taskId, const std::string& decision, const std::string& fields = "{}",
                    const std::string& actor = "clerk.li") {
        Input in;
        in.kind = Input::Kind::TaskCompleted;
        in.taskId = taskId;
        in.decision = decision;
        in.actor = actor;
        in.variables = Value::fromJson(fields);
        return apply(in);
    }
    Result serviceOk(const std::string& key, const std::string& result = "{}") {
        Input in;
        in.kind = Input::Kind::ServiceCompleted;
        in.callKey = key;
        in.variables = Value::fromJson(result);
        return apply(in);
    }
    Result serviceFailed(const std::string& key, const std::string& message, const std::string& code = "") {
        Input in;
        in.kind = Input::Kind::ServiceFailed;
        in.callKey = key;
        in.errorMessage = message;
        in.errorCode = code;
        return apply(in);
    }
    Result fire(const std::string& timerId) {
        Input in;
        in.kind = Input::Kind::TimerFired;
        in.timerId = timerId;
        return apply(in);
    }
    Result message(const std::string& name, const std::string& payload = "{}") {
        Input in;
        in.kind = Input::Kind::MessageReceived;
        in.messageName = name;
        in.variables = Value::fromJson(payload);
        return apply(in);
    }
    Result retry(const std::string& incidentId) {
        Input in;
        in.kind = Input::Kind::RetryIncident;
        in.incidentId = incidentId;
        in.actor = "admin";
        return apply(in);
    }

    std::vector<Effect> of(Kind kind) const {
        std::vector<Effect> out;
        for (const auto& effect : last.effects)
            if (effect.kind == kind) out.push_back(effect);
        return out;
    }
    std::string taskFor(const std::string& elementId) const {
        for (const auto& task : state.tasks)
            if (task.elementId == elementId) return task.id;
        ADD_FAILURE() << "no open task for " << elementId;
        return {};
    }
    std::string timerFor(const std::string& elementId) const {
        for (const auto& timer : state.timers)
            if (timer.elementId == elementId) return timer.id;
        ADD_FAILURE() << "no timer for " << elementId;
        return {};
    }
    std::string kinds() const {
        std::string out;
        for (const auto& effect : last.effects) out += std::string(out.empty() ? "" : " ") + effectName(effect.kind);
        return out;
    }

    DefinitionPtr def;
    Engine engine;
    InstanceState state;
    std::int64_t now = kStart;
    Result last;
};

}  // namespace hub::flows::engine::test
