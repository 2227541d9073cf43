// Issue 18, part B, through hubd's HTTP API with real peers on loopback: the
// trace of an application (every hop under one trace id: API calls, flow steps,
// plugin calls with the vendor's answer status, events delivered, decisions
// received) for the admin API and hubctl; personal data masked per event
// consumer (two consumers on real ZeroMQ sockets) and in problem details.
// The shipped enrolment-certificate flow runs the real student_affairs plugin
// against its simulator; the reference approval engine decides student leaves.
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
#include <functional>
#include <regex>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::hubdOptions;
using hub::test::parse;
using hub::test::TempDir;
using Poco::JSON::Object;

namespace {

const std::string kSecret = "personal-data-test-secret-0123456789-abcd";
const std::string kStudent = "2023010001";
const std::string kPortalTrace = "4bf92f3577b34da6a3ce929d0e0e4736";

std::string token(const std::string& subject) { return hub::test::token(kSecret, subject); }

std::string endpoint(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }

bool waitUntil(const std::function<bool()>& condition) {
    return hub::test::waitUntil(condition, std::chrono::seconds(20), std::chrono::milliseconds(50));
}

// The consumer's printed event (one JSON line) of `type` about application `id`.
Object::Ptr eventOf(const std::string& output, const std::string& type, const std::string& id) {
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] != '{') continue;
        auto event = parse(line);
        if (event->optValue<std::string>("type", "") == type &&
            event->optValue<std::string>("subject", "") == "applications/" + id)
            return event;
    }
    return nullptr;
}

class PersonalDataTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = std::make_unique<TempDir>("personal-data-test");
        sim_ = std::make_unique<ChildProcess>(
            SIM_STUDENT_AFFAIRS_EXE, ChildProcess::Options{.args = {"--port", "0", "--port-file", dir_->file("sim.port")},
                                                           .portFile = dir_->file("sim.port")});
        const int inbound = hub::test::freePort(), engine = hub::test::freePort(), portal = hub::test::freePort(),
                  records = hub::test::freePort();
        engine_ = std::make_unique<ChildProcess>(
            APPROVAL_ENGINE_EXE,
            ChildProcess::Options{.args = {"--config", dir_->write("engine.properties", "engine.rule.maxAmount = 10000\n"),
                                           "--listen", endpoint(engine), "--hub", endpoint(inbound), "--plaintext"},
                                  .readyLine = "listening"});
        portal_ = std::make_unique<ChildProcess>(
            PORTAL_CONSUMER_EXE,
            ChildProcess::Options{.args = {"--listen", endpoint(portal), "--plaintext"}, .readyLine = "listening"});
        records_ = std::make_unique<ChildProcess>(
            PORTAL_CONSUMER_EXE,
            ChildProcess::Options{.args = {"--listen", endpoint(records), "--plaintext"}, .readyLine = "listening"});
        fs::create_directories(dir_->file("flows"));
        fs::copy_file(fs::path(FLOWS_DIR) / "enrolment-certificate.bpmn", dir_->file("flows/enrolment-certificate.bpmn"));
        fs::create_directories(dir_->file("plugins"));
        fs::copy(std::string(REFERENCE_PLUGINS_DIR) + "/student_affairs", dir_->file("plugins/student_affairs"),
                 fs::copy_options::recursive);
        const std::string consumers =
            // The portal needs no personal data: everything personal masked (the default).
            "<consumer><name>portal</name><endpoint>" + endpoint(portal) + "</endpoint>" + kFast + "</consumer>" +
            // The records office's archive gets it all.
            "<consumer><name>records</name><endpoint>" + endpoint(records) + "</endpoint>" + kFast +
            "<personalData>*</personalData></consumer>" +
            // The approval engine: who applied, nothing else.
            "<consumer><name>approval</name><endpoint>" + endpoint(engine) + "</endpoint>" + kFast +
            "<types>edu.campus.hub.approval.requested</types><personalData>applicant</personalData></consumer>";
        dir_->write("hub.xml", hubXml(consumers, endpoint(inbound)));
        hubd_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(*dir_));
        dir_->write("admin.token", token("admin"));
    }

    static void TearDownTestSuite() {
        hubd_.reset();
        engine_.reset();
        portal_.reset();
        records_.reset();
        sim_.reset();
        dir_.reset();
    }

    static std::string hubXml(const std::string& consumers, const std::string& inbound) {
        return R"(<hub>
  <http><port>0</port><portFile>)" + dir_->file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir_->file("var")) + R"(
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <flows><dir>)" + dir_->file("flows") + R"(</dir></flows>
  <plugins><dir>)" + dir_->file("plugins") + R"(</dir><watchIntervalMs>0</watchIntervalMs>
    <plugin name="student_affairs"><config><base_url>http://127.0.0.1:)" + std::to_string(sim_->port()) +
               R"(</base_url></config></plugin></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity><static>
    <person id="2023010001" name="张三" department="student-affairs" audience="student"/>
    <person id="admin" name="Operator" department="it-office" audience="staff" roles="hub:admin"/>
  </static></identity>
  <events><curve><enabled>false</enabled></curve>
    <consumers>)" + consumers + R"(</consumers>
    <inbound><endpoint>)" + inbound + R"(</endpoint></inbound>
  </events>
</hub>)";
    }

    static hub::test::HttpResponse request(const std::string& method, const std::string& path,
                                           const std::string& body = "", const std::string& subject = kStudent,
                                           std::map<std::string, std::string> headers = {}) {
        headers["Authorization"] = "Bearer " + token(subject);
        return httpRequest(method, hubd_->url(path), body, headers);
    }

    static std::string submit(const std::string& body, std::map<std::string, std::string> headers = {}) {
        auto r = request("POST", "/api/v1/applications", body, kStudent, std::move(headers));
        EXPECT_EQ(r.status, 201) << r.body;
        return r.status == 201 ? parse(r.body)->getValue<std::string>("id") : std::string();
    }

    static std::string status(const std::string& id) {
        auto r = request("GET", "/api/v1/applications/" + id);
        return r.status == 200 ? parse(r.body)->getValue<std::string>("status") : std::string();
    }

    // The trace once `pred` holds for it (or the last one read).
    static Object::Ptr traceWhen(const std::string& id, const std::function<bool(const Object::Ptr&)>& pred) {
        Object::Ptr last;
        waitUntil([&] {
            auto r = request("GET", "/admin/applications/" + id + "/trace", "", "admin");
            if (r.status != 200) return false;
            last = parse(r.body);
            return pred(last);
        });
        return last;
    }

    // A hop of `kind` whose name and detail start with `name` and `detail`, and, if given, with `outcome`.
    static Object::Ptr hop(const Object::Ptr& trace, const std::string& kind, const std::string& name = "",
                           const std::string& outcome = "", const std::string& detail = "") {
        auto hops = trace ? trace->getArray("hops") : nullptr;
        for (std::size_t i = 0; hops && i < hops->size(); ++i) {
            auto h = hops->getObject(static_cast<unsigned>(i));
            if (h->getValue<std::string>("kind") == kind && h->getValue<std::string>("name").rfind(name, 0) == 0 &&
                h->getValue<std::string>("detail").rfind(detail, 0) == 0 &&
                (outcome.empty() || h->getValue<std::string>("outcome") == outcome))
                return h;
        }
        return nullptr;
    }

    static std::string leaveForm() {
        return R"({"item_id":"student-leave","form":{"leave-type":"sick","from":"2026-12-01","to":"2026-12-02",)"
               R"("reason":"发烧，去校医院","phone":"13800000000"}})";
    }

    static constexpr const char* kFast = "<backoffInitialMs>100</backoffInitialMs><backoffMaxMs>500</backoffMaxMs>";
    static inline std::unique_ptr<TempDir> dir_;
    static inline std::unique_ptr<ChildProcess> sim_, engine_, portal_, records_, hubd_;
};

}  // namespace

