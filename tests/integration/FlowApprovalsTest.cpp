// A flow's user task for the external approval engine, round trip over
// ZeroMQ with the real engine peer (approval.requested out through the
// outbox, approval.decided in through the relay, applied once), and a task
// form checked when a clerk completes the task (docs/flows/bpmn.md,
// "External approvals and messages", "Task forms").

#include "hub/test/StoreBackend.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/Json.h"
#include "hub/test/TempDir.h"
#include "hub/test/Tokens.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <gtest/gtest.h>

#include <filesystem>

namespace fs = std::filesystem;
using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::hubdOptions;
using hub::test::parse;
using hub::test::TempDir;

namespace {

const std::string kSecret = "flow-approvals-test-secret-0123456789-ab";

std::string token(const std::string& subject) { return hub::test::token(kSecret, subject); }

std::string endpoint(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }

const std::string kHeader = R"(<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D1" targetNamespace="http://bpmn.io/schema/bpmn">
)";

const std::string kEnds = R"(
    <bpmn:exclusiveGateway id="Decide" default="F_No"><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F_Yes</bpmn:outgoing><bpmn:outgoing>F_No</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="End_Yes"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="approved" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F_Yes</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="End_No"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="rejected" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F_No</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task" targetRef="Decide" />
    <bpmn:sequenceFlow id="F_Yes" sourceRef="Decide" targetRef="End_Yes"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">= decision = "approve"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F_No" sourceRef="Decide" targetRef="End_No" />
  </bpmn:process>
</bpmn:definitions>
)";

// The OA system decides; the amount goes with the request for its rule.
const std::string kExternal = kHeader + R"(  <bpmn:process id="oa-check" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task" name="OA 审批">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="oa:approvers" />
        <zeebe:ioMapping><zeebe:input source="= form.amount" target="amount" /></zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:userTask>)" + kEnds;

// A finance clerk's review with an embedded Camunda form.
const std::string kForm = kHeader + R"(  <bpmn:process id="form-check" isExecutable="true">
    <bpmn:extensionElements>
      <zeebe:userTaskForm id="UserTaskForm_Audit">{"components":[{"type":"textfield","key":"opinion","label":"审核意见","validate":{"required":true,"maxLength":20}},{"type":"number","key":"approved_amount","label":"核定金额","validate":{"min":0,"max":50000}},{"type":"select","key":"channel","label":"支付方式","values":[{"label":"转账","value":"transfer"},{"label":"公务卡","value":"card"}]}],"type":"default"}</zeebe:userTaskForm>
    </bpmn:extensionElements>
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task" name="财务审核">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="dept:finance:clerk" />
        <zeebe:formDefinition formKey="camunda-forms:bpmn:UserTaskForm_Audit" />
      </bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:userTask>)" + kEnds;

const std::string kItems = R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <item id="oa-check" category="finance-assets" department="finance" channel="online" audience="teacher" timeLimit="3">
    <name zh="OA 审批检查" en="OA approval check"/>
    <handler><flow id="oa-check"/></handler>
    <form><field id="amount" type="number" required="true" min="0" max="1000000" zh="金额" en="Amount"/></form>
  </item>
  <item id="form-check" category="finance-assets" department="finance" channel="online" audience="teacher" timeLimit="3">
    <name zh="表单检查" en="Form check"/>
    <handler><flow id="form-check"/></handler>
  </item>
</catalog>
)";

