// Several hubs on one store (issue 17): two runners ("nodes"), each with its
// own Database, service, engine store, repository and plugin host, in one
// process on one database. On PostgreSQL (the pg: run) that is the cluster's
// case; on SQLite the two open one file, and the same rules hold.
//   - The timers fire on one node, the holder of the lease flows.timers, and
//     each once; when the holder stops, the other fires due timers within seconds.
//   - Two nodes claiming one task: exactly one wins.
//   - Two nodes stepping one instance at once take turns: one step applies,
//     the other finds the task done; nothing is lost or doubled.
//   - One idempotency key submitted on both nodes at once: one application.
//   - One approval.decided applied on both nodes at once: applied once, the
//     other is a late duplicate (not an error).
#include "FlowRunnerFixture.h"

#include "hub/store/Lease.h"
#include "hub/test/Eventually.h"

#include <atomic>
#include <barrier>
#include <optional>
#include <thread>

namespace hub::flows {
namespace {

using namespace Poco::Data::Keywords;
using test::kFlowHeader;
using test::RunnerFixture;

std::string clusterFlow(const std::string& middle) {
    return kFlowHeader + R"(  <bpmn:process id="vehicle-pass" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
)" + middle +
           R"(
    <bpmn:userTask id="Review" name="审核"><bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="dept:security:clerk" /></bpmn:extensionElements><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="F9" sourceRef="Review" targetRef="End" />
    <bpmn:endEvent id="End"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="approved" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F9</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
)";
}

// A timer already due (a date in the past), then a review.
const std::string kClusterTimerThenReview = clusterFlow(
    R"(<bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="T1"><bpmn:timeDate xsi:type="bpmn:tFormalExpression">2020-01-01T00:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Wait" />
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="Review" />)");

// A review at once.
const std::string kClusterReview = clusterFlow(R"(<bpmn:sequenceFlow id="F2" sourceRef="Start" targetRef="Review" />)");

// The external approval engine's task (the group oa:approvers), then the end.
const std::string kClusterExternal = kFlowHeader + R"(  <bpmn:process id="vehicle-pass" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Oa" name="OA"><bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="oa:approvers" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Oa" />
    <bpmn:sequenceFlow id="F9" sourceRef="Oa" targetRef="End" />
    <bpmn:endEvent id="End"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="approved" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F9</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
)";

constexpr auto kLeaseTtl = std::chrono::milliseconds(1500);

// Two nodes on one store, the runners not started yet.
struct Cluster {
    explicit Cluster(const std::string& flowXml) : a(flowXml), b(flowXml, a) {}

    /// Both runners started, with a short poll and lease (wired again with those).
    void resumeBoth() {
        for (RunnerFixture* node : {&a, &b}) {
            node->runnerOptions.timerPollMs = 20;
            node->runnerOptions.timerLeaseTtl = kLeaseTtl;
        }
        a.build();
        b.build();
        a.runner->resume();
        b.runner->resume();
    }

    std::int64_t count(const std::string& where) {
        Poco::Data::Session s = a.db->session();
        Poco::Int64 n = 0;
        s << "SELECT COUNT(*) FROM " + where, into(n), now;
        return n;
    }

    std::vector<engine::StoredTask> openReviews() { return a.openTasks(); }

    RunnerFixture a;
    RunnerFixture b;
};

TEST(FlowClusterTest, ATimerFiresOnceWhenBothNodesRunAndOnlyTheLeaseHolderFiresThem) {
    constexpr std::int64_t kInstances = 60;
    Cluster c(kClusterTimerThenReview);
    for (std::int64_t n = 0; n < kInstances / 2; ++n) {
        c.a.submit("京A" + std::to_string(10000 + n));
        c.b.submit("京B" + std::to_string(10000 + n));
    }
    EXPECT_EQ(c.count("flows_engine_timers"), kInstances);

    c.resumeBoth();
    ASSERT_TRUE(hub::test::waitUntil([&] { return c.count("flows_engine_timers") == 0; }, std::chrono::seconds(60),
                                     std::chrono::milliseconds(10)));
    // Each timer fired once: one "fired" in each instance's history, one review each.
    EXPECT_EQ(c.count("flows_engine_history WHERE element_id = 'Wait' AND event = 'fired'"), kInstances);
    EXPECT_EQ(c.openReviews().size(), static_cast<std::size_t>(kInstances));
    EXPECT_EQ(c.count("flows_transitions WHERE to_status = 'in_review'"), kInstances);

    auto holder = store::Lease::current(*c.a.db, "flows.timers");
    ASSERT_TRUE(holder);
    EXPECT_TRUE(holder->node == c.a.db->nodeId() || holder->node == c.b.db->nodeId()) << holder->node;
}

