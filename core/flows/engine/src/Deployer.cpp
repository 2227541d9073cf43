// deployFlow: the file read with the hardened XML parser (connectors/xml),
// then the process taken apart element by element (this file), then the graph
// checked as a whole (Validation.cpp). Problems are collected, not thrown one
// by one, so the designer sees everything wrong with the file at once.
#include "hub/flows/engine/Deployer.h"

#include "Timers.h"
#include "Validation.h"

#include "hub/xml/Document.h"
#include "hub/xml/Error.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <libxml/tree.h>

namespace hub::flows::engine {

const char* const kSupportedElements =
    "supported: startEvent, endEvent (none, terminate), serviceTask (zeebe:taskDefinition), userTask, "
    "receiveTask, intermediateCatchEvent (message, timer), exclusiveGateway, parallelGateway, "
    "inclusiveGateway, boundaryEvent (timer on a userTask or receiveTask, error on a serviceTask), sequenceFlow; "
    "laneSet, documentation, textAnnotation, association, group, data objects and bpmndi are kept but not run";

namespace {

constexpr const char* kBpmn = "http://www.omg.org/spec/BPMN/20100524/MODEL";
constexpr const char* kZeebe = "http://camunda.org/schema/zeebe/1.0";
constexpr const char* kCamunda7 = "http://camunda.org/schema/1.0/bpmn";
constexpr const char* kFlowable = "http://flowable.org/bpmn";
constexpr const char* kActiviti = "http://activiti.org/bpmn";
constexpr const char* kBpmnDi = "http://www.omg.org/spec/BPMN/20100524/DI";

using xml::Node;

std::string nsOfAttribute(const xmlAttr* attribute) {
    return attribute->ns && attribute->ns->href ? reinterpret_cast<const char*>(attribute->ns->href) : "";
}

// Attributes of a foreign engine (Camunda 7, Flowable, Activiti) that change
// nothing at run time and are dropped; any other one is refused (never half-run).
bool harmlessForeignAttribute(const std::string& name) {
    static const char* const kHarmless[] = {"asyncBefore", "asyncAfter", "exclusive", "jobPriority", "versionTag",
                                            "historyTimeToLive", "isStartableInTasklist", "taskPriority",
                                            "modelerTemplate", "modelerTemplateVersion", "modelerTemplateIcon"};
    for (const char* harmless : kHarmless)
        if (name == harmless) return true;
    return false;
}

const char* foreignEngine(const std::string& ns) {
    if (ns == kCamunda7) return "Camunda 7 (camunda:)";
    if (ns == kFlowable) return "Flowable (flowable:)";
    if (ns == kActiviti) return "Activiti (activiti:)";
    return nullptr;
}

std::size_t countElements(const xmlNode* node, std::size_t limit) {
    std::size_t count = 0;
    // Iterative: a hostile file nests deeply.
    const xmlNode* current = node;
    while (current) {
        if (current->type == XML_ELEMENT_NODE && ++count > limit) return count;
        if (current->children) {
            current = current->children;
            continue;
        }
        while (current && !current->next) {
            current = current->parent;
            if (current == node->parent) return count;
        }
        if (current) current = current->next;
    }
    return count;
}

class Reader {
public:
    Reader(Definition& definition, const DeployOptions& options, std::vector<Problem>& problems)
        : def_(definition), options_(options), problems_(problems) {}