TEST_F(PersonalDataTest, EveryHopOfAFlowsApplicationIsListedUnderThePortalsTraceId) {
    const std::string id = submit(R"({"item_id":"graduate-enrolment-certificate","form":{"student_id":"2023010001",)"
                                  R"("language":"zh"}})",
                                  {{"traceparent", "00-" + kPortalTrace + "-00f067aa0ba902b7-01"}});
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(waitUntil([&] { return status(id) == "completed"; })) << hubd_->output();
    auto trace = traceWhen(id, [](const Object::Ptr& t) {
        return hop(t, "event", "edu.campus.hub.application.status_changed", "delivered", "portal ") &&
               hop(t, "event", "edu.campus.hub.application.submitted", "delivered", "records ");
    });
    ASSERT_TRUE(trace) << hubd_->output();
    EXPECT_EQ(trace->getValue<std::string>("trace_id"), kPortalTrace);

    auto submitted = hop(trace, "api", "POST /api/v1/applications");
    ASSERT_TRUE(submitted) << trace->getArray("hops")->size();
    EXPECT_NE(submitted->getValue<std::string>("detail").find("request "), std::string::npos);
    EXPECT_TRUE(hop(trace, "flow", "start enrolment-certificate"));
    EXPECT_TRUE(hop(trace, "flow", "call_service Task_LookupStudent"));
    auto call = hop(trace, "plugin", "student_affairs.get_student", "ok");
    ASSERT_TRUE(call);
    EXPECT_GE(call->getValue<int>("duration_ms"), 0);
    EXPECT_TRUE(hop(trace, "flow", "end_instance"));
    // Delivered to each consumer that wants it, each delivery a hop; the approval
    // engine wants none of this item's events.
    EXPECT_TRUE(hop(trace, "event", "edu.campus.hub.application.submitted", "delivered", "portal "));
    EXPECT_TRUE(hop(trace, "event", "edu.campus.hub.application.submitted", "delivered", "records "));
    EXPECT_FALSE(hop(trace, "event", "", "", "approval "));
    // Every hop under the one trace id, oldest first.
    auto hops = trace->getArray("hops");
    std::string previous;
    for (std::size_t i = 0; i < hops->size(); ++i) {
        auto h = hops->getObject(static_cast<unsigned>(i));
        EXPECT_EQ(h->getValue<std::string>("trace_id"), kPortalTrace) << h->getValue<std::string>("name");
        EXPECT_LE(previous, h->getValue<std::string>("at"));
        previous = h->getValue<std::string>("at");
    }

    // hubctl shows the same, as a table.
    ChildProcess hubctl(HUBCTL_EXE, ChildProcess::Options{.args = {"--url", hubd_->url(""), "--token-file",
                                                                   dir_->file("admin.token"), "applications", "trace",
                                                                   id}});
    EXPECT_EQ(hubctl.wait(std::chrono::seconds(20)), 0) << hubctl.output();
    EXPECT_NE(hubctl.output().find("trace " + kPortalTrace), std::string::npos) << hubctl.output();
    EXPECT_NE(hubctl.output().find("student_affairs.get_student"), std::string::npos) << hubctl.output();
}

TEST_F(PersonalDataTest, TheApprovalEnginesDecisionIsAHopOfTheApplication) {
    // A traceparent that is not W3C: the hub starts a trace of its own.
    const std::string id = submit(leaveForm(), {{"traceparent", "00-nothex-00f067aa0ba902b7-01"}});
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(waitUntil([&] { return status(id) == "approved"; })) << engine_->output() << hubd_->output();
    auto trace = traceWhen(id, [](const Object::Ptr& t) { return hop(t, "decision") != nullptr; });
    ASSERT_TRUE(trace);
    auto decision = hop(trace, "decision", "edu.campus.hub.approval.decided", "approved");
    ASSERT_TRUE(decision) << hubd_->output();
    EXPECT_NE(decision->getValue<std::string>("detail").find("approval-engine:"), std::string::npos);
    EXPECT_TRUE(std::regex_match(trace->getValue<std::string>("trace_id"), std::regex("[0-9a-f]{32}")));
    EXPECT_NE(trace->getValue<std::string>("trace_id"), kPortalTrace);
}

