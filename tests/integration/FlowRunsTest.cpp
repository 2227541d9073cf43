// BPMN flows run by hubd (issue 14; docs/flows/bpmn.md, "In hubd"): the
// shipped enrolment-certificate flow, deployed from config/flows, driven end
// to end through the HTTP API with the real student_affairs plugin and its
// simulator; and a kill -9 while its service call is out, resumed on restart.
#include "SameStore.h"
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

#include <csignal>
#include <filesystem>
#include <functional>
#include <Poco/Data/Session.h>

#include <future>
#include <set>

namespace fs = std::filesystem;
using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::hubdOptions;
using hub::test::parse;
using hub::test::TempDir;

namespace {

const std::string kSecret = "flow-runs-test-secret-0123456789-abcdefgh";

std::string token(const std::string& subject) { return hub::test::token(kSecret, subject); }

// Two departments review in parallel; a return for supplement goes to the
// applicant and back to both reviews; both approvals end it approved.
const std::string kJointReview = R"(<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_joint" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="joint-review" name="联合审核" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="Merge"><bpmn:incoming>F1</bpmn:incoming><bpmn:incoming>F9</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:parallelGateway id="Fork"><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing><bpmn:outgoing>F4</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="Task_International" name="国际处审核">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="dept:international-office:clerk" />
        <zeebe:ioMapping><zeebe:output source="= decision" target="io_decision" /></zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>F3</bpmn:incoming><bpmn:outgoing>F5</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="Task_HR" name="人事处审核">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="dept:human-resources:clerk" />
        <zeebe:ioMapping><zeebe:output source="= decision" target="hr_decision" /></zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>F4</bpmn:incoming><bpmn:outgoing>F6</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:parallelGateway id="Join"><bpmn:incoming>F5</bpmn:incoming><bpmn:incoming>F6</bpmn:incoming><bpmn:outgoing>F7</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:exclusiveGateway id="Decide" default="F_Rejected"><bpmn:incoming>F7</bpmn:incoming><bpmn:outgoing>F_Approved</bpmn:outgoing><bpmn:outgoing>F_Return</bpmn:outgoing><bpmn:outgoing>F_Rejected</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="Task_Supplement" name="补充材料">
      <bpmn:extensionElements><zeebe:assignmentDefinition assignee="2023010001" /></bpmn:extensionElements>
      <bpmn:incoming>F_Return</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="End_Approved"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="approved" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F_Approved</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="End_Rejected"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="rejected" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F_Rejected</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Merge" />
    <bpmn:sequenceFlow id="F2" sourceRef="Merge" targetRef="Fork" />
    <bpmn:sequenceFlow id="F3" sourceRef="Fork" targetRef="Task_International" />
    <bpmn:sequenceFlow id="F4" sourceRef="Fork" targetRef="Task_HR" />
    <bpmn:sequenceFlow id="F5" sourceRef="Task_International" targetRef="Join" />
    <bpmn:sequenceFlow id="F6" sourceRef="Task_HR" targetRef="Join" />
    <bpmn:sequenceFlow id="F7" sourceRef="Join" targetRef="Decide" />
    <bpmn:sequenceFlow id="F_Approved" sourceRef="Decide" targetRef="End_Approved"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">= io_decision = "approve" and hr_decision = "approve"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F_Return" sourceRef="Decide" targetRef="Task_Supplement"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">= io_decision = "return_for_supplement" or hr_decision = "return_for_supplement"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F_Rejected" sourceRef="Decide" targetRef="End_Rejected" />
    <bpmn:sequenceFlow id="F9" sourceRef="Task_Supplement" targetRef="Merge" />
  </bpmn:process>
</bpmn:definitions>
)";

// A service task whose plugin is not loaded, with one attempt: an incident at once.
const std::string kBrokenCall = R"(<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Definitions_broken" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="broken-call" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Task_Call" name="调用"><bpmn:extensionElements><zeebe:taskDefinition type="nosuch.lookup" retries="1" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Call" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Call" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>
)";

