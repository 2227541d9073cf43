// Applications end to end: hubd with its SQLite file, the simulated student
// affairs system, and the reference event peers (the portal consumer and the
// approval engine) as real processes on loopback, over real HTTP and ZeroMQ.
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
#include <future>
#include <set>
#include <thread>

namespace fs = std::filesystem;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::hubdOptions;
using hub::test::parse;
using hub::test::TempDir;

namespace {

const std::string kSecret = "applications-test-secret-0123456789-abcdef";

std::string token(const std::string& subject) { return hub::test::token(kSecret, subject); }

std::string endpoint(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }

class ApplicationsTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::make_unique<TempDir>("applications-test");
        sim_ = std::make_unique<ChildProcess>(SIM_STUDENT_AFFAIRS_EXE,
                                              ChildProcess::Options{.args = {"--port", "0", "--port-file",
                                                                             dir_->file("sim.port")},
                                                                    .portFile = dir_->file("sim.port")});
        inboundPort_ = hub::test::freePort();
        enginePort_ = hub::test::freePort();
        portalPort_ = hub::test::freePort();
        // The peers make their key pairs at first start and wait for the hub's
        // public key, which hubd makes at its first start (beside its database).
        const std::string hubKey = dir_->file("var/hub-curve.pub");
        engine_ = std::make_unique<ChildProcess>(
            APPROVAL_ENGINE_EXE,
            ChildProcess::Options{.args = {"--config", dir_->write("engine.properties", "engine.rule.maxAmount = 10000\n"),
                                           "--listen", endpoint(enginePort_), "--hub", endpoint(inboundPort_),
                                           "--public-key", dir_->file("engine.pub"), "--secret-key",
                                           dir_->file("engine.key"), "--hub-public-key", hubKey}});
        portal_ = std::make_unique<ChildProcess>(
            PORTAL_CONSUMER_EXE,
            ChildProcess::Options{.args = {"--listen", endpoint(portalPort_), "--public-key", dir_->file("portal.pub"),
                                           "--secret-key", dir_->file("portal.key"), "--hub-public-key", hubKey}});
        for (const char* key : {"engine.pub", "portal.pub"})
            ASSERT_TRUE(waitUntil([&] { return fs::exists(dir_->file(key)); })) << "no " << key;
        fs::create_directories(dir_->file("plugins"));
        fs::copy(std::string(REFERENCE_PLUGINS_DIR) + "/student_affairs", dir_->file("plugins/student_affairs"),
                 fs::copy_options::recursive);
        // The shipped catalogue, plus an item its plugin operation handles
        // directly (the shipped certificate runs its flow); of the shipped
        // flows only the certificate's is deployed: the other items keep the
        // external approval engine's stand-in path these tests drive.
        fs::copy(CATALOG_DIR, dir_->file("catalog"), fs::copy_options::recursive);
        dir_->write("catalog/99-plugin-item.xml", R"xml(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <item id="certificate-by-plugin" category="undergraduate" department="academic-affairs" channel="online" audience="student" timeLimit="1">
    <name zh="在读证明（插件直办）" en="Enrolment certificate (by its plugin)"/>
    <handler><plugin system="student_affairs" operation="enrolment_certificate"/></handler>
    <form>
      <field id="student_id" type="string" required="true" maxLength="20" zh="学号" en="Student number"/>
      <field id="purpose" type="string" required="true" maxLength="50" zh="用途" en="Purpose"/>
    </form>
  </item>
</catalog>
)xml");
        fs::create_directories(dir_->file("flows"));
        fs::copy_file(std::string(FLOWS_DIR) + "/enrolment-certificate.bpmn", dir_->file("flows/enrolment-certificate.bpmn"));
        dir_->write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_->file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir_->file("var")) + R"(
  <catalog><dir>)" + dir_->file("catalog") + R"(</dir></catalog>
  <flows><dir>)" + dir_->file("flows") + R"(</dir></flows>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <plugins><dir>)" + dir_->file("plugins") + R"(</dir>
    <plugin name="student_affairs"><config><base_url>http://127.0.0.1:)" + std::to_string(sim_->port()) +
                                     R"(</base_url></config></plugin></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity><static>
    <person id="2023010001" name="张三" department="student-affairs" audience="student"/>
    <person id="2023010002" name="李四" department="student-affairs" audience="student"/>
    <person id="clerk.xsc" name="王老师" department="student-affairs" audience="staff" roles="dept:student-affairs:clerk"/>
    <person id="clerk.jwc" name="赵老师" department="academic-affairs" audience="staff" roles="dept:academic-affairs:clerk"/>
  </static></identity>
  <events>
    <consumers>
      <consumer><name>portal</name><endpoint>)" + endpoint(portalPort_) + R"(</endpoint>
        <backoffInitialMs>100</backoffInitialMs><backoffMaxMs>500</backoffMaxMs></consumer>
      <consumer><name>approval</name><endpoint>)" + endpoint(enginePort_) + R"(</endpoint><peer>engine-1</peer>
        <types>edu.campus.hub.approval.requested</types>
        <backoffInitialMs>100</backoffInitialMs><backoffMaxMs>500</backoffMaxMs></consumer>
    </consumers>
    <inbound><endpoint>)" + endpoint(inboundPort_) + R"(</endpoint></inbound>
    <peers>
      <peer name="engine-1"><publicKeyFile>)" + dir_->file("engine.pub") + R"(</publicKeyFile><sockets>inbound</sockets></peer>
      <peer name="portal"><publicKeyFile>)" + dir_->file("portal.pub") + R"(</publicKeyFile><sockets></sockets></peer>
    </peers>
  </events>
</hub>)");
        startHubd();
        ASSERT_TRUE(waitUntil([&] { return engine_->output().find("listening") != std::string::npos; }))
            << engine_->output();
        ASSERT_TRUE(waitUntil([&] { return portal_->output().find("listening") != std::string::npos; }))
            << portal_->output();
    }

    static bool waitUntil(const std::function<bool()>& condition) {
        return hub::test::waitUntil(condition, std::chrono::seconds(15), std::chrono::milliseconds(50));
    }

    void startHubd() {
        std::error_code ignored;
        fs::remove(dir_->file("hubd.port"), ignored);
        hubd_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(*dir_));
    }

    hub::test::HttpResponse request(const std::string& method, const std::string& path, const std::string& body = "",
                                    const std::string& subject = "2023010001",
                                    std::map<std::string, std::string> headers = {}) {
        headers["Authorization"] = "Bearer " + token(subject);
        return httpRequest(method, hubd_->url(path), body, headers);
    }

    // Polls until pred holds for the application, or gives up after ~10 s.
    Poco::JSON::Object::Ptr waitFor(const std::string& id, const std::function<bool(Poco::JSON::Object::Ptr)>& pred,
                                    const std::string& subject = "2023010001") {
        Poco::JSON::Object::Ptr last;
        hub::test::waitUntil(
            [&] {
                auto r = request("GET", "/api/v1/applications/" + id, "", subject);
                if (r.status != 200) return false;
                last = parse(r.body);
                return pred(last);
            },
            std::chrono::seconds(10), std::chrono::milliseconds(50));
        return last;
    }

    static std::string leaveForm() {
        return R"({"item_id":"student-leave","form":{"leave-type":"sick","from":"2026-12-01","to":"2026-12-02",)"
               R"("reason":"发烧，去校医院","phone":"13800000000"}})";
    }

    std::unique_ptr<TempDir> dir_;
    std::unique_ptr<ChildProcess> sim_, engine_, portal_, hubd_;
    int inboundPort_ = 0, enginePort_ = 0, portalPort_ = 0;
};

}  // namespace