class FlowApprovalsTest : public ::testing::Test {
protected:
    void SetUp() override {
        inboundPort_ = hub::test::freePort();
        enginePort_ = hub::test::freePort();
        const std::string hubKey = dir_.file("var/hub-curve.pub");
        engine_ = std::make_unique<ChildProcess>(
            APPROVAL_ENGINE_EXE,
            ChildProcess::Options{.args = {"--config", dir_.write("engine.properties", "engine.rule.maxAmount = 10000\n"),
                                           "--listen", endpoint(enginePort_), "--hub", endpoint(inboundPort_),
                                           "--public-key", dir_.file("engine.pub"), "--secret-key",
                                           dir_.file("engine.key"), "--hub-public-key", hubKey}});
        ASSERT_TRUE(hub::test::waitUntil([&] { return fs::exists(dir_.file("engine.pub")); }, std::chrono::seconds(15)));
        fs::create_directories(dir_.file("flows"));
        dir_.write("flows/oa-check.bpmn", kExternal);
        dir_.write("flows/form-check.bpmn", kForm);
        fs::copy(CATALOG_DIR, dir_.file("catalog"), fs::copy_options::recursive);
        dir_.write("catalog/13-flow-approvals.xml", kItems);
        dir_.write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_.file("hubd.port") + R"(</portFile><ioThreads>1</ioThreads></http>
  )" + hub::test::storeXml(dir_.file("var")) + R"(
  <catalog><dir>)" + dir_.file("catalog") + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <flows><dir>)" + dir_.file("flows") + R"(</dir><externalGroups>oa:approvers</externalGroups></flows>
  <plugins><dir>)" + dir_.file("plugins") + R"(</dir><watchIntervalMs>0</watchIntervalMs></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity><static>
    <person id="t.wang" name="王老师" department="physics" audience="teacher"/>
    <person id="fin.1" name="财务处" department="finance" audience="staff" roles="dept:finance:clerk"/>
    <person id="admin" name="Operator" audience="staff" roles="hub:admin"/>
  </static></identity>
  <events>
    <consumers>
      <consumer><name>approval</name><endpoint>)" + endpoint(enginePort_) + R"(</endpoint><peer>engine-1</peer>
        <types>edu.campus.hub.approval.requested</types>
        <backoffInitialMs>100</backoffInitialMs><backoffMaxMs>500</backoffMaxMs></consumer>
    </consumers>
    <inbound><endpoint>)" + endpoint(inboundPort_) + R"(</endpoint></inbound>
    <peers>
      <peer name="engine-1"><publicKeyFile>)" + dir_.file("engine.pub") + R"(</publicKeyFile><sockets>inbound</sockets></peer>
    </peers>
  </events>
</hub>)");
        fs::create_directories(dir_.file("plugins"));
        hubd_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(dir_));
        ASSERT_TRUE(hub::test::waitUntil([&] { return engine_->output().find("listening") != std::string::npos; },
                                         std::chrono::seconds(15)))
            << engine_->output();
    }

    hub::test::HttpResponse request(const std::string& method, const std::string& path, const std::string& body,
                                    const std::string& subject) {
        return httpRequest(method, hubd_->url(path), body, bearer(token(subject)));
    }

    Poco::JSON::Object::Ptr waitForStatus(const std::string& id, const std::string& status) {
        Poco::JSON::Object::Ptr last;
        hub::test::waitUntil(
            [&] {
                auto r = request("GET", "/api/v1/applications/" + id, "", "t.wang");
                if (r.status != 200) return false;
                last = parse(r.body);
                return last->getValue<std::string>("status") == status;
            },
            std::chrono::seconds(20), std::chrono::milliseconds(50));
        return last;
    }

    TempDir dir_{"flow-approvals-test"};
    int inboundPort_ = 0, enginePort_ = 0;
    std::unique_ptr<ChildProcess> engine_, hubd_;
};

}  // namespace

TEST_F(FlowApprovalsTest, TheExternalEngineDecidesAFlowsTaskOverZeroMqOnce) {
    auto r = request("POST", "/api/v1/applications", R"({"item_id":"oa-check","form":{"amount":500}})", "t.wang");
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string small = parse(r.body)->getValue<std::string>("id");
    r = request("POST", "/api/v1/applications", R"({"item_id":"oa-check","form":{"amount":20000}})", "t.wang");
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string large = parse(r.body)->getValue<std::string>("id");

    // The engine's rule: approve unless amount > 10000 (the task's input mapping).
    auto app = waitForStatus(small, "approved");
    ASSERT_TRUE(app);
    EXPECT_EQ(app->getValue<std::string>("status"), "approved") << hubd_->output() << engine_->output();
    app = waitForStatus(large, "rejected");
    ASSERT_TRUE(app);
    EXPECT_EQ(app->getValue<std::string>("status"), "rejected") << hubd_->output() << engine_->output();

    // The task was completed once, by the engine as its CURVE peer.
    auto flow = request("GET", "/api/v1/applications/" + small + "/flow", "", "t.wang").body;
    EXPECT_NE(flow.find(R"("element_id":"Task","event":"completed","actor":"approval-engine:engine-1")"),
              std::string::npos)
        << flow;
    std::size_t completions = 0;
    for (auto at = flow.find(R"("element_id":"Task","event":"completed")"); at != std::string::npos;
         at = flow.find(R"("element_id":"Task","event":"completed")", at + 1))
        ++completions;
    EXPECT_EQ(completions, 1u);
    // Nothing of it is on a clerk's list any more.
    EXPECT_EQ(parse(request("GET", "/api/v1/tasks", "", "admin").body)->getValue<int>("total"), 0);
}