// A one-second timer, then approved.
const std::string kTimerWait = R"(<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_timer" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="timer-wait" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="Wait"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="T1"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1S</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Wait" />
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>
)";

// A review with a one-second reminder (a non-interrupting timer): the task stays.
const std::string kReminder = R"(<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_reminder" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="reminder" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Review" name="审核">
      <bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="dept:international-office:clerk" /></bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="Remind" cancelActivity="false" attachedToRef="Review"><bpmn:outgoing>F3</bpmn:outgoing>
      <bpmn:timerEventDefinition id="T2"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1S</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="Reminded"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Review" />
    <bpmn:sequenceFlow id="F2" sourceRef="Review" targetRef="End" />
    <bpmn:sequenceFlow id="F3" sourceRef="Remind" targetRef="Reminded" />
  </bpmn:process>
</bpmn:definitions>
)";

const std::string kJointReviewItem = R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <item id="joint-review-check" category="international" department="international-office" channel="online" audience="student" timeLimit="3">
    <name zh="联合审核检查" en="Joint review check"/>
    <handler><flow id="joint-review"/></handler>
  </item>
  <item id="timer-check" category="international" department="international-office" channel="online" audience="student" timeLimit="3">
    <name zh="定时检查" en="Timer check"/>
    <handler><flow id="timer-wait"/></handler>
  </item>
  <item id="reminder-check" category="international" department="international-office" channel="online" audience="student" timeLimit="3">
    <name zh="提醒检查" en="Reminder check"/>
    <handler><flow id="reminder"/></handler>
  </item>
  <item id="incident-check" category="international" department="international-office" channel="online" audience="student" timeLimit="3">
    <name zh="事件检查" en="Incident check"/>
    <handler><flow id="broken-call"/></handler>
  </item>
</catalog>
)";

