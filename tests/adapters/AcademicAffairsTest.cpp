// The academic affairs adapter end to end: hub-sim-academic-affairs (SOAP 1.1,
// WS-Security) and hubd as real processes, every call through hubd's HTTP API.
#include "AdapterHub.h"

#include "hub/test/Eventually.h"

#include <gtest/gtest.h>

#include <future>
#include <set>

using hub::test::ChildProcess;
using hub::test::HttpResponse;
using hub::test::httpRequest;
using hub::test::TempDir;
using hub::test::adapters::AdapterHub;
using hub::test::adapters::parse;

namespace {

const std::string kStudent = "2023010001";  // 张三
const std::string kClerk = "clerk.jwc";

struct Options {
    std::string passwordType = "digest";  // the plugin's
    std::string simPasswordType = "any";
    std::string password = "jwxt-secret";  // what the hub holds
    std::string endpoint;                  // default: the simulator's
    int timeoutMs = 3000;
};

class AcademicAffairs : public ::testing::Test {
protected:
    void start(const Options& o = {}) {
        sim_ = std::make_unique<ChildProcess>(
            HUB_SIM_ACADEMIC_AFFAIRS,
            ChildProcess::Options{.args = {"--port", "0", "--port-file", dir_.file("sim.port"), "--threads", "32", "--username",
                                           "jwxt-hub", "--password", "jwxt-secret", "--password-type",
                                           o.simPasswordType},
                                  .portFile = dir_.file("sim.port")});
        dir_.write("jwxt.password", o.password + "\n");
        const std::string endpoint = o.endpoint.empty() ? sim_->url("/services/AcademicService") : o.endpoint;
        AdapterHub::Setup setup;
        setup.plugins = {"academic_affairs"};
        setup.pluginsXml = "<plugin name=\"academic_affairs\"><timeoutMs>" + std::to_string(o.timeoutMs) +
                           "</timeoutMs><execution>loop</execution><concurrency>32</concurrency>"
                           "<failureThreshold>100000</failureThreshold><config><endpoint>" + endpoint +
                           "</endpoint><username>jwxt-hub</username><password_file>" + dir_.file("jwxt.password") +
                           "</password_file><password_type>" + o.passwordType + "</password_type></config></plugin>";
        setup.peopleXml = "<person id=\"2023010001\" name=\"张三\" audience=\"student\"/>"
                          "<person id=\"2022020015\" name=\"王小明\" audience=\"student\"/>"
                          "<person id=\"clerk.jwc\" name=\"教务处\" audience=\"staff\" roles=\"dept:academic-affairs:clerk\"/>";
        hub_ = std::make_unique<AdapterHub>(dir_, setup);
    }

    HttpResponse call(const std::string& operation, const std::string& body, const std::string& as = kClerk,
                      const std::string& idempotencyKey = {}) {
        return hub_->call(as, "academic_affairs", operation, body, 20000, idempotencyKey);
    }

    void mode(const std::string& json) {
        auto r = httpRequest("POST", sim_->url("/admin/mode"), json);
        ASSERT_EQ(r.status, 200) << r.body;
    }

    long stat(const std::string& name) {
        return parse(httpRequest("GET", sim_->url("/admin/stats")).body)->getValue<long>(name);
    }

    static void expectProblem(const HttpResponse& r, int status, const std::string& detailPart) {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << r.body;
        if (r.header("Content-Type") == "application/problem+json") {
            EXPECT_NE(parse(r.body)->optValue<std::string>("detail", "").find(detailPart), std::string::npos) << r.body;
        }
    }

