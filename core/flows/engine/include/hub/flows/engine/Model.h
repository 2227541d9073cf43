#pragma once

// The BPMN model the engine runs: what BpmnParser reads from a .bpmn file as
// Camunda Modeler 5 / bpmn.io save it for "Camunda 8", kept with each
// element's id, name and source line so every refusal can point at it.

#include "hub/flows/engine/Feel.h"
#include "hub/flows/engine/TaskForm.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hub::flows::engine {

/// The element kinds the engine runs (docs/flows/bpmn.md lists them).
enum class ElementKind {
    StartEvent,
    EndEvent,
    ServiceTask,
    UserTask,
    ReceiveTask,
    MessageCatchEvent,  ///< intermediateCatchEvent with a messageEventDefinition
    TimerCatchEvent,    ///< intermediateCatchEvent with a timerEventDefinition
    ExclusiveGateway,
    ParallelGateway,
    InclusiveGateway,
    TimerBoundaryEvent,
    ErrorBoundaryEvent,
};

/// "startEvent", "userTask", ... (the BPMN element's name, for messages).
const char* kindName(ElementKind kind);

/// zeebe:input / zeebe:output: target = source (a FEEL expression).
struct IoMapping {
    std::string target;
    Expression source;
};

/// A timer definition: exactly one of a duration (ISO 8601 PnDTnHnMnS, PnW)
/// or a date (ISO 8601 date-time with offset or Z).
struct TimerDefinition {
    std::string text;  ///< As written (without the leading '=').
    bool isDate = false;
    std::int64_t durationMs = 0;  ///< For a duration: its length (days of 24 h).
    std::int64_t workingDays = 0; ///< For a duration on the working-day calendar: its days.
    std::int64_t dateMs = 0;      ///< For a date: milliseconds since the epoch (UTC).
    bool workingDayCalendar = false;  ///< zeebe:property calendar=working-days on the event.
};

/// One flow node of a process.
struct Element {
    std::string id;
    std::string name;
    int line = 0;
    ElementKind kind = ElementKind::StartEvent;

    std::vector<std::size_t> incoming;  ///< Indexes into Process::flows.
    std::vector<std::size_t> outgoing;

    // Service task (zeebe:taskDefinition type="<plugin>.<operation>").
    std::string taskType;
    std::string plugin;
    std::string operation;
    int retries = 3;

    // User task (zeebe:assignmentDefinition).
    std::vector<std::string> candidateGroups;
    std::string assignee;  ///< A literal user id; empty = none.
    /// `= <expression>` forms of the two (Zeebe allows them, e.g.
    /// `= "dept:" + applicant.department + ":head"`, `= applicant.id`), evaluated
    /// when the task is created: a string, or for the groups a list of strings or
    /// a comma-separated string. Empty (never compiled) for literals.
    Expression candidateGroupsExpression;
    Expression assigneeExpression;

    /// User task: zeebe:formDefinition formKey="camunda-forms:bpmn:<id>" and the
    /// fields of the process's zeebe:userTaskForm <id>; a completion's fields
    /// are checked against them. No formKey: no form, fields are not checked.
    std::string formKey;
    std::vector<FormField> formFields;

    std::vector<IoMapping> inputs;
    std::vector<IoMapping> outputs;
    std::map<std::string, std::string> properties;  ///< zeebe:properties.

    // Events.
    bool terminate = false;             ///< End event: terminateEventDefinition.
    std::string messageName;            ///< Receive task, message catch event.
    /// The message's zeebe:subscription correlationKey (`= work_order_id`),
    /// evaluated when the wait begins; a message then reaches the wait only
    /// with that key. Empty: the message is addressed to the instance.
    Expression correlationKey;
    std::optional<TimerDefinition> timer;
    std::string attachedTo;             ///< Boundary event: the activity's id.
    std::size_t attachedIndex = 0;      ///< Boundary event: index of that activity.
    bool cancelActivity = true;         ///< Boundary event: interrupting.
    std::string errorCode;              ///< Error boundary: the error's code; empty = any.
    std::vector<std::size_t> boundaries;  ///< Activity: its boundary events.

    std::string defaultFlow;  ///< Exclusive/inclusive gateway: the default flow's id.
    std::string lane;         ///< The lane holding it (often a department), or "".
    std::string documentation;
};

/// A sequence flow.
struct SequenceFlow {
    std::string id;
    std::string name;
    int line = 0;
    std::string sourceId;
    std::string targetId;
    std::size_t source = 0;  ///< Index into Process::elements (after linking).
    std::size_t target = 0;
    std::optional<Expression> condition;
};

struct Lane {
    std::string id;
    std::string name;
    std::vector<std::string> elementIds;
};

/// One executable process of a definitions file.
struct Process {
    std::string id;
    std::string name;
    int line = 0;
    std::vector<Element> elements;
    std::vector<SequenceFlow> flows;
    std::vector<Lane> lanes;
    std::map<std::string, std::size_t> elementIndex;  ///< id -> index into elements.
    std::map<std::string, std::size_t> flowIndex;     ///< id -> index into flows.
    /// reaches[a][b]: a token at element a can get to element b. Computed at
    /// deploy time for flows with an inclusive join (whose firing needs it).
    std::vector<std::vector<bool>> reaches;

    const Element* find(const std::string& elementId) const;
};

/// A parsed and validated flow file, shared (immutable) by every instance
/// started on its version.
struct Definition {
    std::string flowId;          ///< The process id (what a catalogue item names).
    std::string file;            ///< The file name given to the parser.
    std::string xml;             ///< The whole file as read (the diagram for display).
    std::string sha256;          ///< Hex SHA-256 of xml (the deployment's identity).
    std::string exporter;        ///< definitions/@exporter and @exporterVersion, for messages.
    std::string executionPlatform;  ///< modeler:executionPlatform ("Camunda Cloud"), or "".
    bool hasDiagram = false;     ///< A bpmndi:BPMNDiagram is present.
    Process process;
    std::vector<std::string> warnings;  ///< Kept but not refused (e.g. a plugin not loaded).
};

using DefinitionPtr = std::shared_ptr<const Definition>;

}  // namespace hub::flows::engine