class FlowRunsTest : public ::testing::Test {
protected:
    void SetUp() override {
        sim_ = std::make_unique<ChildProcess>(
            SIM_STUDENT_AFFAIRS_EXE,
            ChildProcess::Options{.args = {"--port", "0", "--port-file", dir_.file("sim.port")},
                                  .portFile = dir_.file("sim.port")});
        fs::create_directories(dir_.file("flows"));
        fs::copy_file(fs::path(FLOWS_DIR) / "enrolment-certificate.bpmn", dir_.file("flows/enrolment-certificate.bpmn"));
        dir_.write("flows/joint-review.bpmn", kJointReview);
        dir_.write("flows/broken-call.bpmn", kBrokenCall);
        dir_.write("flows/timer-wait.bpmn", kTimerWait);
        dir_.write("flows/reminder.bpmn", kReminder);
        fs::copy(CATALOG_DIR, dir_.file("catalog"), fs::copy_options::recursive);
        dir_.write("catalog/13-joint-review.xml", kJointReviewItem);
        fs::create_directories(dir_.file("plugins"));
        fs::copy(std::string(REFERENCE_PLUGINS_DIR) + "/student_affairs", dir_.file("plugins/student_affairs"),
                 fs::copy_options::recursive);
        dir_.write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_.file("hubd.port") + R"(</portFile><ioThreads>1</ioThreads></http>
  )" + store_.xml() + R"(
  <catalog><dir>)" + dir_.file("catalog") + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <flows><dir>)" + dir_.file("flows") + R"(</dir><timerLeaseSeconds>3</timerLeaseSeconds></flows>
  <plugins><dir>)" + dir_.file("plugins") + R"(</dir><watchIntervalMs>0</watchIntervalMs>
    <plugin name="student_affairs"><config><base_url>http://127.0.0.1:)" + std::to_string(sim_->port()) +
                                     R"(</base_url></config></plugin></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity><static>
    <person id="2023010001" name="张三" department="graduate-school" audience="student"/>
    <person id="2020050033" name="陈静" department="graduate-school" audience="student"/>
    <person id="2099000001" name="查无此人" department="graduate-school" audience="student"/>
    <person id="io.1" name="国际处甲" department="international-office" audience="staff" roles="dept:international-office:clerk"/>
    <person id="io.2" name="国际处乙" department="international-office" audience="staff" roles="dept:international-office:clerk"/>
    <person id="hr.1" name="人事处" department="human-resources" audience="staff" roles="dept:human-resources:clerk"/>
    <person id="lib.1" name="图书馆" department="library" audience="staff" roles="dept:library:clerk"/>
    <person id="admin" name="Operator" audience="staff" roles="hub:admin"/>
  </static></identity>
</hub>)");
        startHubd();
    }

    void startHubd() {
        std::error_code ignored;
        fs::remove(dir_.file("hubd.port"), ignored);
        hubd_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(dir_));
    }

    hub::test::HttpResponse request(const std::string& method, const std::string& path, const std::string& body,
                                    const std::string& subject) {
        return httpRequest(method, hubd_->url(path), body, bearer(token(subject)));
    }

    std::string submitCertificate(const std::string& student) {
        auto r = request("POST", "/api/v1/applications",
                         R"({"item_id":"graduate-enrolment-certificate","form":{"student_id":")" + student +
                             R"(","language":"zh"}})",
                         student);
        EXPECT_EQ(r.status, 201) << r.body;
        return parse(r.body)->getValue<std::string>("id");
    }

    // The application once its status is `status` (or the last one seen).
    Poco::JSON::Object::Ptr waitForStatus(const std::string& id, const std::string& subject, const std::string& status) {
        Poco::JSON::Object::Ptr last;
        hub::test::waitUntil(
            [&] {
                auto r = request("GET", "/api/v1/applications/" + id, "", subject);
                if (r.status != 200) return false;
                last = parse(r.body);
                return last->getValue<std::string>("status") == status;
            },
            std::chrono::seconds(20), std::chrono::milliseconds(50));
        return last;
    }

    static std::vector<std::string> statuses(const Poco::JSON::Object::Ptr& application) {
        std::vector<std::string> out;
        auto transitions = application->getArray("transitions");
        for (std::size_t n = 0; transitions && n < transitions->size(); ++n)
            out.push_back(transitions->getObject(static_cast<unsigned>(n))->getValue<std::string>("to"));
        return out;
    }

    TempDir dir_{"flow-runs-test"};
    hub::test::SameStore store_{dir_.file("var")};
    std::unique_ptr<ChildProcess> sim_, hubd_;
};

}  // namespace