    void read(const xml::Document& document) {
        const Node root = document.root();
        if (root.namespaceUri() != kBpmn || root.name() != "definitions") {
            fail({}, {}, root.line(),
                 "the root element is not a BPMN 2.0 <definitions> in " + std::string(kBpmn) + " (found <" +
                     root.name() + "> in '" + root.namespaceUri() + "')");
            return;
        }
        def_.exporter = root.attribute("exporter", "") + " " + root.attribute("exporterVersion", "");
        def_.executionPlatform = root.attribute("executionPlatform", "");
        checkForeignAttributes(root, {}, {});

        std::vector<Node> processes;
        for (const Node& child : root.children()) {
            const std::string ns = child.namespaceUri();
            const std::string name = child.name();
            if (ns == kBpmnDi && name == "BPMNDiagram") {
                def_.hasDiagram = true;
                continue;
            }
            if (ns != kBpmn) continue;  // other extensions at the top carry nothing run
            if (name == "process") processes.push_back(child);
            else if (name == "message") readMessage(child);
            else if (name == "error") errors_[child.attribute("id", "")] = child.attribute("errorCode", "");
        }
        if (processes.empty()) {
            fail({}, {}, root.line(), "the file has no <process>");
            return;
        }
        std::vector<Node> executable;
        for (const Node& process : processes)
            if (process.attribute("isExecutable", "") == "true") executable.push_back(process);
        if (executable.empty() && processes.size() == 1) executable = processes;
        if (executable.size() != 1) {
            fail({}, {}, root.line(),
                 "the file has " + std::to_string(executable.size()) +
                     " executable processes; the hub runs one process per file (isExecutable=\"true\")");
            return;
        }
        readProcess(executable.front());
    }

private:
    void fail(const std::string& id, const std::string& name, int line, std::string message) {
        problems_.push_back({id, name, line, std::move(message)});
    }

    // Attributes of Camunda 7 / Flowable / Activiti on an element.
    void checkForeignAttributes(const Node& node, const std::string& id, const std::string& name) {
        for (xmlAttr* a = node.raw()->properties; a; a = a->next) {
            const char* engine = foreignEngine(nsOfAttribute(a));
            const std::string attribute = reinterpret_cast<const char*>(a->name);
            if (engine && !harmlessForeignAttribute(attribute))
                fail(id, name, node.line(),
                     std::string(engine) + " extension attribute '" + attribute +
                         "' is not run by the hub, which runs Camunda 8 (zeebe:) files; remove it or save the "
                         "file for Camunda 8");
        }
    }

    void readProcess(const Node& process) {
        Process& p = def_.process;
        p.id = process.attribute("id", "");
        p.name = process.attribute("name", "");
        p.line = process.line();
        def_.flowId = p.id;
        if (p.id.empty()) fail({}, {}, process.line(), "the process has no id");
        checkForeignAttributes(process, p.id, p.name);

        std::vector<Node> boundaries;
        std::vector<Node> flows;
        std::size_t nodes = 0;
        for (const Node& child : process.children()) {
            if (++nodes > options_.maxFlowNodes) {
                fail(p.id, p.name, child.line(),
                     "the process has more than " + std::to_string(options_.maxFlowNodes) + " elements");
                return;
            }
            const std::string ns = child.namespaceUri();
            const std::string kind = child.name();
            const std::string id = child.attribute("id", "");
            const std::string name = child.attribute("name", "");
            if (ns != kBpmn) continue;
            if (kind == "sequenceFlow") {
                flows.push_back(child);
            } else if (kind == "boundaryEvent") {
                boundaries.push_back(child);
            } else if (kind == "laneSet") {
                readLanes(child);
            } else if (kind == "documentation" || kind == "extensionElements") {
                if (kind == "extensionElements") checkExtensions(child, p.id, p.name, {});
            } else if (kind == "textAnnotation" || kind == "association" || kind == "group" ||
                       kind == "dataObject" || kind == "dataObjectReference" || kind == "dataStoreReference" ||
                       kind == "category" || kind == "property" || kind == "ioSpecification") {
                // Artifacts and data: shown by the modeler, nothing to run.
            } else {
                readElement(child, kind, id, name);
            }
        }
        for (const Node& boundary : boundaries) readElement(boundary, "boundaryEvent", boundary.attribute("id", ""),
                                                            boundary.attribute("name", ""));
        for (const Node& flow : flows) readFlow(flow);
        resolveForms();
        for (const auto& lane : p.lanes)
            for (const auto& ref : lane.elementIds) {
                auto found = p.elementIndex.find(ref);
                if (found != p.elementIndex.end()) p.elements[found->second].lane = lane.name;
            }
    }

    void readLanes(const Node& laneSet) {
        for (const Node& lane : laneSet.children("lane")) {
            Lane out{lane.attribute("id", ""), lane.attribute("name", ""), {}};
            for (const Node& ref : lane.children("flowNodeRef")) out.elementIds.push_back(ref.text());
            def_.process.lanes.push_back(std::move(out));
            if (auto child = lane.child("childLaneSet")) readLanes(*child);
        }
    }

