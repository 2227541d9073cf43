// Flow versions while instances run (an old instance finishes on the version
// it started on, a new one starts on the newest, across a restart), and a
// thousand instances driven through timers, reviews and restarts with nothing
// lost or done twice (docs/flows/bpmn.md, "The folder of flows", "Running").
#include "FlowRunnerFixture.h"

#include "hub/test/Eventually.h"

#include <map>

namespace hub::flows {
namespace {

using test::kFlowHeader;
using test::kTeacher;
using test::RunnerFixture;
using test::shippedCatalog;
using test::vehiclePass;

std::string reviewFlow(const std::string& middle) {
    return kFlowHeader + R"(  <bpmn:process id="vehicle-pass" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
)" + middle + R"(
    <bpmn:endEvent id="End"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="approved" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F9</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
)";
}

std::string task(const std::string& id, const std::string& group, const std::string& in, const std::string& out) {
    return "<bpmn:userTask id=\"" + id + "\" name=\"审核\"><bpmn:extensionElements><zeebe:assignmentDefinition "
           "candidateGroups=\"" + group + "\" /></bpmn:extensionElements><bpmn:incoming>" + in +
           "</bpmn:incoming><bpmn:outgoing>" + out + "</bpmn:outgoing></bpmn:userTask>\n";
}

std::string flow(const std::string& id, const std::string& from, const std::string& to) {
    return "<bpmn:sequenceFlow id=\"" + id + "\" sourceRef=\"" + from + "\" targetRef=\"" + to + "\" />\n";
}

// v1: one review. v2: the clerk's review, then the head's.
const std::string kVersion1 = reviewFlow(task("Review", "dept:security:clerk", "F1", "F9") +
                                         flow("F1", "Start", "Review") + flow("F9", "Review", "End"));
const std::string kVersion2 =
    reviewFlow(task("Review", "dept:security:clerk", "F1", "F2") + task("HeadReview", "dept:security:head", "F2", "F9") +
               flow("F1", "Start", "Review") + flow("F2", "Review", "HeadReview") + flow("F9", "HeadReview", "End"));

// A timer already due (a date in the past), then a review.
const std::string kTimerThenReview = reviewFlow(
    R"(<bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="T1"><bpmn:timeDate xsi:type="bpmn:tFormalExpression">2020-01-01T00:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
)" + task("Review", "dept:security:clerk", "F2", "F9") +
    flow("F1", "Start", "Wait") + flow("F2", "Wait", "Review") + flow("F9", "Review", "End"));

bool completeTask(RunnerFixture& f, const engine::StoredTask& open) {
    engine::Input input;
    input.kind = engine::Input::Kind::TaskCompleted;
    input.taskId = open.id;
    input.actor = "sec.1";
    input.decision = "approve";
    return f.runner->apply(open.instanceId, input);
}

std::vector<engine::StoredTask> tasksAt(RunnerFixture& f, const std::string& element) {
    std::vector<engine::StoredTask> out;
    for (auto& t : f.openTasks())
        if (t.elementId == element) out.push_back(t);
    return out;
}

int versionOf(RunnerFixture& f, const std::string& applicationId) {
    Poco::Data::Session s = f.db->session();
    return f.engineStore->load(s, *f.engineStore->instanceOf(s, applicationId))->version;
}

TEST(FlowVersionsTest, RunningInstancesFinishOnTheirVersionAndNewOnesStartOnTheNewest) {
    RunnerFixture f(kVersion1);
    const std::string old = f.submit("京A00001");
    f.redeploy(kVersion2);
    const std::string fresh = f.submit("京A00002");
    EXPECT_EQ(versionOf(f, old), 1);
    EXPECT_EQ(versionOf(f, fresh), 2);

    // After a restart the old version is read back from the store.
    f.restart();
    EXPECT_EQ(f.repository->latest("vehicle-pass").second, 2);
    for (const auto& open : tasksAt(f, "Review")) ASSERT_TRUE(completeTask(f, open));
    EXPECT_EQ(f.service->get(old).status, ApplicationStatus::Approved);  // v1: one review
    EXPECT_EQ(f.service->get(fresh).status, ApplicationStatus::InReview);  // v2: the head's review next
    auto heads = tasksAt(f, "HeadReview");
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].applicationId, fresh);
    ASSERT_TRUE(completeTask(f, heads[0]));
    EXPECT_EQ(f.service->get(fresh).status, ApplicationStatus::Approved);
}

// A thousand instances: each waits on a timer, then for a review. The hub
// restarts while the timers fire and again while the reviews are completed;
// at the end every application went submitted -> in_review -> approved once,
// and every timer fired and every task completed exactly once.
TEST(FlowVersionsTest, AThousandInstancesThroughTimersReviewsAndRestartsNothingLostOrDoubled) {
    constexpr std::size_t kInstances = 1000;
    RunnerFixture f(kTimerThenReview);
    f.runnerOptions.timerPollMs = 20;
    std::vector<std::string> ids;
    for (std::size_t n = 0; n < kInstances; ++n) ids.push_back(f.submit("京A" + std::to_string(10000 + n)));
    EXPECT_EQ(test::countRows(*f.db, "flows_engine_timers"), static_cast<std::int64_t>(kInstances));

    // The timers fire from the scheduler; restart while they do.
    f.runner->resume();
    ASSERT_TRUE(hub::test::waitUntil([&] { return tasksAt(f, "Review").size() >= kInstances / 4; },
                                     std::chrono::seconds(120), std::chrono::milliseconds(5)));
    f.restart();
    ASSERT_TRUE(hub::test::waitUntil([&] { return tasksAt(f, "Review").size() == kInstances; },
                                     std::chrono::seconds(240), std::chrono::milliseconds(20)));
    EXPECT_EQ(test::countRows(*f.db, "flows_engine_timers"), 0);

    // Complete half, restart, complete the rest.
    auto open = tasksAt(f, "Review");
    for (std::size_t n = 0; n < open.size() / 2; ++n) ASSERT_TRUE(completeTask(f, open[n]));
    f.restart();
    for (const auto& task : tasksAt(f, "Review")) ASSERT_TRUE(completeTask(f, task));
    // A completion again (a retry of one already done) changes nothing.
    EXPECT_FALSE(completeTask(f, open.front()));

    std::map<std::string, int> fired, completed;
    Poco::Data::Session s = f.db->session();
    for (const auto& id : ids) {
        auto a = f.service->get(id);
        ASSERT_EQ(a.status, ApplicationStatus::Approved) << id;
        ASSERT_EQ(a.transitions.size(), 3u) << id;
        for (const auto& entry : f.engineStore->history(s, *f.engineStore->instanceOf(s, id))) {
            if (entry.elementId == "Wait" && entry.event == "completed") ++fired[id];
            if (entry.elementId == "Review" && entry.event == "completed") ++completed[id];
        }
        EXPECT_EQ(fired[id], 1) << id;
        EXPECT_EQ(completed[id], 1) << id;
    }
    EXPECT_TRUE(f.openTasks().empty());
    EXPECT_EQ(test::countRows(*f.db, "flows_engine_tokens"), 0);
}

}  // namespace
}  // namespace hub::flows