TEST_F(FlowRunsTest, EnrolmentCertificateFlowRunsItsServiceTasksToTheEnd) {
    EXPECT_NE(hubd_->output().find("flow deployed: enrolment-certificate v1"), std::string::npos) << hubd_->output();

    // The submit waits (flows.settleMs) for the automatic flow to settle: its
    // answer is the completed application, the certificate as its result.
    auto r = request("POST", "/api/v1/applications",
                     R"({"item_id":"graduate-enrolment-certificate","form":{"student_id":"2023010001","language":"zh"}})",
                     "2023010001");
    ASSERT_EQ(r.status, 201) << r.body;
    auto app = parse(r.body);
    EXPECT_EQ(app->getValue<std::string>("status"), "completed") << r.body << hubd_->output();
    EXPECT_EQ(statuses(app), (std::vector<std::string>{"submitted", "completed"}));
    auto result = app->getObject("result");
    ASSERT_TRUE(result) << r.body;
    EXPECT_FALSE(result->getValue<std::string>("certificate_no").empty()) << r.body;
    EXPECT_EQ(result->getValue<std::string>("student_id"), "2023010001");
    EXPECT_FALSE(result->getValue<std::string>("name").empty());
    const std::string id = app->getValue<std::string>("id");
    auto stored = parse(request("GET", "/api/v1/applications/" + id, "", "2023010001").body);
    EXPECT_EQ(stored->getObject("result")->getValue<std::string>("certificate_no"),
              result->getValue<std::string>("certificate_no"));

    // A graduated student: the gateway's default flow ends rejected, with the
    // end event's name as the reason, and no certificate.
    const std::string other = submitCertificate("2020050033");
    app = waitForStatus(other, "2020050033", "rejected");
    ASSERT_TRUE(app);
    EXPECT_EQ(app->getValue<std::string>("status"), "rejected") << hubd_->output();
    auto transitions = app->getArray("transitions");
    EXPECT_EQ(transitions->getObject(static_cast<unsigned>(transitions->size() - 1))->getValue<std::string>("reason"),
              "flow enrolment-certificate: 非在读，不予开具");
    EXPECT_TRUE(app->isNull("result")) << app->get("result").toString();

    // A student the vendor system does not know: the error boundary's end, rejected too.
    const std::string unknown = submitCertificate("2099000001");
    app = waitForStatus(unknown, "2099000001", "rejected");
    ASSERT_TRUE(app);
    transitions = app->getArray("transitions");
    EXPECT_EQ(transitions->getObject(static_cast<unsigned>(transitions->size() - 1))->getValue<std::string>("reason"),
              "flow enrolment-certificate: 查无此人");

    // Someone else's certificate: the lookup's access policy refuses the call
    // (permission), the second error boundary ends it rejected, no incident.
    r = request("POST", "/api/v1/applications",
                R"({"item_id":"graduate-enrolment-certificate","form":{"student_id":"2020050033","language":"zh"}})",
                "2023010001");
    ASSERT_EQ(r.status, 201) << r.body;
    app = parse(r.body);
    EXPECT_EQ(app->getValue<std::string>("status"), "rejected") << r.body;
    transitions = app->getArray("transitions");
    EXPECT_EQ(transitions->getObject(static_cast<unsigned>(transitions->size() - 1))->getValue<std::string>("reason"),
              "flow enrolment-certificate: 只能开具本人的在读证明");
    EXPECT_EQ(parse(request("GET", "/admin/flows/incidents", "", "admin").body)->getArray("items")->size(), 0u);
}

TEST_F(FlowRunsTest, AKill9WhileAServiceCallIsOutResumesOnRestartOnce) {
    // The vendor system hangs: the flow's first call stays out.
    sim_->signal(SIGSTOP);
    const std::string id = submitCertificate("2023010001");
    auto app = parse(request("GET", "/api/v1/applications/" + id, "", "2023010001").body);
    EXPECT_EQ(app->getValue<std::string>("status"), "submitted");

    hubd_->signal(SIGKILL);
    hubd_->wait(std::chrono::seconds(10));
    sim_->signal(SIGCONT);
    startHubd();

    app = waitForStatus(id, "2023010001", "completed");
    ASSERT_TRUE(app);
    EXPECT_EQ(app->getValue<std::string>("status"), "completed") << hubd_->output();
    // Each status once: nothing applied twice.
    EXPECT_EQ(statuses(app), (std::vector<std::string>{"submitted", "completed"}));
}

namespace {

// The ids of the open tasks `subject` sees.
std::vector<std::string> taskIds(const hub::test::HttpResponse& r) {
    std::vector<std::string> out;
    auto items = parse(r.body)->getArray("items");
    for (std::size_t n = 0; items && n < items->size(); ++n)
        out.push_back(items->getObject(static_cast<unsigned>(n))->getValue<std::string>("id"));
    return out;
}

}  // namespace