    Expression compile(const std::string& text, bool literalAllowed, const std::string& id, const std::string& name,
                       int line, const std::string& where) {
        try {
            return Expression::compile(text, literalAllowed);
        } catch (const FeelError& e) {
            fail(id, name, line, where + " '" + text + "': " + e.what());
            return {};
        }
    }

    // extensionElements: zeebe's read into `element` (when given), foreign engines' refused.
    void checkExtensions(const Node& extensions, const std::string& id, const std::string& name, Element* element) {
        for (const Node& ext : extensions.children()) {
            const std::string ns = ext.namespaceUri();
            const std::string kind = ext.name();
            if (const char* engine = foreignEngine(ns)) {
                fail(id, name, ext.line(),
                     std::string(engine) + " extension <" + kind +
                         "> is not run by the hub, which runs Camunda 8 (zeebe:) files; remove it or save the file "
                         "for Camunda 8");
                continue;
            }
            if (ns != kZeebe) continue;  // e.g. a modeler's own annotations
            if (kind == "taskHeaders" || kind == "versionTag" || kind == "userTask" || kind == "subscription" ||
                kind == "priorityDefinition") {
                continue;  // carries nothing the hub runs (documented in bpmn.md)
            }
            if (kind == "userTaskForm" && !element) {
                forms_[ext.attribute("id", "")] = {ext.text(), ext.line()};
                continue;
            }
            if (kind == "formDefinition" && element) {
                readFormDefinition(ext, id, name, *element);
                continue;
            }
            if (!element) {
                fail(id, name, ext.line(), "zeebe:" + kind + " is not supported here");
                continue;
            }
            if (kind == "taskDefinition") {
                element->taskType = ext.attribute("type", "");
                const std::string retries = ext.attribute("retries", "3");
                try {
                    std::size_t used = 0;
                    element->retries = std::stoi(retries, &used);
                    if (used != retries.size() || element->retries < 1 || element->retries > 100) throw std::invalid_argument("");
                } catch (const std::exception&) {
                    fail(id, name, ext.line(), "zeebe:taskDefinition retries '" + retries + "' is not a number 1-100");
                }
            } else if (kind == "ioMapping") {
                for (const Node& mapping : ext.children()) {
                    const bool input = mapping.name() == "input";
                    if (!input && mapping.name() != "output") continue;
                    const std::string target = mapping.attribute("target", "");
                    if (!validTarget(target)) {
                        fail(id, name, mapping.line(),
                             "zeebe:" + mapping.name() + " target '" + target + "' is not a variable name (a or a.b)");
                        continue;
                    }
                    IoMapping io{target, compile(mapping.attribute("source", ""), true, id, name, mapping.line(),
                                                 "zeebe:" + mapping.name() + " source")};
                    (input ? element->inputs : element->outputs).push_back(std::move(io));
                }
            } else if (kind == "assignmentDefinition") {
                element->assignee = ext.attribute("assignee", "");
                if (!element->assignee.empty() && element->assignee.front() == '=')
                    element->assigneeExpression =
                        compile(element->assignee, false, id, name, ext.line(), "zeebe:assignmentDefinition assignee");
                const std::string groups = ext.attribute("candidateGroups", "");
                if (!groups.empty() && groups.front() == '=') {
                    element->candidateGroupsExpression =
                        compile(groups, false, id, name, ext.line(), "zeebe:assignmentDefinition candidateGroups");
                } else {
                    std::size_t start = 0;
                    while (start <= groups.size()) {
                        std::size_t comma = groups.find(',', start);
                        if (comma == std::string::npos) comma = groups.size();
                        std::string group = groups.substr(start, comma - start);
                        while (!group.empty() && group.front() == ' ') group.erase(0, 1);
                        while (!group.empty() && group.back() == ' ') group.pop_back();
                        if (!group.empty()) element->candidateGroups.push_back(group);
                        start = comma + 1;
                    }
                }
                if (ext.hasAttribute("candidateUsers"))
                    fail(id, name, ext.line(), "candidateUsers is not supported; use candidateGroups or assignee");
            } else if (kind == "properties") {
                for (const Node& property : ext.children("property"))
                    element->properties[property.attribute("name", "")] = property.attribute("value", "");
            } else {
                fail(id, name, ext.line(),
                     "zeebe:" + kind +
                         " is not supported (supported: taskDefinition, ioMapping, assignmentDefinition, properties)");
            }
        }
    }

