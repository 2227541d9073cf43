// What reaches a running flow from outside, with the real runner, store and
// approval engine link in process (no plugins: the flows here call none):
// the external approval engine's requests and decisions (once, late, unknown),
// messages by correlation key, the applicant's supplement and a decision by
// hand (docs/flows/bpmn.md, "External approvals"; applications.md).
#include "FlowRunnerFixture.h"

#include "hub/events/CloudEvent.h"
#include "hub/events/Outbox.h"
#include "hub/flows/ApprovalEngineLink.h"
#include "hub/flows/FlowRunner.h"
#include "hub/host/PluginHost.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Transaction.h>
#include <Poco/Exception.h>

#include <gtest/gtest.h>

#include <fstream>

using namespace Poco::Data::Keywords;

namespace hub::flows {
namespace {

using test::kTeacher;
using test::outboxData;
using test::RunnerFixture;
using test::shippedCatalog;
using test::vehiclePass;

const std::string kHeader = test::kFlowHeader;
// The external approval engine decides the pass (its group is configured as
// external); an amount goes with the request for the engine's rule.
const std::string kExternalTask = kHeader + R"(  <bpmn:process id="vehicle-pass" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_Oa" name="OA 审批">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="oa:approvers" />
        <zeebe:ioMapping><zeebe:input source="= 1200" target="amount" /></zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="Decide" default="F_No"><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F_Yes</bpmn:outgoing><bpmn:outgoing>F_No</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="End_Yes"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="approved" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F_Yes</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="End_No"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="rejected" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F_No</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Oa" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Oa" targetRef="Decide" />
    <bpmn:sequenceFlow id="F_Yes" sourceRef="Decide" targetRef="End_Yes"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">= decision = "approve"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F_No" sourceRef="Decide" targetRef="End_No" />
  </bpmn:process>
</bpmn:definitions>
)";

// The same decision as a message wait, correlated by the plate on the form;
// then a security clerk's review, which may return for supplement.
const std::string kMessageWait = kHeader + R"(  <bpmn:process id="vehicle-pass" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Wait_Decision" name="等待审批结果"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:messageEventDefinition id="M1" messageRef="Message_Decided" />
    </bpmn:intermediateCatchEvent>
    <bpmn:exclusiveGateway id="Merge"><bpmn:incoming>F2</bpmn:incoming><bpmn:incoming>F6</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="Task_Review" name="保卫处审核">
      <bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="dept:security:clerk" /></bpmn:extensionElements>
      <bpmn:incoming>F3</bpmn:incoming><bpmn:outgoing>F4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="Decide" default="F_Done"><bpmn:incoming>F4</bpmn:incoming><bpmn:outgoing>F_Done</bpmn:outgoing><bpmn:outgoing>F5</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="Task_Supplement" name="补充材料">
      <bpmn:extensionElements><zeebe:assignmentDefinition assignee="= applicant.id" /></bpmn:extensionElements>
      <bpmn:incoming>F5</bpmn:incoming><bpmn:outgoing>F6</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="End"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="approved" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F_Done</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Wait_Decision" />
    <bpmn:sequenceFlow id="F2" sourceRef="Wait_Decision" targetRef="Merge" />
    <bpmn:sequenceFlow id="F3" sourceRef="Merge" targetRef="Task_Review" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_Review" targetRef="Decide" />
    <bpmn:sequenceFlow id="F_Done" sourceRef="Decide" targetRef="End" />
    <bpmn:sequenceFlow id="F5" sourceRef="Decide" targetRef="Task_Supplement"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">= decision = "return_for_supplement"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F6" sourceRef="Task_Supplement" targetRef="Merge" />
  </bpmn:process>
  <bpmn:message id="Message_Decided" name="approval.decided">
    <bpmn:extensionElements><zeebe:subscription correlationKey="= form.plate" /></bpmn:extensionElements>
  </bpmn:message>
</bpmn:definitions>
)";

std::vector<std::string> statuses(const Application& a) {
    std::vector<std::string> out;
    for (const auto& t : a.transitions) out.emplace_back(toString(t.to));
    return out;
}