TEST_F(FlowRunsTest, ParallelReviewsByTwoDepartmentsWithAReturnForSupplementAndARace) {
    auto r = request("POST", "/api/v1/applications", R"({"item_id":"joint-review-check","form":{}})", "2023010001");
    ASSERT_EQ(r.status, 201) << r.body << hubd_->output();
    const std::string id = parse(r.body)->getValue<std::string>("id");
    EXPECT_EQ(parse(r.body)->getValue<std::string>("status"), "in_review") << r.body;

    // Each department sees its own task; the applicant and the library none.
    auto mine = [&](const std::string& who) { return taskIds(request("GET", "/api/v1/tasks", "", who)); };
    auto io = mine("io.1"), hr = mine("hr.1");
    ASSERT_EQ(io.size(), 1u);
    ASSERT_EQ(hr.size(), 1u);
    EXPECT_NE(io[0], hr[0]);
    EXPECT_TRUE(mine("lib.1").empty());
    EXPECT_TRUE(mine("2023010001").empty());
    EXPECT_EQ(request("POST", "/api/v1/tasks/" + io[0] + "/complete", R"({"decision":"approve"})", "lib.1").status,
              403);
    EXPECT_EQ(request("POST", "/api/v1/tasks/" + io[0] + "/complete", R"({"decision":"maybe"})", "io.1").status, 400);

    // Two international-office clerks complete the same task at once: one wins.
    auto complete = [&](const std::string& task, const std::string& who, const std::string& decision) {
        return request("POST", "/api/v1/tasks/" + task + "/complete",
                       R"({"decision":")" + decision + R"(","comment":"同意"})", who)
            .status;
    };
    auto first = std::async(std::launch::async, complete, io[0], "io.1", "approve");
    auto second = std::async(std::launch::async, complete, io[0], "io.2", "approve");
    std::multiset<int> answers{first.get(), second.get()};
    EXPECT_EQ(answers, (std::multiset<int>{200, 409}));
    EXPECT_TRUE(mine("io.1").empty());

    // HR returns it: after the join, the applicant has the supplement task.
    EXPECT_EQ(complete(hr[0], "hr.1", "return_for_supplement"), 200);
    auto app = parse(request("GET", "/api/v1/applications/" + id, "", "2023010001").body);
    EXPECT_EQ(app->getValue<std::string>("status"), "needs_supplement");
    auto supplement = mine("2023010001");
    ASSERT_EQ(supplement.size(), 1u);
    EXPECT_EQ(complete(supplement[0], "2023010001", "approve"), 200);

    // Both review again, each task once; both approve: approved.
    app = parse(request("GET", "/api/v1/applications/" + id, "", "2023010001").body);
    EXPECT_EQ(app->getValue<std::string>("status"), "in_review");
    io = mine("io.2");
    hr = mine("hr.1");
    ASSERT_EQ(io.size(), 1u);
    ASSERT_EQ(hr.size(), 1u);
    EXPECT_EQ(complete(io[0], "io.2", "approve"), 200);
    EXPECT_EQ(complete(hr[0], "hr.1", "approve"), 200);
    app = parse(request("GET", "/api/v1/applications/" + id, "", "2023010001").body);
    EXPECT_EQ(app->getValue<std::string>("status"), "approved");
    EXPECT_EQ(statuses(app),
              (std::vector<std::string>{"submitted", "in_review", "needs_supplement", "in_review", "approved"}));

    // Where it stands, for bpmn-js: the file, and what ran, with who and when.
    r = request("GET", "/api/v1/applications/" + id + "/flow", "", "2023010001");
    ASSERT_EQ(r.status, 200) << r.body;
    auto flow = parse(r.body);
    EXPECT_NE(flow->getValue<std::string>("xml").find("联合审核"), std::string::npos);
    EXPECT_EQ(flow->getValue<std::string>("status"), "completed");
    EXPECT_EQ(flow->getArray("active")->size(), 0u);
    const std::string completed = r.body.substr(r.body.find("\"completed\":["));
    for (const char* element : {"Task_International", "Task_HR", "Task_Supplement", "End_Approved"})
        EXPECT_NE(completed.find(element), std::string::npos) << element << " in " << r.body;
    EXPECT_NE(r.body.find("\"actor\":\"hr.1\""), std::string::npos) << r.body;
    EXPECT_EQ(request("GET", "/api/v1/applications/" + id + "/flow", "", "lib.1").status, 403);
    EXPECT_EQ(request("GET", "/api/v1/applications/" + id + "/flow", "", "io.1").status, 200);
}