TEST(FlowClusterTest, WhenTheHolderStopsTheOtherNodeFiresDueTimersWithinSeconds) {
    Cluster c(kClusterTimerThenReview);
    c.resumeBoth();
    auto holder = store::Lease::current(*c.a.db, "flows.timers");
    ASSERT_TRUE(holder);
    RunnerFixture& stopped = holder->node == c.a.db->nodeId() ? c.a : c.b;
    RunnerFixture& other = &stopped == &c.a ? c.b : c.a;
    ASSERT_EQ(holder->node, stopped.db->nodeId());

    stopped.runner->stop();  // hands the lease over
    const auto start = std::chrono::steady_clock::now();
    constexpr std::size_t kInstances = 10;
    for (std::size_t n = 0; n < kInstances; ++n) other.submit("京C" + std::to_string(10000 + n));
    ASSERT_TRUE(hub::test::waitUntil([&] { return c.openReviews().size() == kInstances; }, std::chrono::seconds(10),
                                     std::chrono::milliseconds(10)));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::seconds(5));
    EXPECT_EQ(store::Lease::current(*c.a.db, "flows.timers")->node, other.db->nodeId());
    EXPECT_EQ(c.count("flows_engine_history WHERE element_id = 'Wait' AND event = 'fired'"),
              static_cast<std::int64_t>(kInstances));
}

// A holder that dies (stops renewing without handing over) is replaced once
// its lease runs out.
TEST(FlowClusterTest, WhenTheHolderDiesTheOtherNodeTakesOverAfterTheLeaseRunsOut) {
    Cluster c(kClusterTimerThenReview);
    c.resumeBoth();
    auto holder = store::Lease::current(*c.a.db, "flows.timers");
    ASSERT_TRUE(holder);
    RunnerFixture& dead = holder->node == c.a.db->nodeId() ? c.a : c.b;
    RunnerFixture& other = &dead == &c.a ? c.b : c.a;
    dead.runner->abandon();  // as kill -9: its lease stays until it runs out
    EXPECT_EQ(store::Lease::current(*c.a.db, "flows.timers")->node, dead.db->nodeId());
    const auto start = std::chrono::steady_clock::now();
    other.submit("京D10000");
    ASSERT_TRUE(hub::test::waitUntil([&] { return c.openReviews().size() == 1; }, std::chrono::seconds(15),
                                     std::chrono::milliseconds(10)));
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, kLeaseTtl / 2);  // not before the ghost's lease ran out
    EXPECT_LT(took, std::chrono::seconds(6));
}