TEST(FlowInputsTest, AnExternalTaskIsRequestedAndItsDecisionCompletesItOnce) {
    RunnerFixture f(kExternalTask);
    const std::string id = f.submit();
    EXPECT_EQ(f.service->get(id).status, ApplicationStatus::InReview);

    // One request, from the flow (not the stand-in path), naming the task.
    auto requests = outboxData(*f.db, std::string(events::EventType::ApprovalRequested));
    ASSERT_EQ(requests.size(), 1u);
    const auto request = engine::Value::fromJson(requests[0]);
    auto tasks = f.openTasks();
    ASSERT_EQ(tasks.size(), 1u);
    EXPECT_EQ(request.member("taskId").asString(), tasks[0].id);
    EXPECT_EQ(request.member("applicationId").asString(), id);
    EXPECT_EQ(request.member("elementId").asString(), "Task_Oa");
    EXPECT_EQ(request.member("assignee").asString(), "oa:approvers");
    EXPECT_EQ(request.member("amount").asNumber(), 1200);

    // Unknown task: refused with the reason (the relay answers "not applied").
    EXPECT_THROW(f.decide(id, "no-such-task", "approved"), Poco::InvalidArgumentException);
    EXPECT_EQ(f.service->get(id).status, ApplicationStatus::InReview);

    f.decide(id, tasks[0].id, "approved");
    auto a = f.service->get(id);
    EXPECT_EQ(a.status, ApplicationStatus::Approved);
    EXPECT_EQ(statuses(a), (std::vector<std::string>{"submitted", "in_review", "approved"}));
    EXPECT_TRUE(f.openTasks().empty());

    // The same decision again under another event id, or a contrary late one:
    // acknowledged, nothing moves twice.
    EXPECT_NO_THROW(f.decide(id, tasks[0].id, "approved"));
    EXPECT_NO_THROW(f.decide(id, tasks[0].id, "rejected"));
    EXPECT_EQ(f.service->get(id).version, a.version);
    Poco::Data::Session s = f.db->session();
    auto history = f.engineStore->history(s, *f.engineStore->instanceOf(s, id));
    int completions = 0;
    for (const auto& entry : history)
        if (entry.elementId == "Task_Oa" && entry.event == "completed") {
            ++completions;
            EXPECT_EQ(entry.actor, "approval-engine:engine-1");
            EXPECT_EQ(entry.result, "approve");
        }
    EXPECT_EQ(completions, 1);
}

TEST(FlowInputsTest, ARejectionFromTheEngineTakesTheFlowsRejectPath) {
    RunnerFixture f(kExternalTask);
    const std::string id = f.submit();
    f.decide(id, "", "rejected");  // no taskId: the open external task
    EXPECT_EQ(f.service->get(id).status, ApplicationStatus::Rejected);
}

TEST(FlowInputsTest, AWaitForApprovalDecidedIsRequestedByItsKeyAndMovesOnWithTheDecision) {
    RunnerFixture f(kMessageWait);
    const std::string id = f.submit();
    EXPECT_EQ(f.service->get(id).status, ApplicationStatus::Submitted);  // only a message wait
    auto requests = outboxData(*f.db, std::string(events::EventType::ApprovalRequested));
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(engine::Value::fromJson(requests[0]).member("taskId").asString(), "京A12345");

    EXPECT_THROW(f.decide(id, "京B00000", "approved"), Poco::InvalidArgumentException);
    f.decide(id, "京A12345", "approved");
    EXPECT_EQ(f.service->get(id).status, ApplicationStatus::InReview);
    auto tasks = f.openTasks();
    ASSERT_EQ(tasks.size(), 1u);
    EXPECT_EQ(tasks[0].elementId, "Task_Review");
    Poco::Data::Session s = f.db->session();
    auto state = f.engineStore->load(s, tasks[0].instanceId);
    EXPECT_EQ(state->variables.member("decision").asString(), "approve");
    EXPECT_EQ(state->variables.member("decided_by").asString(), "approval-engine:engine-1");
}