    static bool validTarget(const std::string& target) {
        if (target.empty() || target.size() > 128) return false;
        bool start = true;
        for (unsigned char c : target) {
            if (c == '.') {
                if (start) return false;
                start = true;
                continue;
            }
            const bool letter = std::isalpha(c) || c == '_' || c >= 0x80;
            if (!letter && !(std::isdigit(c) && !start)) return false;
            start = false;
        }
        return !start;
    }

    // The event definitions of an event: [(kind, node)].
    static std::vector<Node> eventDefinitions(const Node& node) {
        std::vector<Node> out;
        for (const Node& child : node.children()) {
            const std::string name = child.name();
            if (child.namespaceUri() == kBpmn && name.size() > 15 &&
                name.compare(name.size() - 15, 15, "EventDefinition") == 0)
                out.push_back(child);
        }
        return out;
    }

    void readTimer(const Node& definition, Element& element) {
        auto duration = definition.child("timeDuration");
        auto date = definition.child("timeDate");
        if (definition.child("timeCycle")) {
            fail(element.id, element.name, definition.line(),
                 "timeCycle is not supported; use timeDuration (a non-interrupting timer sends one reminder)");
            return;
        }
        if (!duration && !date) {
            fail(element.id, element.name, definition.line(), "the timer has no timeDuration or timeDate");
            return;
        }
        const bool working = element.properties.count("calendar") && element.properties.at("calendar") == "working-days";
        if (element.properties.count("calendar") && !working && element.properties.at("calendar") != "calendar-days")
            fail(element.id, element.name, element.line,
                 "zeebe:property calendar='" + element.properties.at("calendar") +
                     "' is not known (working-days or calendar-days)");
        TimerDefinition timer;
        const std::string error =
            detail::parseTimer(duration ? duration->text() : date->text(), !duration, working, timer);
        if (!error.empty()) fail(element.id, element.name, definition.line(), error);
        element.timer = timer;
    }

