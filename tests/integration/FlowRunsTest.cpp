// BPMN flows run by hubd (issue 14; docs/flows/bpmn.md, "In hubd"): the
// shipped enrolment-certificate flow, deployed from config/flows, driven end
// to end through the HTTP API with the real student_affairs plugin and its
// simulator; and a kill -9 while its service call is out, resumed on restart.
#include "hub/auth/TokenIssuer.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/TempDir.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <functional>

namespace fs = std::filesystem;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::TempDir;

namespace {

const std::string kSecret = "flow-runs-test-secret-0123456789-abcdefgh";

std::string token(const std::string& subject) {
    hub::auth::TokenClaims claims;
    claims.subject = subject;
    claims.audience = {"campushub"};
    claims.lifetime = Poco::Timespan(600, 0);
    return hub::auth::TokenIssuer::hs256(kSecret).issue(claims);
}

Poco::JSON::Object::Ptr parse(const std::string& body) {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

class FlowRunsTest : public ::testing::Test {
protected:
    void SetUp() override {
        sim_ = std::make_unique<ChildProcess>(
            SIM_STUDENT_AFFAIRS_EXE,
            ChildProcess::Options{.args = {"--port", "0", "--port-file", dir_.file("sim.port")},
                                  .portFile = dir_.file("sim.port")});
        fs::create_directories(dir_.file("plugins"));
        fs::copy(std::string(REFERENCE_PLUGINS_DIR) + "/student_affairs", dir_.file("plugins/student_affairs"),
                 fs::copy_options::recursive);
        dir_.write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_.file("hubd.port") + R"(</portFile><ioThreads>1</ioThreads></http>
  <store><path>)" + dir_.file("var/hub.db") + R"(</path></store>
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <flows><dir>)" + std::string(FLOWS_DIR) + R"(</dir></flows>
  <plugins><dir>)" + dir_.file("plugins") + R"(</dir><watchIntervalMs>0</watchIntervalMs>
    <plugin name="student_affairs"><config><base_url>http://127.0.0.1:)" + std::to_string(sim_->port()) +
                                     R"(</base_url></config></plugin></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity><static>
    <person id="2023010001" name="张三" department="graduate-school" audience="student"/>
    <person id="2020050033" name="陈静" department="graduate-school" audience="student"/>
  </static></identity>
</hub>)");
        startHubd();
    }

    void startHubd() {
        std::error_code ignored;
        fs::remove(dir_.file("hubd.port"), ignored);
        hubd_ = std::make_unique<ChildProcess>(
            HUBD_EXE, ChildProcess::Options{.args = {"--config", dir_.file("hub.xml")}, .portFile = dir_.file("hubd.port")});
    }

    hub::test::HttpResponse request(const std::string& method, const std::string& path, const std::string& body,
                                    const std::string& subject) {
        return httpRequest(method, hubd_->url(path), body, {{"Authorization", "Bearer " + token(subject)}});
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
    std::unique_ptr<ChildProcess> sim_, hubd_;
};

}  // namespace

TEST_F(FlowRunsTest, EnrolmentCertificateFlowRunsItsServiceTasksToTheEnd) {
    EXPECT_NE(hubd_->output().find("flow deployed: enrolment-certificate v1"), std::string::npos) << hubd_->output();

    const std::string id = submitCertificate("2023010001");
    auto app = waitForStatus(id, "2023010001", "completed");
    ASSERT_TRUE(app);
    EXPECT_EQ(app->getValue<std::string>("status"), "completed") << hubd_->output();
    EXPECT_EQ(statuses(app), (std::vector<std::string>{"submitted", "completed"}));

    // A graduated student: the gateway takes the default flow, no certificate.
    const std::string other = submitCertificate("2020050033");
    app = waitForStatus(other, "2020050033", "completed");
    ASSERT_TRUE(app);
    EXPECT_EQ(app->getValue<std::string>("status"), "completed") << hubd_->output();
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