TEST_F(ApplicationsTest, OnlineItemIsCompletedByItsPlugin) {
    auto r = request("POST", "/api/v1/applications",
                     R"({"item_id":"certificate-by-plugin","form":{"student_id":"2023010001","purpose":"visa"}})");
    ASSERT_EQ(r.status, 201) << r.body;
    auto app = parse(r.body);
    EXPECT_EQ(app->getValue<std::string>("status"), "completed");
    EXPECT_EQ(app->getObject("result")->getValue<std::string>("name"), "张三");
    EXPECT_FALSE(app->getValue<std::string>("due_date").empty());
    EXPECT_FALSE(app->getValue<bool>("overdue"));
    EXPECT_FALSE(r.header("ETag").empty());

    // Another student's certificate: the operation's access policy rejects it
    // before the plugin runs (a student gets only their own).
    r = request("POST", "/api/v1/applications",
                R"({"item_id":"certificate-by-plugin","form":{"student_id":"1999000000","purpose":"visa"}})");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(parse(r.body)->getValue<std::string>("status"), "rejected");
    EXPECT_NE(r.body.find("takes only the caller's own id as 'student_id'"), std::string::npos) << r.body;
}

// The shipped 在读证明 runs its automatic flow (config/flows/enrolment-certificate.bpmn):
// the submit waits for it to settle and answers with the certificate as the result.
TEST_F(ApplicationsTest, EnrolmentCertificateRunsItsFlowAndAnswersWithTheCertificate) {
    auto r = request("POST", "/api/v1/applications",
                     R"({"item_id":"enrolment-certificate","form":{"student_id":"2023010001","purpose":"visa"}})");
    ASSERT_EQ(r.status, 201) << r.body;
    auto app = parse(r.body);
    EXPECT_EQ(app->getValue<std::string>("status"), "completed") << r.body << hubd_->output();
    EXPECT_EQ(app->getValue<std::string>("handler"), "flow:enrolment-certificate");
    EXPECT_EQ(app->getObject("result")->getValue<std::string>("name"), "张三") << r.body;
    EXPECT_FALSE(app->getObject("result")->getValue<std::string>("certificate_no").empty()) << r.body;

    // Another student's: the lookup's access policy refuses it, the flow ends rejected.
    r = request("POST", "/api/v1/applications",
                R"({"item_id":"enrolment-certificate","form":{"student_id":"1999000000","purpose":"visa"}})");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(parse(r.body)->getValue<std::string>("status"), "rejected") << r.body;
    EXPECT_NE(r.body.find("只能开具本人的在读证明"), std::string::npos) << r.body;
}