    void readElement(const Node& node, const std::string& kind, const std::string& id, const std::string& name) {
        Process& p = def_.process;
        Element element;
        element.id = id;
        element.name = name;
        element.line = node.line();
        if (id.empty()) {
            fail({}, name, node.line(), "<" + kind + "> has no id");
            return;
        }
        if (p.elementIndex.count(id)) {
            fail(id, name, node.line(), "the id is used twice");
            return;
        }
        checkForeignAttributes(node, id, name);
        for (const Node& child : node.children()) {
            if (child.namespaceUri() != kBpmn) continue;
            if (child.name() == "extensionElements") checkExtensions(child, id, name, &element);
            else if (child.name() == "documentation") element.documentation = child.text();
            else if (child.name() == "multiInstanceLoopCharacteristics" || child.name() == "standardLoopCharacteristics")
                fail(id, name, child.line(), "loops and multi-instance (" + child.name() + ") are not supported");
        }
        const auto definitions = eventDefinitions(node);
        const std::string definitionKind = definitions.empty() ? "" : definitions.front().name();
        if (definitions.size() > 1) {
            fail(id, name, node.line(), "an event with several event definitions is not supported");
            return;
        }
        bool supported = true;
        if (kind == "startEvent") {
            element.kind = ElementKind::StartEvent;
            if (!definitionKind.empty()) {
                fail(id, name, node.line(),
                     "a start event with a " + definitionKind +
                         " is not supported; the hub starts an instance when an application is submitted (use a plain start event)");
            }
        } else if (kind == "endEvent") {
            element.kind = ElementKind::EndEvent;
            if (definitionKind == "terminateEventDefinition") element.terminate = true;
            else if (!definitionKind.empty())
                fail(id, name, node.line(), "an end event with a " + definitionKind + " is not supported (none or terminate)");
        } else if (kind == "serviceTask") {
            element.kind = ElementKind::ServiceTask;
            if (element.taskType.empty()) {
                fail(id, name, node.line(),
                     "a service task needs zeebe:taskDefinition type=\"<plugin>.<operation>\"");
            } else {
                const auto dot = element.taskType.find('.');
                if (dot == std::string::npos || dot == 0 || dot + 1 == element.taskType.size() ||
                    element.taskType.front() == '=') {
                    fail(id, name, node.line(),
                         "task type '" + element.taskType + "' is not <plugin>.<operation>");
                } else {
                    element.plugin = element.taskType.substr(0, dot);
                    element.operation = element.taskType.substr(dot + 1);
                }
            }
        } else if (kind == "userTask") {
            element.kind = ElementKind::UserTask;
        } else if (kind == "receiveTask") {
            element.kind = ElementKind::ReceiveTask;
            readMessageRef(node, node, element);
        } else if (kind == "intermediateCatchEvent") {
            if (definitionKind == "messageEventDefinition") {
                element.kind = ElementKind::MessageCatchEvent;
                readMessageRef(node, definitions.front(), element);
            } else if (definitionKind == "timerEventDefinition") {
                element.kind = ElementKind::TimerCatchEvent;
                readTimer(definitions.front(), element);
            } else {
                fail(id, name, node.line(),
                     "an intermediate catch event with " + (definitionKind.empty() ? std::string("no definition") : "a " + definitionKind) +
                         " is not supported (message or timer)");
            }
        } else if (kind == "exclusiveGateway" || kind == "inclusiveGateway" || kind == "parallelGateway") {
            element.kind = kind == "exclusiveGateway" ? ElementKind::ExclusiveGateway
                         : kind == "inclusiveGateway" ? ElementKind::InclusiveGateway
                                                      : ElementKind::ParallelGateway;
            element.defaultFlow = node.attribute("default", "");
        } else if (kind == "boundaryEvent") {
            element.attachedTo = node.attribute("attachedToRef", "");
            element.cancelActivity = node.attribute("cancelActivity", "true") != "false";
            if (definitionKind == "timerEventDefinition") {
                element.kind = ElementKind::TimerBoundaryEvent;
                readTimer(definitions.front(), element);
            } else if (definitionKind == "errorEventDefinition") {
                element.kind = ElementKind::ErrorBoundaryEvent;
                const std::string ref = definitions.front().attribute("errorRef", "");
                if (!ref.empty()) {
                    auto found = errors_.find(ref);
                    if (found == errors_.end()) fail(id, name, node.line(), "errorRef '" + ref + "' names no <error>");
                    else element.errorCode = found->second;
                }
                if (!element.cancelActivity)
                    fail(id, name, node.line(), "an error boundary event is always interrupting");
            } else {
                fail(id, name, node.line(),
                     "a boundary event with " + (definitionKind.empty() ? std::string("no definition") : "a " + definitionKind) +
                         " is not supported (timer on a user or receive task, error on a service task)");
            }
        } else {
            supported = false;
            fail(id, name, node.line(), "<" + kind + "> is not supported; " + kSupportedElements);
        }
        if (!supported) return;
        p.elementIndex[id] = p.elements.size();
        p.elements.push_back(std::move(element));
    }

    void readMessageRef(const Node& element, const Node& holder, Element& out) {
        const std::string ref = holder.attribute("messageRef", "");
        if (ref.empty()) {
            fail(out.id, out.name, element.line(), "a message wait needs a messageRef naming a <message>");
            return;
        }
        auto found = messages_.find(ref);
        if (found == messages_.end() || found->second.name.empty()) {
            fail(out.id, out.name, element.line(), "messageRef '" + ref + "' names no <message> with a name");
            return;
        }
        out.messageName = found->second.name;
        out.correlationKey = found->second.correlationKey;
    }

    // formKey="camunda-forms:bpmn:<id>" names an embedded form; a linked form
    // (formId) or an external one lives outside the file and is not checked.
    void readFormDefinition(const Node& ext, const std::string& id, const std::string& name, Element& element) {
        static const std::string kEmbedded = "camunda-forms:bpmn:";
        const std::string key = ext.attribute("formKey", "");
        if (key.rfind(kEmbedded, 0) == 0) element.formKey = key.substr(kEmbedded.size());
        else if (!key.empty() || !ext.attribute("formId", "").empty())
            def_.warnings.push_back(id + " (line " + std::to_string(ext.line()) + ", " + name +
                                    "): its form is not embedded in the file (camunda-forms:bpmn:...); the "
                                    "completion's fields are not checked");
    }