    TempDir dir_{"academic-affairs-test"};
    std::unique_ptr<ChildProcess> sim_;
    std::unique_ptr<AdapterHub> hub_;
};

void expectZhangSansTranscript(const HttpResponse& r) {
    ASSERT_EQ(r.status, 200) << r.body;
    auto t = parse(r.body);
    EXPECT_EQ(t->getValue<std::string>("student_id"), kStudent);
    EXPECT_EQ(t->getValue<std::string>("name"), "张三");
    EXPECT_EQ(t->getValue<std::string>("major"), "软件工程");
    auto records = t->getArray("records");
    ASSERT_EQ(records->size(), 3u) << r.body;
    EXPECT_EQ(records->getObject(1)->getValue<std::string>("course_name"), "高等数学（上）");
    EXPECT_EQ(records->getObject(1)->getValue<double>("credit"), 5.0);
    EXPECT_EQ(records->getObject(2)->getValue<std::string>("score"), "优秀");
    EXPECT_GT(t->getValue<double>("gpa"), 3.0);
}

}  // namespace

// The student reads their own transcript (PasswordDigest), in UTF-8 and in GBK:
// the hub's answer is the same UTF-8 JSON either way.
TEST_F(AcademicAffairs, ReadsATranscriptInUtf8AndGbk) {
    start();
    const std::string body = R"({"student_id":"2023010001"})";
    auto utf8 = call("get_transcript", body, kStudent);
    expectZhangSansTranscript(utf8);
    mode(R"({"encoding":"gbk"})");
    auto gbk = call("get_transcript", body, kStudent);
    expectZhangSansTranscript(gbk);
    EXPECT_EQ(gbk.body, utf8.body);
    // The hub checked the student may read only their own record; the vendor never saw this.
    const long before = stat("requests");
    EXPECT_EQ(call("get_transcript", R"({"student_id":"2022020015"})", kStudent).status, 403);
    EXPECT_EQ(stat("requests"), before);
    EXPECT_EQ(stat("auth_failures"), 0);
}

TEST_F(AcademicAffairs, ListsCourseRecordsAndRegistersWithPasswordText) {
    start({.passwordType = "text", .simPasswordType = "text"});
    auto records = call("get_course_records", R"({"student_id":"2023010001"})");
    ASSERT_EQ(records.status, 200) << records.body;
    const auto before = parse(records.body)->getArray("courses")->size();

    auto r = call("register_course", R"({"student_id":"2023010001","course_id":"CS201"})", kClerk, "k1");
    ASSERT_EQ(r.status, 200) << r.body;
    auto reg = parse(r.body);
    EXPECT_EQ(reg->getValue<std::string>("course_id"), "CS201");
    EXPECT_FALSE(reg->getValue<bool>("replayed"));
    EXPECT_EQ(stat("registrations"), 1);

    auto after = parse(call("get_course_records", R"({"student_id":"2023010001","term":"2024-2025-1"})").body);
    ASSERT_EQ(after->getArray("courses")->size(), 1u);
    EXPECT_EQ(after->getArray("courses")->getObject(0)->getValue<std::string>("course_name"), "操作系统");
    EXPECT_EQ(after->getArray("courses")->getObject(0)->getValue<std::string>("status"), "registered");
    EXPECT_EQ(parse(call("get_course_records", R"({"student_id":"2023010001"})").body)->getArray("courses")->size(),
              before + 1);
}

// Each fault the system answers with, and the status the portal gets.
TEST_F(AcademicAffairs, MapsEachVendorFaultToItsStatus) {
    start();
    expectProblem(call("get_transcript", R"({"student_id":"2099999999"})"), 404, "Client.StudentNotFound");
    expectProblem(call("register_course", R"({"student_id":"2023010001","course_id":"XX999"})"), 404,
                  "Client.CourseNotFound");
    ASSERT_EQ(call("register_course", R"({"student_id":"2023010001","course_id":"HI101"})").status, 200);
    expectProblem(call("register_course", R"({"student_id":"2022020015","course_id":"HI101"})"), 409,
                  "Client.CourseFull");
    expectProblem(call("register_course", R"({"student_id":"2023010001","course_id":"HI101"})"), 409,
                  "Client.AlreadyRegistered");
    // The faultstring is the system's own words, in Chinese, through to the portal.
    expectProblem(call("get_transcript", R"({"student_id":"2099999999"})"), 404, "学号不存在");
    // Input the system would refuse never reaches it.
    const long before = stat("requests");
    expectProblem(call("get_transcript", R"({"student_id":"2023<010001"})"), 400, "student_id");
    expectProblem(call("get_transcript", R"({"student":"2023010001"})"), 400, "student_id");
    EXPECT_EQ(stat("requests"), before);

    mode(R"({"mode":"server_fault"})");
    expectProblem(call("get_transcript", R"({"student_id":"2023010001"})"), 502, "ORA-00060");
    mode(R"({"mode":"maintenance"})");
    expectProblem(call("get_transcript", R"({"student_id":"2023010001"})"), 503, "Server.Maintenance");
    mode(R"({"mode":"html"})");
    expectProblem(call("get_transcript", R"({"student_id":"2023010001"})"), 503, "HTTP 503");
}