TEST_F(FlowRunsTest, AServiceTaskThatFailsRaisesAnIncidentAnAdminSeesAndRetries) {
    auto flows = request("GET", "/admin/flows", "", "admin");
    ASSERT_EQ(flows.status, 200) << flows.body;
    EXPECT_NE(flows.body.find("\"id\":\"joint-review\",\"version\":1"), std::string::npos) << flows.body;
    EXPECT_NE(flows.body.find("plugin 'nosuch' is not loaded"), std::string::npos) << flows.body;

    auto r = request("POST", "/api/v1/applications", R"({"item_id":"incident-check","form":{}})", "2023010001");
    ASSERT_EQ(r.status, 201) << r.body;
    std::string incidents;
    ASSERT_TRUE(hub::test::waitUntil(
        [&] {
            incidents = request("GET", "/admin/flows/incidents", "", "admin").body;
            return incidents.find("Task_Call") != std::string::npos;
        },
        std::chrono::seconds(10)))
        << incidents;
    EXPECT_NE(incidents.find("nosuch"), std::string::npos) << incidents;
    EXPECT_EQ(request("GET", "/admin/flows/incidents", "", "2023010001").status, 403);
    auto items = parse(incidents)->getArray("items");
    ASSERT_EQ(items->size(), 1u);
    const std::string first = items->getObject(0)->getValue<std::string>("id");

    // The retry calls again; the plugin is still missing, so a new incident replaces it.
    EXPECT_EQ(request("POST", "/admin/flows/incidents/" + first + "/retry", "", "admin").status, 200);
    EXPECT_EQ(request("POST", "/admin/flows/incidents/" + first + "/retry", "", "admin").status, 404);
    ASSERT_TRUE(hub::test::waitUntil(
        [&] {
            incidents = request("GET", "/admin/flows/incidents", "", "admin").body;
            return incidents.find("Task_Call") != std::string::npos && incidents.find(first) == std::string::npos;
        },
        std::chrono::seconds(10)))
        << incidents;
}

TEST_F(FlowRunsTest, ATimerFiresFromTheSchedulerAndSurvivesAKill9) {
    auto r = request("POST", "/api/v1/applications", R"({"item_id":"timer-check","form":{}})", "2023010001");
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string id = parse(r.body)->getValue<std::string>("id");
    EXPECT_EQ(parse(r.body)->getValue<std::string>("status"), "submitted");
    // Killed before the timer is due: the restarted hub fires it (overdue by then or soon); on
    // PostgreSQL once the dead process's lease flows.timers has run out (timerLeaseSeconds, 3 s here).
    hubd_->signal(SIGKILL);
    hubd_->wait(std::chrono::seconds(10));
    startHubd();
    auto app = waitForStatus(id, "2023010001", "completed");
    ASSERT_TRUE(app);
    EXPECT_EQ(app->getValue<std::string>("status"), "completed") << hubd_->output();
    EXPECT_EQ(statuses(app), (std::vector<std::string>{"submitted", "completed"}));
}

// The reminder is an event in the outbox, committed with the timer's step, and
// the review task stays open for the clerks.
TEST_F(FlowRunsTest, AReminderTimerOnAReviewSendsAnEventAndLeavesTheTaskOpen) {
    auto r = request("POST", "/api/v1/applications", R"({"item_id":"reminder-check","form":{}})", "2023010001");
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string id = parse(r.body)->getValue<std::string>("id");
    hub::store::Database db(store_.options());  // hubd's store, either backend
    std::string payload;
    const bool reminded = hub::test::waitUntil(
        [&] {
            Poco::Data::Session session = db.session();
            std::vector<std::string> payloads;
            std::string subject = "applications/" + id;
            session << db.sql("SELECT payload FROM events_outbox WHERE type = 'edu.campus.hub.task.reminder' AND "
                              "subject = ?"),
                Poco::Data::Keywords::use(subject), Poco::Data::Keywords::into(payloads), Poco::Data::Keywords::now;
            if (payloads.empty()) return false;
            payload = payloads.front();
            return true;
        },
        std::chrono::seconds(20), std::chrono::milliseconds(100));
    ASSERT_TRUE(reminded) << hubd_->output();
    auto event = parse(payload);
    auto data = event->has("data") ? event->getObject("data") : event;
    EXPECT_EQ(data->getValue<std::string>("application_id"), id) << payload;
    EXPECT_EQ(data->getValue<std::string>("element_id"), "Review") << payload;
    EXPECT_EQ(data->getValue<std::string>("timer_id"), "Remind") << payload;
    EXPECT_EQ(data->getValue<std::string>("candidate_groups"), "dept:international-office:clerk") << payload;
    auto tasks = request("GET", "/api/v1/tasks", "", "io.1");
    ASSERT_EQ(tasks.status, 200) << tasks.body;
    EXPECT_NE(tasks.body.find(id), std::string::npos) << tasks.body;
    EXPECT_EQ(parse(request("GET", "/api/v1/applications/" + id, "", "2023010001").body)->getValue<std::string>("status"),
              "in_review");
}