TEST_F(FlowApprovalsTest, ATaskFormIsCheckedWhenTheClerkCompletesIt) {
    auto r = request("POST", "/api/v1/applications", R"({"item_id":"form-check","form":{}})", "t.wang");
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string id = parse(r.body)->getValue<std::string>("id");
    auto items = parse(request("GET", "/api/v1/tasks", "", "fin.1").body)->getArray("items");
    ASSERT_EQ(items->size(), 1u);
    const std::string task = items->getObject(0)->getValue<std::string>("id");

    // Every field that does not fit, named, at once; nothing moves.
    r = request("POST", "/api/v1/tasks/" + task + "/complete",
                R"({"decision":"approve","fields":{"approved_amount":"很多","channel":"cash","note":1}})", "fin.1");
    ASSERT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    auto problem = parse(r.body);
    EXPECT_EQ(problem->getValue<std::string>("type"), "urn:campushub:problem:task-form-invalid");
    std::vector<std::string> fields;
    auto errors = problem->getArray("errors");
    for (std::size_t n = 0; errors && n < errors->size(); ++n) {
        auto e = errors->getObject(static_cast<unsigned>(n));
        fields.push_back(e->getValue<std::string>("field") + ":" + e->getValue<std::string>("code"));
    }
    EXPECT_EQ(fields, (std::vector<std::string>{"opinion:required", "approved_amount:type", "channel:enum",
                                                "note:unknown"}));
    EXPECT_NE(problem->getValue<std::string>("detail").find("审核意见 (opinion): is required"), std::string::npos);
    // Hostile: a huge opinion, a body that is not UTF-8.
    r = request("POST", "/api/v1/tasks/" + task + "/complete",
                R"({"decision":"approve","fields":{"opinion":")" + std::string(300, 'x') + R"("}})", "fin.1");
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(request("POST", "/api/v1/tasks/" + task + "/complete", "{\"decision\":\"approve\",\"x\":\"\xff\"}",
                      "fin.1")
                  .status,
              400);
    EXPECT_EQ(parse(request("GET", "/api/v1/applications/" + id, "", "t.wang").body)->getValue<std::string>("status"),
              "in_review");

    r = request("POST", "/api/v1/tasks/" + task + "/complete",
                R"({"decision":"approve","fields":{"opinion":"同意报销","approved_amount":1200,"channel":"card"}})",
                "fin.1");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(waitForStatus(id, "approved")->getValue<std::string>("status"), "approved");
}

// A clerk's decision by hand (POST .../transitions) ends the flow: its task
// leaves the lists and the engine's later answer moves nothing.
TEST_F(FlowApprovalsTest, ADecisionByHandEndsTheFlowAndItsTasks) {
    auto r = request("POST", "/api/v1/applications", R"({"item_id":"form-check","form":{}})", "t.wang");
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string id = parse(r.body)->getValue<std::string>("id");
    r = request("POST", "/api/v1/applications/" + id + "/transitions", R"({"to":"rejected","reason":"重复申请"})",
                "fin.1");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(parse(request("GET", "/api/v1/tasks", "", "fin.1").body)->getValue<int>("total"), 0);
    auto flow = parse(request("GET", "/api/v1/applications/" + id + "/flow", "", "t.wang").body);
    EXPECT_EQ(flow->getValue<std::string>("status"), "terminated");
    EXPECT_EQ(parse(request("GET", "/api/v1/applications/" + id, "", "t.wang").body)->getValue<std::string>("status"),
              "rejected");
}
