// Messages published to the flows before their wait begins (docs/flows/bpmn.md,
// "Messages that come early"): kept for a time-to-live in the store, taken by
// the first wait that begins, exactly once, across a restart; expired ones
// dropped and counted; a message id seen before is a duplicate. The real
// runner, store and repository in process, as hubd wires them.
#include "FlowRunnerFixture.h"

#include "hub/test/Eventually.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <thread>

namespace hub::flows {
namespace {

using test::RunnerFixture;
using test::shippedCatalog;
using test::vehiclePass;
using Published = FlowRunner::Publication::Outcome;

// The pass waits for the gate system's "plate registered" message, correlated
// by the plate on the form, then ends approved.
const std::string kGateWait = test::kFlowHeader + R"(  <bpmn:process id="vehicle-pass" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:receiveTask id="Wait_Gate" name="等待门禁登记" messageRef="Message_Registered"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:receiveTask>
    <bpmn:endEvent id="End"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="approved" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Wait_Gate" />
    <bpmn:sequenceFlow id="F2" sourceRef="Wait_Gate" targetRef="End" />
  </bpmn:process>
  <bpmn:message id="Message_Registered" name="gate.plate_registered">
    <bpmn:extensionElements><zeebe:subscription correlationKey="= form.plate" /></bpmn:extensionElements>
  </bpmn:message>
</bpmn:definitions>
)";

FlowRunner::Message registered(const std::string& plate, const std::string& messageId = {}) {
    FlowRunner::Message m;
    m.name = "gate.plate_registered";
    m.correlationKey = plate;
    m.variables = engine::Value::fromJson(R"({"gate":"东门"})");
    m.actor = "admin";
    m.messageId = messageId;
    return m;
}

std::optional<engine::StoredMessage> stored(RunnerFixture& f, const std::string& id) {
    Poco::Data::Session s = f.db->session();
    return f.engineStore->message(s, id);
}

std::string submitPlate(RunnerFixture& f, const std::string& plate) {
    auto request = vehiclePass("t.wang", plate);
    request.startReview = true;
    auto r = f.service->submit(request, shippedCatalog(), test::kTeacher);
    EXPECT_EQ(r.outcome, test::Outcome::Created);
    return r.application->id;
}

int completions(RunnerFixture& f, const std::string& applicationId) {
    Poco::Data::Session s = f.db->session();
    int n = 0;
    for (const auto& entry : f.engineStore->history(s, *f.engineStore->instanceOf(s, applicationId)))
        if (entry.elementId == "Wait_Gate" && entry.event == "completed") ++n;
    return n;
}

TEST(FlowMessagesTest, AMessageBeforeItsWaitIsKeptThenTakenOnceWhenTheWaitBegins) {
    RunnerFixture f(kGateWait);
    auto early = f.runner->publishMessage(registered("京A12345"));
    ASSERT_EQ(early.outcome, Published::Buffered);
    EXPECT_TRUE(early.instances.empty());
    EXPECT_GT(early.expiresAt, 0);
    EXPECT_EQ(stored(f, early.messageId)->status, "buffered");

    // The wait begins in the submit: it takes the kept message and moves on.
    const std::string id = submitPlate(f, "京A12345");
    EXPECT_EQ(f.service->get(id).status, ApplicationStatus::Approved);
    EXPECT_EQ(completions(f, id), 1);
    auto taken = stored(f, early.messageId);
    EXPECT_EQ(taken->status, "delivered");
    Poco::Data::Session s = f.db->session();
    EXPECT_EQ(taken->instanceId, *f.engineStore->instanceOf(s, id));
    auto state = f.engineStore->load(s, taken->instanceId);
    EXPECT_EQ(state->variables.member("gate").asString(), "东门");

    // Taken once: a second pass for the same plate waits for its own message.
    const std::string second = submitPlate(f, "京A12345");
    EXPECT_EQ(f.service->get(second).status, ApplicationStatus::Submitted);
    EXPECT_EQ(completions(f, second), 0);
    // Another plate's message is kept for that plate only.
    EXPECT_EQ(f.runner->publishMessage(registered("京B99999")).outcome, Published::Buffered);
    EXPECT_EQ(f.service->get(second).status, ApplicationStatus::Submitted);
    auto now = f.runner->publishMessage(registered("京A12345"));
    EXPECT_EQ(now.outcome, Published::Delivered);
    EXPECT_EQ(f.service->get(second).status, ApplicationStatus::Approved);
}

TEST(FlowMessagesTest, AKeptMessageSurvivesARestartAndAWaitThatBeganBeforeTheCrashGetsIt) {
    RunnerFixture f(kGateWait);
    ASSERT_EQ(f.runner->publishMessage(registered("京A00001")).outcome, Published::Buffered);
    f.restart();
    const std::string first = submitPlate(f, "京A00001");
    EXPECT_EQ(f.service->get(first).status, ApplicationStatus::Approved);

    // A wait that began, then a message kept for it whose hand-over the hub
    // did not live to make (written here as the store holds it after a kill -9
    // between the two commits): resume() hands it over.
    const std::string second = submitPlate(f, "京A00002");
    ASSERT_EQ(f.service->get(second).status, ApplicationStatus::Submitted);
    {
        Poco::Data::Session s = f.db->session();
        const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
        ASSERT_TRUE(f.engineStore->insertMessage(
            s, {"m-crash", "gate.plate_registered", "京A00002", "", "{}", "admin", "buffered", "", wall,
                wall + 3600 * 1000}));
    }
    f.restart();
    EXPECT_EQ(f.service->get(second).status, ApplicationStatus::Approved);
    EXPECT_EQ(stored(f, "m-crash")->status, "delivered");
    EXPECT_EQ(completions(f, second), 1);
}

TEST(FlowMessagesTest, AnExpiredMessageIsDroppedCountedAndNeverDelivered) {
    RunnerFixture f(kGateWait);
    auto message = registered("京E00001");
    message.ttlSeconds = 1;
    auto kept = f.runner->publishMessage(message);
    ASSERT_EQ(kept.outcome, Published::Buffered);
    EXPECT_EQ(f.runner->expiredMessages(), 0u);
    ASSERT_TRUE(hub::test::waitUntil(
        [&] {
            f.runner->expireMessages();  // what the scheduler does on each poll
            return f.runner->expiredMessages() == 1;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(50)));
    EXPECT_FALSE(stored(f, kept.messageId));
    EXPECT_EQ(f.runner->bufferedMessages(), 0u);
    const std::string id = submitPlate(f, "京E00001");
    EXPECT_EQ(f.service->get(id).status, ApplicationStatus::Submitted);

    // Time-to-live 0: never kept, as before; out of range: refused, nothing stored.
    message.ttlSeconds = 0;
    message.correlationKey = "京E00002";
    EXPECT_EQ(f.runner->publishMessage(message).outcome, Published::NoWait);
    message.ttlSeconds = -1;
    EXPECT_THROW(f.runner->publishMessage(message), std::invalid_argument);
    message.ttlSeconds = FlowRunner::maxMessageTtlSeconds + 1;
    EXPECT_THROW(f.runner->publishMessage(message), std::invalid_argument);
    EXPECT_EQ(test::countRows(*f.db, "flows_engine_messages"), 0);
    EXPECT_EQ(f.runner->expiredMessages(), 1u);
}

TEST(FlowMessagesTest, AMessageIdSeenBeforeIsADuplicateKeptOrDelivered) {
    RunnerFixture f(kGateWait);
    ASSERT_EQ(f.runner->publishMessage(registered("京D00001", "gate-42")).outcome, Published::Buffered);
    auto again = f.runner->publishMessage(registered("京D00001", "gate-42"));
    EXPECT_EQ(again.outcome, Published::Duplicate);
    EXPECT_EQ(again.previous, "buffered");
    EXPECT_EQ(test::countRows(*f.db, "flows_engine_messages"), 1);

    const std::string first = submitPlate(f, "京D00001");
    EXPECT_EQ(f.service->get(first).status, ApplicationStatus::Approved);
    const std::string second = submitPlate(f, "京D00001");
    again = f.runner->publishMessage(registered("京D00001", "gate-42"));
    EXPECT_EQ(again.outcome, Published::Duplicate);
    EXPECT_EQ(again.previous, "delivered");
    EXPECT_EQ(f.service->get(second).status, ApplicationStatus::Submitted) << "a duplicate moved a second wait";

    // Delivered at once with an id: the id is remembered in the same commit.
    auto live = f.runner->publishMessage(registered("京D00001", "gate-43"));
    EXPECT_EQ(live.outcome, Published::Delivered);
    EXPECT_EQ(f.service->get(second).status, ApplicationStatus::Approved);
    const std::string third = submitPlate(f, "京D00001");
    EXPECT_EQ(f.runner->publishMessage(registered("京D00001", "gate-43")).outcome, Published::Duplicate);
    EXPECT_EQ(f.service->get(third).status, ApplicationStatus::Submitted);
    EXPECT_EQ(completions(f, first) + completions(f, second) + completions(f, third), 2);
}

// A message and its wait racing each other: whichever commits first, the
// wait moves on exactly once and nothing stays kept.
TEST(FlowMessagesTest, AMessageRacingItsWaitIsTakenExactlyOnce) {
    RunnerFixture f(kGateWait);
    std::vector<std::string> ids(20);
    for (int n = 0; n < 20; ++n) {
        const std::string plate = "京R" + std::to_string(10000 + n);
        std::string failed;
        std::thread submitter([&] {
            try {
                ids[n] = submitPlate(f, plate);
            } catch (const std::exception& e) {
                failed = std::string("submit: ") + e.what();
            }
        });
        FlowRunner::Publication published;
        try {
            published = f.runner->publishMessage(registered(plate));
        } catch (const std::exception& e) {
            failed += std::string(" publish: ") + e.what();
        }
        submitter.join();
        ASSERT_EQ(failed, "") << plate;
        EXPECT_NE(published.outcome, Published::NoWait);
        EXPECT_EQ(f.service->get(ids[n]).status, ApplicationStatus::Approved) << plate;
        EXPECT_EQ(completions(f, ids[n]), 1) << plate;
    }
    Poco::Data::Session s = f.db->session();
    EXPECT_EQ(f.engineStore->keptMessages(s, std::numeric_limits<std::int64_t>::min()), 0u);
}

}  // namespace
}  // namespace hub::flows