// A password the system does not accept: the sim counts the refused token, the
// portal gets a gateway error that points the operator at hub.xml.
TEST_F(AcademicAffairs, RefusedCredentialsAreAGatewayError) {
    start({.password = "wrong"});
    expectProblem(call("get_transcript", R"({"student_id":"2023010001"})"), 502, "password_file");
    EXPECT_EQ(stat("auth_failures"), 1);
}

TEST_F(AcademicAffairs, PasswordTextRefusedWhereOnlyDigestIsAccepted) {
    start({.passwordType = "text", .simPasswordType = "digest"});
    expectProblem(call("get_transcript", R"({"student_id":"2023010001"})"), 502, "FailedAuthentication");
}

TEST_F(AcademicAffairs, VendorDownIs503) {
    // A port nothing listens on: taken from a simulator that is then stopped.
    TempDir other("academic-affairs-down");
    std::string endpoint;
    {
        ChildProcess gone(HUB_SIM_ACADEMIC_AFFAIRS,
                          {.args = {"--port", "0", "--port-file", other.file("port")}, .portFile = other.file("port")});
        endpoint = gone.url("/services/AcademicService");
    }
    start({.endpoint = endpoint});
    expectProblem(call("get_transcript", R"({"student_id":"2023010001"})"), 503, "");
}

// Past the call's deadline the portal gets 504, and a slow system does not hold the
// next calls once it is quick again.
TEST_F(AcademicAffairs, SlowVendorPastTheDeadlineIs504) {
    start({.timeoutMs = 800});
    mode(R"({"mode":"slow","delay_ms":3000})");
    expectProblem(call("get_transcript", R"({"student_id":"2023010001"})"), 504, "");
    mode(R"({"mode":"none"})");
    EXPECT_EQ(call("get_transcript", R"({"student_id":"2023010001"})").status, 200);
}

TEST_F(AcademicAffairs, MalformedAnswersAreGatewayErrors) {
    start();
    for (const char* broken : {"bad_xml", "truncated", "wrong_encoding"}) {
        SCOPED_TRACE(broken);
        mode(std::string(R"({"mode":")") + broken + "\"}");
        auto r = call("get_transcript", R"({"student_id":"2023010001"})");
        expectProblem(r, 503, "academic");
        EXPECT_NE(parse(r.body)->optValue<std::string>("detail", "").find("XML"), std::string::npos) << r.body;
    }
    mode(R"({"mode":"none"})");
    EXPECT_EQ(call("get_transcript", R"({"student_id":"2023010001"})").status, 200);
}