TEST_F(ApplicationsTest, MissingMaterialsAreAllListedAtOnce) {
    auto r = request("POST", "/api/v1/applications",
                     R"({"item_id":"graduation-certificate-replacement","form":{"graduation-year":"soon"}})");
    ASSERT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    auto validation = parse(r.body)->getObject("validation");
    std::set<std::string> missing;
    auto list = validation->getArray("missingMaterials");
    for (unsigned i = 0; i < list->size(); ++i) missing.insert(list->getObject(i)->getValue<std::string>("id"));
    EXPECT_EQ(missing, (std::set<std::string>{"id-card", "photo", "police-report"}));
    EXPECT_GE(validation->getArray("problems")->size(), 4u);  // three materials and the bad year
    // Nothing was stored.
    auto mine = parse(request("GET", "/api/v1/applications").body);
    EXPECT_EQ(mine->getValue<int>("total"), 0);
}

TEST_F(ApplicationsTest, BadRequestsGetClearProblems) {
    EXPECT_EQ(request("POST", "/api/v1/applications", "{not json").status, 400);
    EXPECT_EQ(request("POST", "/api/v1/applications", R"({"form":{}})").status, 400);
    EXPECT_EQ(request("POST", "/api/v1/applications", R"({"item_id":"no-such-item"})").status, 404);
    EXPECT_EQ(request("POST", "/api/v1/applications", "{\"item_id\":\"student-leave\",\"x\":\"\xff\"}").status, 400);
    // Staff-only item for a student.
    EXPECT_EQ(request("POST", "/api/v1/applications", R"({"item_id":"staff-leave","form":{}})").status, 403);
    EXPECT_EQ(request("GET", "/api/v1/applications?status=flying").status, 400);
    EXPECT_EQ(request("GET", "/api/v1/applications?page=0").status, 400);
    EXPECT_EQ(request("GET", "/api/v1/applications/00000000-0000-0000-0000-000000000000").status, 404);
}

TEST_F(ApplicationsTest, IdempotencyKeyGivesExactlyOneApplicationUnderConcurrency) {
    std::vector<std::future<hub::test::HttpResponse>> calls;
    for (int i = 0; i < 16; ++i)
        calls.push_back(std::async(std::launch::async, [this] {
            return request("POST", "/api/v1/applications", leaveForm(), "2023010001", {{"Idempotency-Key", "leave-42"}});
        }));
    std::set<std::string> ids;
    int created = 0;
    for (auto& c : calls) {
        auto r = c.get();
        ASSERT_TRUE(r.status == 201 || r.status == 200) << r.status << " " << r.body;
        created += r.status == 201;
        ids.insert(parse(r.body)->getValue<std::string>("id"));
    }
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_EQ(created, 1);
    EXPECT_EQ(parse(request("GET", "/api/v1/applications").body)->getValue<int>("total"), 1);
    // Same key, different body: 409, and still one application.
    auto other = request("POST", "/api/v1/applications",
                         R"({"item_id":"student-leave","form":{"leave-type":"personal","from":"2026-12-01",)"
                         R"("to":"2026-12-03","reason":"回家","phone":"13800000000"}})",
                         "2023010001", {{"Idempotency-Key", "leave-42"}});
    EXPECT_EQ(other.status, 409) << other.body;
    EXPECT_EQ(parse(request("GET", "/api/v1/applications").body)->getValue<int>("total"), 1);
}

TEST_F(ApplicationsTest, ApprovalRoundTripThroughTheEngine) {
    auto r = request("POST", "/api/v1/applications", leaveForm());
    ASSERT_EQ(r.status, 201) << r.body;
    auto id = parse(r.body)->getValue<std::string>("id");
    EXPECT_EQ(parse(r.body)->getValue<std::string>("status"), "in_review");
    // The engine got approval.requested, decided (no amount: approve) and sent
    // approval.decided back; the hub applied it.
    auto app = waitFor(id, [](auto a) { return a->template getValue<std::string>("status") == "approved"; });
    ASSERT_TRUE(app);
    EXPECT_EQ(app->getValue<std::string>("status"), "approved") << hubd_->output();
    // The actor is the peer the engine's CURVE key is listed as in hub.xml.
    auto transitions = app->getArray("transitions");
    EXPECT_EQ(transitions->getObject(transitions->size() - 1)->getValue<std::string>("actor"),
              "approval-engine:engine-1");
    // The portal consumer printed the events of this application.
    waitUntil([&] { return portal_->output().find("application.status_changed") != std::string::npos; });
    EXPECT_NE(portal_->output().find(id), std::string::npos);
    EXPECT_NE(portal_->output().find("edu.campus.hub.application.submitted"), std::string::npos);
}

