#pragma once

// Helpers shared by the engine's tests: flow files written the way Camunda
// Modeler saves them, around a process body given by the test.

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

}  // namespace hub::flows::engine::test