TEST_F(FlowRunsTest, AKill9DuringParallelReviewsDuplicatesNoTask) {
    auto r = request("POST", "/api/v1/applications", R"({"item_id":"joint-review-check","form":{}})", "2023010001");
    ASSERT_EQ(r.status, 201) << r.body;
    auto mine = [&](const std::string& who) { return taskIds(request("GET", "/api/v1/tasks", "", who)); };
    auto io = mine("io.1");
    ASSERT_EQ(io.size(), 1u);
    ASSERT_EQ(request("POST", "/api/v1/tasks/" + io[0] + "/complete", R"({"decision":"approve"})", "io.1").status,
              200);

    // One branch waits at the join, the other at HR's task.
    hubd_->signal(SIGKILL);
    hubd_->wait(std::chrono::seconds(10));
    startHubd();
    EXPECT_TRUE(mine("io.1").empty());
    auto hr = mine("hr.1");
    ASSERT_EQ(hr.size(), 1u);
    EXPECT_EQ(mine("admin").size(), 1u) << "a task was duplicated or lost";
    ASSERT_EQ(request("POST", "/api/v1/tasks/" + hr[0] + "/complete", R"({"decision":"approve"})", "hr.1").status,
              200);
    const std::string id = parse(r.body)->getValue<std::string>("id");
    auto app = parse(request("GET", "/api/v1/applications/" + id, "", "2023010001").body);
    EXPECT_EQ(app->getValue<std::string>("status"), "approved");
}

TEST_F(FlowRunsTest, AWithdrawnApplicationTakesItsTasksOffTheClerksList) {
    auto r = request("POST", "/api/v1/applications", R"({"item_id":"joint-review-check","form":{}})", "2023010001");
    ASSERT_EQ(r.status, 201) << r.body;
    const std::string id = parse(r.body)->getValue<std::string>("id");
    ASSERT_EQ(taskIds(request("GET", "/api/v1/tasks", "", "admin")).size(), 2u);
    EXPECT_TRUE(taskIds(request("GET", "/api/v1/tasks?due=2000-01-01", "", "admin")).empty());
    EXPECT_EQ(taskIds(request("GET", "/api/v1/tasks?due=2999-12-31&item=joint-review-check", "", "admin")).size(), 2u);
    EXPECT_EQ(taskIds(request("GET", "/api/v1/tasks?department=library", "", "admin")).size(), 0u);
    EXPECT_EQ(request("GET", "/api/v1/tasks?due=tomorrow", "", "admin").status, 400);
    auto cancel = request("POST", "/api/v1/applications/" + id + "/cancel", R"({"reason":"不需要了"})", "2023010001");
    ASSERT_EQ(cancel.status, 200) << cancel.body;
    EXPECT_TRUE(taskIds(request("GET", "/api/v1/tasks", "", "admin")).empty());
    auto flow = parse(request("GET", "/api/v1/applications/" + id + "/flow", "", "2023010001").body);
    EXPECT_EQ(flow->getValue<std::string>("status"), "cancelled");
}