TEST_F(ApplicationsTest, OwnersAndDepartmentClerksOnly) {
    auto r = request("POST", "/api/v1/applications", leaveForm());
    ASSERT_EQ(r.status, 201);
    auto id = parse(r.body)->getValue<std::string>("id");
    EXPECT_EQ(request("GET", "/api/v1/applications/" + id, "", "2023010002").status, 403);  // another student
    EXPECT_EQ(request("GET", "/api/v1/applications/" + id, "", "clerk.jwc").status, 403);   // another department
    EXPECT_EQ(request("GET", "/api/v1/applications/" + id, "", "clerk.xsc").status, 200);   // its department
    EXPECT_EQ(request("GET", "/api/v1/applications?department=student-affairs", "", "2023010001").status, 403);
    auto dept = request("GET", "/api/v1/applications?department=student-affairs", "", "clerk.xsc");
    ASSERT_EQ(dept.status, 200);
    EXPECT_GE(parse(dept.body)->getValue<int>("total"), 1);
    EXPECT_EQ(request("POST", "/api/v1/applications/" + id + "/cancel", R"({"reason":"x"})", "2023010002").status, 403);
    EXPECT_EQ(request("POST", "/api/v1/applications/" + id + "/transitions", R"({"to":"approved"})", "2023010001").status,
              403);
}

TEST_F(ApplicationsTest, ClerkAsksForMoreAndTheApplicantSupplements) {
    // Stop the engine so the application waits in review for a person.
    engine_.reset();
    auto r = request("POST", "/api/v1/applications", leaveForm());
    ASSERT_EQ(r.status, 201);
    auto id = parse(r.body)->getValue<std::string>("id");
    auto ask = request("POST", "/api/v1/applications/" + id + "/transitions",
                       R"({"to":"needs_supplement","reason":"请补充目的地"})", "clerk.xsc");
    ASSERT_EQ(ask.status, 200) << ask.body;
    EXPECT_EQ(parse(ask.body)->getValue<std::string>("status"), "needs_supplement");
    // A stale ETag is refused.
    auto stale = request("POST", "/api/v1/applications/" + id + "/supplement", R"({"form":{"destination":"北京"}})",
                         "2023010001", {{"If-Match", "\"1\""}});
    EXPECT_EQ(stale.status, 412) << stale.body;
    auto more = request("POST", "/api/v1/applications/" + id + "/supplement", R"({"form":{"destination":"北京"}})");
    ASSERT_EQ(more.status, 200) << more.body;
    auto app = parse(more.body);
    EXPECT_EQ(app->getValue<std::string>("status"), "in_review");
    EXPECT_EQ(app->getObject("form")->getValue<std::string>("destination"), "北京");
    // Cancelled by the applicant; a cancelled application cannot be approved.
    EXPECT_EQ(request("POST", "/api/v1/applications/" + id + "/cancel", R"({"reason":"不去了"})").status, 200);
    EXPECT_EQ(request("POST", "/api/v1/applications/" + id + "/transitions", R"({"to":"approved"})", "clerk.xsc").status,
              409);
}

TEST_F(ApplicationsTest, RestartLosesNoApplication) {
    std::set<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        auto r = request("POST", "/api/v1/applications", leaveForm(), "2023010001",
                         {{"Idempotency-Key", "k" + std::to_string(i)}});
        ASSERT_EQ(r.status, 201);
        ids.insert(parse(r.body)->getValue<std::string>("id"));
    }
    hubd_->signal(SIGTERM);
    ASSERT_TRUE(hubd_->wait(std::chrono::seconds(15)).has_value());
    startHubd();
    auto list = parse(request("GET", "/api/v1/applications?pageSize=50").body);
    EXPECT_EQ(list->getValue<int>("total"), 5);
    std::set<std::string> after;
    auto items = list->getArray("items");
    for (unsigned i = 0; i < items->size(); ++i) after.insert(items->getObject(i)->getValue<std::string>("id"));
    EXPECT_EQ(after, ids);
    // A replay after the restart still finds the same application.
    auto replay = request("POST", "/api/v1/applications", leaveForm(), "2023010001", {{"Idempotency-Key", "k0"}});
    EXPECT_EQ(replay.status, 200);
    EXPECT_TRUE(ids.count(parse(replay.body)->getValue<std::string>("id")));
}
