// The engine's runtime (Engine.h), driven input by input without store or threads.
#include "EngineTestSupport.h"

#include "hub/flows/engine/Deployer.h"
#include "hub/flows/engine/Engine.h"

#include <gtest/gtest.h>

using namespace hub::flows::engine;
using namespace hub::flows::engine::test;

namespace {

TEST(EngineTest, EnrolmentRunsItsServiceTasksWithIdempotencyKeysToTheEnd) {
    Driver d(readData("enrolment-certificate.bpmn"));
    d.start(R"({"applicant":{"id":"s2026001"},"form":{}})");
    ASSERT_TRUE(d.last.applied);
    ASSERT_EQ(d.kinds(), "call_service");
    const Effect call = d.of(Kind::CallService).front();
    EXPECT_EQ(call.id, "i1:Activity_lookup:1");
    EXPECT_EQ(call.plugin, "student_affairs");
    EXPECT_EQ(call.operation, "lookup_status");
    EXPECT_EQ(call.input.toJson(), R"({"studentId":"s2026001"})");
    ASSERT_EQ(d.state.tokens.size(), 1u);
    EXPECT_EQ(d.state.tokens[0].wait, Wait::Service);

    d.serviceOk("i1:Activity_lookup:1", R"({"status":"在读","name":"张三"})");
    ASSERT_EQ(d.kinds(), "call_service");
    EXPECT_EQ(d.of(Kind::CallService).front().id, "i1:Activity_issue:1");
    // Output mapping: only `enrolment` is set, not the whole result.
    EXPECT_EQ(d.state.variables.member("enrolment").toJson(), "\"在读\"");
    EXPECT_TRUE(d.state.variables.member("name").isNull());

    d.serviceOk("i1:Activity_issue:1", R"({"certificate":"C-1"})");
    EXPECT_EQ(d.kinds(), "end_instance");
    EXPECT_EQ(d.of(Kind::EndInstance).front().outcome, "completed");
    EXPECT_EQ(d.state.status, InstanceStatus::Completed);
    EXPECT_TRUE(d.state.tokens.empty());
    EXPECT_EQ(d.state.variables.member("certificate").toJson(), "\"C-1\"");  // no output mapping: merged

    // A duplicate answer (at-least-once delivery) changes nothing.
    EXPECT_FALSE(d.serviceOk("i1:Activity_issue:1").applied);
    std::string trail;
    for (const auto& entry : d.state.history) trail += entry.elementId + ":" + entry.event + " ";
    EXPECT_EQ(trail,
              "StartEvent_1:completed Activity_lookup:started Activity_lookup:completed Gateway_status:completed "
              "Activity_issue:started Activity_issue:completed Event_completed:completed ");
}

TEST(EngineTest, TheExclusiveGatewayTakesItsDefaultWhenNoConditionHolds) {
    Driver d(readData("enrolment-certificate.bpmn"));
    d.start(R"({"applicant":{"id":"s1"}})");
    d.serviceOk("i1:Activity_lookup:1", R"({"status":"休学"})");
    EXPECT_EQ(d.kinds(), "end_instance");
    EXPECT_EQ(d.state.outcome, "rejected");
}

TEST(EngineTest, ABusinessErrorTakesTheErrorBoundaryAndAnUncaughtOneRaisesAnIncident) {
    Driver d(readData("enrolment-certificate.bpmn"));
    d.start(R"({"applicant":{"id":"s1"}})");
    d.serviceFailed("i1:Activity_lookup:1", "no such student", "NOT_FOUND");
    EXPECT_EQ(d.kinds(), "end_instance");
    EXPECT_EQ(d.state.outcome, "rejected");

    Driver e(readData("enrolment-certificate.bpmn"));
    e.start(R"({"applicant":{"id":"s1"}})");
    e.serviceFailed("i1:Activity_lookup:1", "quota", "QUOTA");
    ASSERT_EQ(e.kinds(), "raise_incident");
    EXPECT_EQ(e.of(Kind::RaiseIncident).front().message, "error 'QUOTA' is not caught: quota");
}

TEST(EngineTest, ServiceTaskRetriesWithBackoffThenAnIncidentAnAdminCanRetry) {
    Driver d(readData("enrolment-certificate.bpmn"));
    d.start(R"({"applicant":{"id":"s1"}})");
    d.serviceFailed("i1:Activity_lookup:1", "connection refused");
    ASSERT_EQ(d.kinds(), "schedule_timer");
    EXPECT_EQ(d.of(Kind::ScheduleTimer).front().dueAt, kStart + 1000);
    d.fire(d.of(Kind::ScheduleTimer).front().id);
    ASSERT_EQ(d.kinds(), "call_service");
    EXPECT_EQ(d.of(Kind::CallService).front().id, "i1:Activity_lookup:2");
    EXPECT_EQ(d.of(Kind::CallService).front().attempt, 2);
    // The first attempt's late answer is stale now.
    EXPECT_FALSE(d.serviceOk("i1:Activity_lookup:1").applied);
    d.serviceFailed("i1:Activity_lookup:2", "connection refused");
    EXPECT_EQ(d.of(Kind::ScheduleTimer).front().dueAt, kStart + 2000);
    d.fire(d.of(Kind::ScheduleTimer).front().id);
    d.serviceFailed("i1:Activity_lookup:3", "connection refused");
    ASSERT_EQ(d.kinds(), "raise_incident");
    const Effect incident = d.of(Kind::RaiseIncident).front();
    EXPECT_EQ(incident.message, "plugin student_affairs.lookup_status failed after 3 attempts: connection refused");
    ASSERT_EQ(d.state.incidents.size(), 1u);
    EXPECT_EQ(d.state.tokens[0].wait, Wait::Incident);

    d.retry(incident.id);
    ASSERT_EQ(d.kinds(), "resolve_incident call_service");
    EXPECT_EQ(d.of(Kind::CallService).front().id, "i1:Activity_lookup:4");
    // A fresh budget of retries after an admin's retry.
    d.serviceFailed("i1:Activity_lookup:4", "still down");
    EXPECT_EQ(d.kinds(), "schedule_timer");
    EXPECT_FALSE(d.retry(incident.id).applied);
}

TEST(EngineTest, TravelReviewsInParallelAndJoins) {
    EngineOptions options;
    options.addWorkingDays = [](std::int64_t from, std::int64_t days) { return from + days * 2 * kDay; };
    Driver d(readData("travel-abroad.bpmn"), options);
    d.start(R"({"form":{"days":10}})");
    ASSERT_EQ(d.kinds(), "create_task schedule_timer create_task create_task");
    EXPECT_EQ(d.of(Kind::ScheduleTimer).front().dueAt, kStart + 6 * kDay);  // the working-day calendar's
    ASSERT_EQ(d.state.tasks.size(), 3u);
    EXPECT_EQ(d.state.tasks[0].candidateGroups, std::vector<std::string>{"dept:cs:dean"});

    d.complete(d.taskFor("Task_dept"), "approve");
    EXPECT_EQ(d.kinds(), "cancel_timer complete_task");
    d.complete(d.taskFor("Task_hr"), "approve");
    EXPECT_EQ(d.kinds(), "complete_task");
    EXPECT_EQ(d.state.status, InstanceStatus::Running);
    d.complete(d.taskFor("Task_intl"), "approve", "{}", "clerk.wang");
    EXPECT_EQ(d.kinds(), "complete_task end_instance");
    EXPECT_EQ(d.state.outcome, "approved");
    EXPECT_EQ(d.state.history.back().elementId, "Event_approved");
    bool byWang = false;
    for (const auto& entry : d.state.history)
        byWang = byWang || (entry.elementId == "Task_intl" && entry.actor == "clerk.wang" && entry.result == "approve");
    EXPECT_TRUE(byWang);
}

TEST(EngineTest, TravelOverThirtyDaysAddsThePresidentsOffice) {
    Driver d(readData("travel-abroad.bpmn"));
    d.start(R"({"form":{"days":45}})");
    for (const char* task : {"Task_dept", "Task_intl", "Task_hr"}) d.complete(d.taskFor(task), "approve");
    ASSERT_EQ(d.kinds(), "complete_task create_task");
    d.complete(d.taskFor("Task_president"), "approve");
    EXPECT_EQ(d.state.outcome, "approved");
}

TEST(EngineTest, ARejectTerminatesAndCancelsTheOtherReviews) {
    Driver d(readData("travel-abroad.bpmn"));
    d.start(R"({"form":{"days":10}})");
    d.complete(d.taskFor("Task_intl"), "reject", R"({"opinion":"材料不全"})");
    EXPECT_EQ(d.kinds(), "complete_task cancel_timer cancel_task cancel_task end_instance");
    EXPECT_EQ(d.state.status, InstanceStatus::Terminated);
    EXPECT_EQ(d.state.outcome, "rejected");
    EXPECT_TRUE(d.state.tasks.empty());
    EXPECT_TRUE(d.state.timers.empty());
    EXPECT_TRUE(d.state.tokens.empty());
    EXPECT_EQ(d.state.variables.member("opinion").toJson(), "\"材料不全\"");
    EXPECT_FALSE(d.complete("i1:Task_dept:1", "approve").applied);
}

TEST(EngineTest, ANonInterruptingTimerRemindsAndTheTaskStaysOpen) {
    Driver d(readData("travel-abroad.bpmn"));
    d.start(R"({"form":{"days":10}})");
    const std::string task = d.taskFor("Task_dept");
    d.now += 3 * kDay;
    d.fire(d.timerFor("Event_remind"));
    ASSERT_EQ(d.kinds(), "reminder");
    EXPECT_EQ(d.of(Kind::Reminder).front().id, task);
    EXPECT_EQ(d.state.tasks.size(), 3u);
    EXPECT_EQ(d.state.status, InstanceStatus::Running);
    EXPECT_TRUE(d.state.timers.empty());
    for (const char* element : {"Task_dept", "Task_intl", "Task_hr"}) d.complete(d.taskFor(element), "approve");
    EXPECT_EQ(d.state.outcome, "approved");  // the reminder's end event has no outcome of its own
}

TEST(EngineTest, AnInterruptingTimerCancelsTheTaskAndTakesItsPath) {
    const std::string body =
        "<bpmn:startEvent id=\"start\"/>" + flow("f0", "start", "review") + userTask("review", "dept:cs:dean") +
        flow("f1", "review", "done") + "<bpmn:endEvent id=\"done\"/>" +
        "<bpmn:boundaryEvent id=\"late\" attachedToRef=\"review\"><bpmn:timerEventDefinition><bpmn:timeDuration>PT2H"
        "</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>" +
        flow("f2", "late", "escalate") + userTask("escalate", "hub:admin") + flow("f3", "escalate", "done");
    Driver d(flowFile(body));
    d.start();
    EXPECT_EQ(d.of(Kind::ScheduleTimer).front().dueAt, kStart + 2 * 3600000);
    d.fire(d.timerFor("late"));
    EXPECT_EQ(d.kinds(), "cancel_task create_task");
    EXPECT_EQ(d.state.tasks.size(), 1u);
    EXPECT_EQ(d.state.tasks[0].elementId, "escalate");
    EXPECT_FALSE(d.complete("i1:review:1", "approve").applied);
}

TEST(EngineTest, TimerCatchEventsWaitForADurationOrADate) {
    Driver d(flowFile(linear("<bpmn:intermediateCatchEvent id=\"a\"><bpmn:timerEventDefinition><bpmn:timeDate>"
                             "2026-10-08T09:00:00+08:00</bpmn:timeDate></bpmn:timerEventDefinition>"
                             "</bpmn:intermediateCatchEvent>")));
    d.start();
    ASSERT_EQ(d.kinds(), "schedule_timer");
    EXPECT_EQ(d.of(Kind::ScheduleTimer).front().dueAt, kStart + 7 * kDay);
    EXPECT_FALSE(d.fire("i1:t9").applied);
    d.fire("i1:t1");
    EXPECT_EQ(d.kinds(), "end_instance");
}

TEST(EngineTest, AReceiveTaskWaitsForItsMessage) {
    Driver d(flowFile(linear("<bpmn:receiveTask id=\"a\" messageRef=\"m\"><bpmn:extensionElements><zeebe:ioMapping>"
                             "<zeebe:output source=\"=order.state\" target=\"repair.state\"/></zeebe:ioMapping>"
                             "</bpmn:extensionElements></bpmn:receiveTask>"),
                      "<bpmn:message id=\"m\" name=\"repair.completed\"/>"));
    d.start();
    ASSERT_EQ(d.kinds(), "wait_message");
    EXPECT_EQ(d.of(Kind::WaitMessage).front().message, "repair.completed");
    EXPECT_FALSE(d.message("approval.decided").applied);
    d.message("repair.completed", R"({"order":{"state":"已修复"}})");
    EXPECT_EQ(d.kinds(), "end_instance");
    EXPECT_EQ(d.state.variables.toJson(), R"({"repair":{"state":"已修复"}})");
}

TEST(EngineTest, TheInclusiveGatewayJoinsTheBranchesItStarted) {
    const std::string body =
        "<bpmn:startEvent id=\"start\"/>" + flow("f0", "start", "split") +
        "<bpmn:inclusiveGateway id=\"split\" default=\"fd\"/>" + flow("fa", "split", "a", "=form.a") +
        flow("fb", "split", "b", "=form.b") + flow("fc", "split", "c", "=form.c") + flow("fd", "split", "join") +
        userTask("a", "dept:a:r") + userTask("b", "dept:b:r") + userTask("c", "dept:c:r") + flow("ja", "a", "join") +
        flow("jb", "b", "join") + flow("jc", "c", "join") + "<bpmn:inclusiveGateway id=\"join\"/>" +
        flow("fe", "join", "end") + "<bpmn:endEvent id=\"end\"/>";
    Driver d(flowFile(body));
    d.start(R"({"form":{"a":true,"b":true,"c":false}})");
    ASSERT_EQ(d.state.tasks.size(), 2u);
    d.complete(d.taskFor("a"), "approve");
    EXPECT_EQ(d.kinds(), "complete_task");  // b can still arrive
    d.complete(d.taskFor("b"), "approve");
    EXPECT_EQ(d.kinds(), "complete_task end_instance");

    Driver none(flowFile(body));
    none.start(R"({"form":{}})");
    EXPECT_EQ(none.kinds(), "end_instance");  // the default flow straight to the join
}

TEST(EngineTest, ALoopWithoutAWaitStateStopsAtTheStepLimitWithAnIncident) {
    const std::string body = "<bpmn:startEvent id=\"start\"/>" + flow("f0", "start", "merge") +
                             "<bpmn:exclusiveGateway id=\"merge\"/>" + flow("f1", "merge", "check") +
                             "<bpmn:exclusiveGateway id=\"check\" default=\"f3\"/>" +
                             flow("f2", "check", "merge", "=form.again") + flow("f3", "check", "end") +
                             "<bpmn:endEvent id=\"end\"/>";
    EngineOptions options;
    options.maxStepsPerInput = 50;
    Driver d(flowFile(body), options);
    d.start(R"({"form":{"again":true}})");
    ASSERT_EQ(d.kinds(), "raise_incident");
    EXPECT_EQ(d.of(Kind::RaiseIncident).front().message,
              "step limit: 50 elements entered without a wait (a loop with no wait state?)");
    EXPECT_EQ(d.state.steps, 51);
    // Retried, it loops again and stops again: it never holds the caller.
    d.retry(d.of(Kind::RaiseIncident).front().id);
    EXPECT_EQ(d.kinds(), "resolve_incident raise_incident");
}

TEST(EngineTest, AnInstanceStopsAtItsOwnStepLimitAcrossInputs) {
    EngineOptions options;
    options.maxStepsPerInstance = 3;
    Driver d(readData("enrolment-certificate.bpmn"), options);
    d.start(R"({"applicant":{"id":"s1"}})");  // start, lookup: 2 steps
    d.serviceOk("i1:Activity_lookup:1", R"({"status":"在读"})");  // gateway: 3, the next one is refused
    ASSERT_EQ(d.kinds(), "raise_incident");
    EXPECT_EQ(d.of(Kind::RaiseIncident).front().elementId, "Activity_issue");
    EXPECT_EQ(d.of(Kind::RaiseIncident).front().message, "step limit: the instance entered 3 elements");
}

TEST(EngineTest, AGatewayWithNoTrueConditionAndNoDefaultRaisesAnIncident) {
    const std::string body = "<bpmn:startEvent id=\"start\"/>" + flow("f0", "start", "g") +
                             "<bpmn:exclusiveGateway id=\"g\"/>" + flow("f1", "g", "end", "=form.x > 1") +
                             flow("f2", "g", "end", "=form.x &lt; 0") + "<bpmn:endEvent id=\"end\"/>";
    Driver d(flowFile(body));
    d.start(R"({"form":{"x":0}})");
    ASSERT_EQ(d.kinds(), "raise_incident");
    EXPECT_EQ(d.of(Kind::RaiseIncident).front().message,
              "no outgoing flow's condition is true and the gateway has no default flow");
}

TEST(EngineTest, CancelClosesEverythingOpen) {
    Driver d(readData("travel-abroad.bpmn"));
    d.start(R"({"form":{"days":10}})");
    Input cancel;
    cancel.kind = Input::Kind::Cancel;
    cancel.actor = "t.wang";
    d.apply(cancel);
    EXPECT_EQ(d.kinds(), "cancel_timer cancel_task cancel_task cancel_task end_instance");
    EXPECT_EQ(d.state.status, InstanceStatus::Cancelled);
    EXPECT_FALSE(d.apply(cancel).applied);
}

TEST(EngineTest, TheSameInputsGiveTheSameStateAndEffects) {
    auto run = [] {
        Driver d(readData("travel-abroad.bpmn"));
        d.start(R"({"form":{"days":45}})");
        std::string trace = d.kinds();
        d.complete(d.taskFor("Task_hr"), "approve");
        d.fire(d.timerFor("Event_remind"));
        trace += "|" + d.kinds();
        for (const char* task : {"Task_dept", "Task_intl"}) d.complete(d.taskFor(task), "approve");
        trace += "|" + d.kinds() + "|" + d.state.variables.toJson();
        for (const auto& token : d.state.tokens) trace += "|" + token.elementId + std::to_string(token.id);
        return trace;
    };
    EXPECT_EQ(run(), run());
}

}  // namespace