TEST(FlowClusterTest, TwoNodesClaimingOneTaskExactlyOneWins) {
    Cluster c(kClusterReview);
    constexpr std::size_t kTasks = 40;
    for (std::size_t n = 0; n < kTasks; ++n) (n % 2 ? c.a : c.b).submit("京E" + std::to_string(10000 + n));
    auto tasks = c.openReviews();
    ASSERT_EQ(tasks.size(), kTasks);

    // Both at once, many times over.
    std::atomic<int> wonA{0}, wonB{0};
    std::barrier start(2);
    auto claimAll = [&](RunnerFixture& node, const std::string& user, std::atomic<int>& won) {
        for (const auto& task : tasks) {
            start.arrive_and_wait();
            Poco::Data::Session s = node.db->session();
            if (node.engineStore->claimTask(s, task.id, user)) ++won;
        }
    };
    std::thread ta([&] { claimAll(c.a, "clerk.a", wonA); });
    std::thread tb([&] { claimAll(c.b, "clerk.b", wonB); });
    ta.join();
    tb.join();
    EXPECT_EQ(wonA + wonB, static_cast<int>(kTasks));
    EXPECT_EQ(c.count("flows_engine_tasks WHERE claimed_by IN ('clerk.a', 'clerk.b')"),
              static_cast<std::int64_t>(kTasks));
    for (const auto& task : c.openReviews()) EXPECT_TRUE(task.claimedBy == "clerk.a" || task.claimedBy == "clerk.b");

    // A claim that waits for the other node's transaction (a row lock on
    // PostgreSQL, the write lock on SQLite) sees the row it committed.
    const auto& task = tasks.front();
    Poco::Data::Session sa = c.a.db->session();
    ASSERT_TRUE(c.a.engineStore->unclaimTask(sa, task.id, "", true));
    std::optional<bool> second;
    {
        Poco::Data::Transaction tx(sa, true);
        ASSERT_TRUE(c.a.engineStore->claimTask(sa, task.id, "clerk.a"));
        std::thread tb2([&] {
            Poco::Data::Session sb = c.b.db->session();
            second = c.b.engineStore->claimTask(sb, task.id, "clerk.b");
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        EXPECT_FALSE(second.has_value());  // waiting
        tx.commit();
        tb2.join();
    }
    ASSERT_TRUE(second.has_value());
    EXPECT_FALSE(*second);
}

// The same task completed on both nodes at the same moment: one step applies,
// the other finds it done. Each application moves to approved once.
TEST(FlowClusterTest, ConcurrentStepsOfOneInstanceOnTwoNodesTakeTurns) {
    Cluster c(kClusterReview);
    c.resumeBoth();
    constexpr std::size_t kInstances = 30;
    for (std::size_t n = 0; n < kInstances; ++n) c.a.submit("京F" + std::to_string(10000 + n));
    auto tasks = c.openReviews();
    ASSERT_EQ(tasks.size(), kInstances);

    std::atomic<int> applied{0};
    std::barrier start(2);
    auto completeAll = [&](RunnerFixture& node, const std::string& clerk) {
        for (const auto& task : tasks) {
            engine::Input input;
            input.kind = engine::Input::Kind::TaskCompleted;
            input.taskId = task.id;
            input.actor = clerk;
            input.decision = "approve";
            start.arrive_and_wait();
            if (node.runner->apply(task.instanceId, input)) ++applied;
        }
    };
    std::thread ta([&] { completeAll(c.a, "clerk.a"); });
    std::thread tb([&] { completeAll(c.b, "clerk.b"); });
    ta.join();
    tb.join();
    EXPECT_EQ(applied.load(), static_cast<int>(kInstances));
    EXPECT_TRUE(c.openReviews().empty());
    EXPECT_EQ(c.count("flows_engine_history WHERE element_id = 'Review' AND event = 'completed'"),
              static_cast<std::int64_t>(kInstances));
    EXPECT_EQ(c.count("flows_transitions WHERE to_status = 'approved'"), static_cast<std::int64_t>(kInstances));
    EXPECT_EQ(c.count("flows_engine_tasks WHERE status = 'completed'"), static_cast<std::int64_t>(kInstances));
}

// The same submission (one idempotency key) reaching both nodes at once, many
// times: each key makes one application, and the other node answers with it.
TEST(FlowClusterTest, OneIdempotencyKeyOnTwoNodesAtOnceMakesOneApplication) {
    Cluster c(kClusterReview);
    constexpr int kKeys = 25;
    std::barrier start(2);
    std::vector<std::string> idsA(kKeys), idsB(kKeys);
    std::atomic<int> created{0}, replayed{0};
    auto submitAll = [&](RunnerFixture& node, std::vector<std::string>& ids) {
        for (int n = 0; n < kKeys; ++n) {
            auto request = test::vehiclePass("t.wang", "京G" + std::to_string(10000 + n));
            request.startReview = true;
            request.idempotencyKey = "cluster-key-" + std::to_string(n);
            start.arrive_and_wait();
            auto r = node.service->submit(request, test::shippedCatalog(), test::kTeacher);
            if (r.outcome == test::Outcome::Created) ++created;
            if (r.outcome == test::Outcome::Replayed) ++replayed;
            if (r.application) ids[static_cast<std::size_t>(n)] = r.application->id;
        }
    };
    std::thread ta([&] { submitAll(c.a, idsA); });
    std::thread tb([&] { submitAll(c.b, idsB); });
    ta.join();
    tb.join();
    EXPECT_EQ(created.load(), kKeys);
    EXPECT_EQ(replayed.load(), kKeys);
    EXPECT_EQ(idsA, idsB);
    EXPECT_EQ(c.count("flows_applications"), kKeys);
    EXPECT_EQ(c.count("flows_engine_instances"), kKeys);
    EXPECT_EQ(c.openReviews().size(), static_cast<std::size_t>(kKeys));
}

// The approval engine's decision reaching both nodes at once (two relays, or a
// resend): one applies it, the other finds the task closed (Late: logged,
// not an error), and the application is approved once.
TEST(FlowClusterTest, OneDecisionOnTwoNodesAtOnceIsAppliedOnce) {
    Cluster c(kClusterExternal);
    constexpr std::size_t kApplications = 20;
    for (std::size_t n = 0; n < kApplications; ++n) c.a.submit("京H" + std::to_string(10000 + n));
    auto tasks = c.openReviews();
    ASSERT_EQ(tasks.size(), kApplications);
    std::barrier start(2);
    std::atomic<int> failures{0};
    auto decideAll = [&](RunnerFixture& node) {
        for (const auto& task : tasks) {
            start.arrive_and_wait();
            try {
                node.decide(task.applicationId, task.id, "approved");
            } catch (const std::exception& e) {
                ++failures;
                ADD_FAILURE() << e.what();
            }
        }
    };
    std::thread ta([&] { decideAll(c.a); });
    std::thread tb([&] { decideAll(c.b); });
    ta.join();
    tb.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_TRUE(c.openReviews().empty());
    EXPECT_EQ(c.count("flows_transitions WHERE to_status = 'approved'"), static_cast<std::int64_t>(kApplications));
    EXPECT_EQ(c.count("flows_engine_history WHERE element_id = 'Oa' AND event = 'completed'"),
              static_cast<std::int64_t>(kApplications));
}

}  // namespace
}  // namespace hub::flows