    void resolveForms() {
        for (Element& element : def_.process.elements) {
            if (element.formKey.empty()) continue;
            auto found = forms_.find(element.formKey);
            if (found == forms_.end()) {
                fail(element.id, element.name, element.line,
                     "zeebe:formDefinition names form '" + element.formKey + "', which no zeebe:userTaskForm holds");
                continue;
            }
            try {
                element.formFields = parseTaskForm(found->second.json);
            } catch (const FormError& e) {
                fail(element.id, element.name, found->second.line, "form '" + element.formKey + "': " + e.what());
            }
        }
    }

    // <message name> with its zeebe:subscription correlationKey (an expression).
    void readMessage(const Node& node) {
        Message& message = messages_[node.attribute("id", "")];
        message.name = node.attribute("name", "");
        auto extensions = node.child("extensionElements");
        if (!extensions) return;
        for (const Node& ext : extensions->children()) {
            if (ext.namespaceUri() != kZeebe || ext.name() != "subscription") continue;
            const std::string key = ext.attribute("correlationKey", "");
            if (!key.empty())
                message.correlationKey = compile(key, false, node.attribute("id", ""), message.name, ext.line(),
                                                 "zeebe:subscription correlationKey");
        }
    }

    void readFlow(const Node& node) {
        Process& p = def_.process;
        SequenceFlow flow;
        flow.id = node.attribute("id", "");
        flow.name = node.attribute("name", "");
        flow.line = node.line();
        flow.sourceId = node.attribute("sourceRef", "");
        flow.targetId = node.attribute("targetRef", "");
        checkForeignAttributes(node, flow.id, flow.name);
        if (flow.id.empty() || p.flowIndex.count(flow.id) || p.elementIndex.count(flow.id)) {
            fail(flow.id, flow.name, flow.line, flow.id.empty() ? "a sequence flow has no id" : "the id is used twice");
            return;
        }
        if (auto condition = node.child("conditionExpression")) {
            flow.condition = compile(condition->text(), false, flow.id, flow.name, condition->line(), "condition");
            if (flow.condition->empty()) flow.condition.reset();
        }
        for (const Node& child : node.children("extensionElements")) checkExtensions(child, flow.id, flow.name, nullptr);
        p.flowIndex[flow.id] = p.flows.size();
        p.flows.push_back(std::move(flow));
    }

    Definition& def_;
    const DeployOptions& options_;
    std::vector<Problem>& problems_;
    struct Message {
        std::string name;
        Expression correlationKey;
    };
    std::map<std::string, Message> messages_;  // by id
    struct Form {
        std::string json;
        int line = 0;
    };
    std::map<std::string, Form> forms_;  // zeebe:userTaskForm by id
    std::map<std::string, std::string> errors_;    // id -> errorCode
};

}  // namespace

DefinitionPtr deployFlow(std::string xmlText, const std::string& file, const DeployOptions& options) {
    auto definition = std::make_shared<Definition>();
    definition->file = file;
    std::vector<Problem> problems;
    if (xmlText.size() > options.maxBytes)
        throw DeployError(file, {{{}, {}, 0,
                                  "the file is " + std::to_string(xmlText.size()) + " bytes, more than the " +
                                      std::to_string(options.maxBytes) + " a flow may have"}});
    std::optional<xml::Document> document;
    try {
        xml::ParseOptions parse;
        parse.maxBytes = options.maxBytes;
        document.emplace(xml::Document::parseMemory(xmlText, file, parse));
    } catch (const xml::XmlException& e) {
        for (const auto& error : e.errors()) problems.push_back({{}, {}, error.line, error.message});
        if (problems.empty()) problems.push_back({{}, {}, 0, e.what()});
        throw DeployError(file, std::move(problems));
    }
    const std::size_t count = countElements(document->root().raw(), options.maxXmlElements);
    if (count > options.maxXmlElements)
        throw DeployError(file, {{{}, {}, 0,
                                  "the file has more than " + std::to_string(options.maxXmlElements) +
                                      " XML elements"}});
    Reader reader(*definition, options, problems);
    reader.read(*document);
    if (problems.empty()) detail::validate(*definition, options, problems);
    if (!problems.empty()) throw DeployError(file, std::move(problems));

    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(xmlText);
    definition->sha256 = Poco::DigestEngine::digestToHex(sha.digest());
    definition->xml = std::move(xmlText);
    return definition;
}

}  // namespace hub::flows::engine