// Zeebe allows the assignment as expressions (the hall's flows write the
// applicant's own unit and the applicant): evaluated as the task opens.
TEST(EngineTest, AssignmentExpressionsAreEvaluatedWhenTheTaskOpens) {
    Driver d(flowFile(linear(
        "<bpmn:userTask id=\"a\" name=\"审核\"><bpmn:extensionElements><zeebe:assignmentDefinition "
        "assignee=\"= applicant.id\" candidateGroups=\"= &quot;dept:&quot; + applicant.department + &quot;:head&quot;\"/>"
        "</bpmn:extensionElements></bpmn:userTask>\n")));
    d.start(R"({"applicant":{"id":"s2026001","department":"cs"},"form":{}})");
    ASSERT_EQ(d.state.tasks.size(), 1u);
    EXPECT_EQ(d.state.tasks[0].assignee, "s2026001");
    ASSERT_EQ(d.state.tasks[0].candidateGroups.size(), 1u);
    EXPECT_EQ(d.state.tasks[0].candidateGroups[0], "dept:cs:head");

    // A path that is missing assigns nobody (hub:admin only), and says so.
    Driver none(flowFile(linear(userTask("a", "= applicant.unit"))));
    none.start(R"({"applicant":{"id":"s2026001"}})");
    ASSERT_EQ(none.state.tasks.size(), 1u);
    EXPECT_TRUE(none.state.tasks[0].candidateGroups.empty());
    bool unassigned = false;
    for (const auto& entry : none.state.history) unassigned |= entry.event == "unassigned";
    EXPECT_TRUE(unassigned);
}