TEST_F(PersonalDataTest, TheTraceIsTheAdminsAndUnknownApplicationsHaveNone) {
    const std::string id = submit(leaveForm());
    ASSERT_FALSE(id.empty());
    auto own = request("GET", "/admin/applications/" + id + "/trace", "", kStudent);
    EXPECT_EQ(own.status, 403) << own.body;  // not even the applicant's own
    auto unknown = request("GET", "/admin/applications/no-such-application/trace", "", "admin");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.header("Content-Type"), "application/problem+json");
    EXPECT_NE(unknown.body.find("no-such-application"), std::string::npos);

    ChildProcess hubctl(HUBCTL_EXE, ChildProcess::Options{.args = {"--url", hubd_->url(""), "--token-file",
                                                                   dir_->file("admin.token"), "applications", "trace",
                                                                   "no-such-application"}});
    auto code = hubctl.wait(std::chrono::seconds(20));
    ASSERT_TRUE(code);
    EXPECT_NE(*code, 0) << hubctl.output();
}

TEST_F(PersonalDataTest, AConsumerThatNeedsNoPersonalDataGetsItMasked) {
    const std::string id = submit(leaveForm());
    ASSERT_FALSE(id.empty());
    const std::string type = "edu.campus.hub.application.submitted";
    ASSERT_TRUE(waitUntil([&] { return eventOf(portal_->output(), type, id) && eventOf(records_->output(), type, id); }))
        << portal_->output() << records_->output();

    // The archive, granted everything: the event as stored.
    auto clear = eventOf(records_->output(), type, id)->getObject("data");
    EXPECT_EQ(clear->getValue<std::string>("applicant"), kStudent);
    EXPECT_EQ(clear->getObject("form")->getValue<std::string>("phone"), "13800000000");
    EXPECT_EQ(clear->getObject("form")->getValue<std::string>("reason"), "发烧，去校医院");

    // The portal: the same event, its personal fields masked, the rest intact.
    const std::string line = portal_->output();
    auto masked = eventOf(line, type, id)->getObject("data");
    EXPECT_EQ(masked->getValue<std::string>("id"), id);
    EXPECT_EQ(masked->getValue<std::string>("item_id"), "student-leave");
    EXPECT_EQ(masked->getValue<std::string>("status"), clear->getValue<std::string>("status"));
    EXPECT_EQ(masked->getValue<std::string>("applicant"), "2***");
    EXPECT_EQ(masked->getObject("form")->getValue<std::string>("phone"), "1***");
    EXPECT_EQ(masked->getObject("form")->getValue<std::string>("reason"), "发***");
    EXPECT_EQ(line.find("13800000000"), std::string::npos);
    EXPECT_EQ(line.find("去校医院"), std::string::npos);

}

TEST_F(PersonalDataTest, AGrantOfAFieldThatIsNotPersonalStopsTheStart) {
    TempDir dir("personal-data-grant");
    const std::string consumers = "<consumer><name>portal</name><endpoint>tcp://127.0.0.1:1</endpoint>"
                                  "<personalData>applicant, telefone</personalData></consumer>";
    std::string xml = hubXml(consumers, "tcp://127.0.0.1:" + std::to_string(hub::test::freePort()));
    // Its own store and port file.
    for (const auto& [from, to] : {std::pair{dir_->file("var/hub.db"), dir.file("hub.db")},
                                   std::pair{dir_->file("hubd.port"), dir.file("hubd.port")}})
        xml.replace(xml.find(from), from.size(), to);
    ChildProcess hubd(HUBD_EXE, ChildProcess::Options{.args = {"--config", dir.write("hub.xml", xml)}});
    auto code = hubd.wait(std::chrono::seconds(20));
    ASSERT_TRUE(code) << hubd.output();
    EXPECT_NE(*code, 0);
    EXPECT_NE(hubd.output().find("personalData: 'telefone' is not one of events.masking.personalFields"),
              std::string::npos)
        << hubd.output();
}

TEST_F(PersonalDataTest, ProblemDetailsCarryNoPersonalData) {
    // A detail that quotes the client: a mobile number in it is masked...
    auto r = request("GET", "/api/v1/applications?status=13800138000");
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(r.body.find("13800138000"), std::string::npos) << r.body;
    EXPECT_NE(parse(r.body)->getValue<std::string>("detail").find("138****8000"), std::string::npos) << r.body;
    // ...and what is not personal is quoted as sent.
    r = request("GET", "/api/v1/applications?status=nope");
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_NE(parse(r.body)->getValue<std::string>("detail").find("'nope'"), std::string::npos) << r.body;
}