// Retries with one idempotency key register once: 24 at the same time, then a
// retry after a call that timed out while the system still wrote it.
TEST_F(AcademicAffairs, RetryStormRegistersOnce) {
    start({.timeoutMs = 2000});
    const std::string body = R"({"student_id":"2023010001","course_id":"CS301"})";
    std::vector<std::future<HttpResponse>> calls;
    for (int i = 0; i < 24; ++i)
        calls.push_back(
            std::async(std::launch::async, [&] { return call("register_course", body, kClerk, "storm-1"); }));
    // The hub keeps the key (CallKeys): one call reaches the plugin; a retry
    // while it is in flight gets 409 with Retry-After, one after it the stored
    // answer (Idempotent-Replayed), on whichever hub of the database it lands.
    std::set<std::string> ids;
    int inFlight = 0;
    for (auto& f : calls) {
        HttpResponse r = f.get();
        if (r.status == 409) {
            EXPECT_EQ(r.header("Retry-After"), "1") << r.body;
            ++inFlight;
            continue;
        }
        ASSERT_EQ(r.status, 200) << r.body;
        ids.insert(parse(r.body)->getValue<std::string>("registration_id"));
    }
    EXPECT_LT(inFlight, 24);
    auto again = call("register_course", body, kClerk, "storm-1");
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    ids.insert(parse(again.body)->getValue<std::string>("registration_id"));
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_EQ(stat("registrations"), 1);
    EXPECT_EQ(stat("replays"), 0);  // the system was asked once

    // The first try times out at the hub but the system registers it anyway; the
    // portal retries with the same key and gets that registration, not a second one.
    const std::string slowBody = R"({"student_id":"2023010001","course_id":"CS201"})";
    mode(R"({"mode":"slow","delay_ms":3000})");
    EXPECT_EQ(call("register_course", slowBody, kClerk, "slow-1").status, 504);
    ASSERT_TRUE(hub::test::waitUntil([&] { return stat("registrations") == 2; }));
    mode(R"({"mode":"none"})");
    for (int i = 0; i < 3; ++i) {
        auto r = call("register_course", slowBody, kClerk, "slow-1");
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_TRUE(parse(r.body)->getValue<bool>("replayed"));
    }
    EXPECT_EQ(stat("registrations"), 2);
    // The key is scoped by caller: the student's own "slow-1" is another request,
    // which the system refuses as a duplicate registration, writing nothing.
    expectProblem(call("register_course", slowBody, kStudent, "slow-1"), 409, "AlreadyRegistered");
    EXPECT_EQ(stat("registrations"), 2);
    // The 1.0 adapter's input field is refused, not ignored: its caller expects
    // de-duplication it would otherwise silently lose.
    expectProblem(call("register_course", R"({"student_id":"2023010001","course_id":"CS401","idempotency_key":"x"})"),
                  400, "Idempotency-Key");
    EXPECT_EQ(stat("registrations"), 2);
}

// The simulator itself, as a vendor would check it with curl: the WSDL at ?wsdl,
// and a call without a UsernameToken refused with a SOAP fault.
TEST_F(AcademicAffairs, SimulatorServesItsWsdlAndRefusesAnonymousCalls) {
    start();
    auto wsdl = httpRequest("GET", sim_->url("/services/AcademicService?wsdl"));
    ASSERT_EQ(wsdl.status, 200);
    for (const char* part : {"wsdl:definitions", "targetNamespace=\"urn:jwxt:academic:v1\"", "style=\"document\"",
                             "use=\"literal\"", "soapAction=\"urn:jwxt:academic:v1/RegisterCourse\"",
                             "<soap:address location=\"http://127.0.0.1:"})
        EXPECT_NE(wsdl.body.find(part), std::string::npos) << part;
    auto anonymous = httpRequest(
        "POST", sim_->url("/services/AcademicService"),
        R"(<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><a:GetTranscript xmlns:a="urn:jwxt:academic:v1"><a:StudentId>2023010001</a:StudentId></a:GetTranscript></s:Body></s:Envelope>)",
        {{"Content-Type", "text/xml; charset=utf-8"}, {"SOAPAction", "\"urn:jwxt:academic:v1/GetTranscript\""}});
    EXPECT_EQ(anonymous.status, 500);
    EXPECT_NE(anonymous.body.find("<faultcode>wsse:FailedAuthentication</faultcode>"), std::string::npos)
        << anonymous.body;
    EXPECT_EQ(stat("auth_failures"), 1);
}