TEST(FlowInputsTest, AMessageIsDeliveredByCorrelationKeyOnce) {
    RunnerFixture f(kMessageWait);
    const std::string id = f.submit();
    FlowRunner::Message message{"approval.decided", "京B00000", "", engine::Value::fromJson(R"({"decision":"approve"})"),
                                "admin"};
    message.ttlSeconds = 0;  // not kept for a later wait (FlowMessagesTest)
    using Outcome = FlowRunner::Publication::Outcome;
    EXPECT_EQ(f.runner->publishMessage(message).outcome, Outcome::NoWait);
    message.correlationKey = "京A12345";
    auto published = f.runner->publishMessage(message);
    EXPECT_EQ(published.outcome, Outcome::Delivered);
    EXPECT_EQ(published.instances.size(), 1u);
    EXPECT_EQ(f.service->get(id).status, ApplicationStatus::InReview);
    EXPECT_EQ(f.runner->publishMessage(message).outcome, Outcome::NoWait);  // nothing waits any more
}

TEST(FlowInputsTest, TheApplicantsSupplementCompletesTheReturnTaskAndTheReviewOpensAgain) {
    RunnerFixture f(kMessageWait);
    const std::string id = f.submit();
    f.decide(id, "京A12345", "approved");
    auto review = f.openTasks();
    ASSERT_EQ(review.size(), 1u);
    engine::Input back;
    back.kind = engine::Input::Kind::TaskCompleted;
    back.taskId = review[0].id;
    back.actor = "sec.1";
    back.decision = "return_for_supplement";
    back.comment = "请补充行驶证";
    ASSERT_TRUE(f.runner->apply(review[0].instanceId, back));
    EXPECT_EQ(f.service->get(id).status, ApplicationStatus::NeedsSupplement);

    ApplicationService::SupplementRequest supplement;
    supplement.id = id;
    supplement.actor = "t.wang";
    supplement.formJson = R"({"plate":"京A12346"})";
    f.service->supplement(supplement, shippedCatalog());
    auto a = f.service->get(id);
    EXPECT_EQ(a.status, ApplicationStatus::InReview);
    auto tasks = f.openTasks();
    ASSERT_EQ(tasks.size(), 1u);
    EXPECT_EQ(tasks[0].elementId, "Task_Review");
    EXPECT_NE(tasks[0].id, review[0].id);
    Poco::Data::Session s = f.db->session();
    auto state = f.engineStore->load(s, tasks[0].instanceId);
    EXPECT_EQ(state->variables.member("form").member("plate").asString(), "京A12346");
}

TEST(FlowInputsTest, ADecisionByHandEndsTheFlowAndAWithdrawalCancelsIt) {
    RunnerFixture f(kExternalTask);
    const std::string first = f.submit();
    f.service->transition(first, ApplicationStatus::Rejected, "sec.head", "材料不实");
    Poco::Data::Session s = f.db->session();
    auto state = f.engineStore->load(s, *f.engineStore->instanceOf(s, first));
    EXPECT_EQ(state->status, engine::InstanceStatus::Terminated);
    EXPECT_EQ(state->outcome, "rejected");
    EXPECT_TRUE(f.openTasks().empty());
    // The engine's answer comes after: late, acknowledged, nothing moves.
    EXPECT_NO_THROW(f.decide(first, "", "approved"));
    EXPECT_EQ(f.service->get(first).status, ApplicationStatus::Rejected);

    auto second = vehiclePass("t.wang", "京C55555");
    second.startReview = true;
    const std::string id = f.service->submit(second, shippedCatalog(), kTeacher).application->id;
    f.service->cancel(id, "t.wang", "不需要了");
    state = f.engineStore->load(s, *f.engineStore->instanceOf(s, id));
    EXPECT_EQ(state->status, engine::InstanceStatus::Cancelled);
    EXPECT_TRUE(f.openTasks().empty());
}

}  // namespace
}  // namespace hub::flows