namespace hub::flows {
namespace {

using test::RunnerFixture;

// A service task (the testkit plugin sleeps 8 s, a vendor system slow to
// answer), then the review.
const std::string kClusterSlowCall = clusterFlow(
    R"(<bpmn:serviceTask id="Call" name="调用"><bpmn:extensionElements><zeebe:taskDefinition type="testkit.sleep" retries="1" /><zeebe:ioMapping><zeebe:input source="= 8000" target="ms" /></zeebe:ioMapping></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Call" />
    <bpmn:sequenceFlow id="F2" sourceRef="Call" targetRef="Review" />)");

// The calls node `node` made to the testkit plugin: answered, running or queued.
std::uint64_t callsMadeBy(RunnerFixture& node) {
    for (const auto& plugin : node.plugins->list())
        if (plugin.name == "testkit") return plugin.calls + plugin.active + plugin.queued;
    ADD_FAILURE() << "testkit is not loaded";
    return 0;
}

}  // namespace

// A node that starts while another is doing a service call does not make it
// again (twice the load on the vendor), nor does the holder of the timers;
// once the node that made it has died, the survivor makes it again, once.
TEST(FlowClusterTest, AStartingNodeLeavesALiveNodesCallAloneAndTheSurvivorMakesADeadNodesCallOnce) {
    Cluster c(kClusterSlowCall);
    if (c.a.db->dialect() != store::Dialect::PostgreSql)
        GTEST_SKIP() << "one node on SQLite: a start makes every pending call again, as it must";
    for (RunnerFixture* node : {&c.a, &c.b}) {
        std::filesystem::copy(std::string(TEST_PLUGINS_DIR) + "/testkit", node->dir.path() / "plugins" / "testkit",
                              std::filesystem::copy_options::recursive);
        node->runnerOptions.timerPollMs = 20;
        node->runnerOptions.timerLeaseTtl = kLeaseTtl;
        node->runnerOptions.callTimeoutMs = 60000;  // no deadline passes in this test
        // The first runner goes before the second comes: its stop releases
        // the lease flows.node.<id> that both would hold (one node id).
        node->runner.reset();
        node->build();
        node->plugins->loadAll();
    }
    c.a.runner->resume();
    ASSERT_EQ(store::Lease::current(*c.a.db, "flows.timers")->node, c.a.db->nodeId());

    // node-a's call is out (the plugin sleeps); node-b starts meanwhile.
    c.a.submit("京G10000");
    ASSERT_TRUE(hub::test::waitUntil([&] { return callsMadeBy(c.a) == 1; }, std::chrono::seconds(10),
                                     std::chrono::milliseconds(5)));
    c.b.runner->resume();
    EXPECT_EQ(callsMadeBy(c.b), 0u) << "the starting node made the live node's call again";
    // The holder of the timers (node-a) looks for orphaned calls every second:
    // its own call is live.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_EQ(callsMadeBy(c.a), 1u);
    EXPECT_EQ(callsMadeBy(c.b), 0u);

    // node-a dies with its call out (its answer is dropped): once its leases
    // have run out, node-b holds the timers and makes the call again, once.
    c.a.runner->abandon();
    ASSERT_TRUE(hub::test::waitUntil([&] { return c.openReviews().size() == 1; }, std::chrono::seconds(30),
                                     std::chrono::milliseconds(10)));
    EXPECT_EQ(store::Lease::current(*c.a.db, "flows.timers")->node, c.b.db->nodeId());
    EXPECT_EQ(callsMadeBy(c.b), 1u);
    EXPECT_EQ(callsMadeBy(c.a), 1u);
    EXPECT_EQ(c.count("flows_engine_history WHERE element_id = 'Call' AND event = 'completed'"), 1);
    EXPECT_EQ(c.count("flows_engine_tokens WHERE wait = 'service'"), 0);
}

}  // namespace hub::flows
