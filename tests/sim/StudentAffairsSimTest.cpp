// Drives the real hub-sim-student-affairs executable over loopback HTTP.

#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/TempDir.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <future>
#include <thread>

using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::HttpResponse;
using hub::test::TempDir;

namespace {

std::unique_ptr<ChildProcess> startSim(const TempDir& dir, std::vector<std::string> extraArgs = {})
{
    ChildProcess::Options options;
    options.args = {"--port", "0", "--port-file", dir.file("port"), "--threads", "16"};
    options.args.insert(options.args.end(), extraArgs.begin(), extraArgs.end());
    options.portFile = dir.file("port");
    return std::make_unique<ChildProcess>(HUB_SIM_STUDENT_AFFAIRS, options);
}

Poco::JSON::Object::Ptr json(const HttpResponse& r)
{
    return Poco::JSON::Parser().parse(r.body).extract<Poco::JSON::Object::Ptr>();
}

void setFailMode(const ChildProcess& sim, const std::string& body)
{
    const HttpResponse r = httpRequest("POST", sim.url("/admin/fail-mode"), body);
    ASSERT_EQ(r.status, 200) << r.body;
}

} // namespace

TEST(StudentAffairsSim, StartsOnAFreePortAndReportsHealth)
{
    TempDir dir;
    auto sim = startSim(dir);
    EXPECT_GT(sim->port(), 0);
    const HttpResponse r = httpRequest("GET", sim->url("/health"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(json(r)->getValue<std::string>("status"), "ok");
    EXPECT_NE(r.header("Content-Type").find("application/json"), std::string::npos);
    EXPECT_NE(sim->output().find("ready on"), std::string::npos);
}

TEST(StudentAffairsSim, ServesChineseRecord)
{
    TempDir dir;
    auto sim = startSim(dir);
    const HttpResponse r = httpRequest("GET", sim->url("/students/2023010001"));
    ASSERT_EQ(r.status, 200) << r.body;
    const auto record = json(r);
    EXPECT_EQ(record->getValue<std::string>("student_id"), "2023010001");
    EXPECT_EQ(record->getValue<std::string>("name"), "张三");
    EXPECT_EQ(record->getValue<std::string>("name_en"), "Zhang San");
    EXPECT_EQ(record->getValue<std::string>("department"), "计算机学院");
    EXPECT_EQ(record->getValue<std::string>("major"), "软件工程");
    EXPECT_EQ(record->getValue<int>("grade"), 2023);
    EXPECT_EQ(record->getValue<std::string>("status"), "enrolled");
}

TEST(StudentAffairsSim, AnswersNotFoundAndWrongMethod)
{
    TempDir dir;
    auto sim = startSim(dir);
    HttpResponse r = httpRequest("GET", sim->url("/students/1999999999"));
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(json(r)->getValue<std::string>("error"), "student not found");
    EXPECT_EQ(httpRequest("GET", sim->url("/students/%E5%BC%A0%00x")).status, 404);
    EXPECT_EQ(httpRequest("GET", sim->url("/nothing-here")).status, 404);
    EXPECT_EQ(httpRequest("DELETE", sim->url("/students/2023010001")).status, 405);
    EXPECT_EQ(httpRequest("GET", sim->url("/certificates/enrolment")).status, 405);
}

TEST(StudentAffairsSim, SearchesByChineseOrEnglishName)
{
    TempDir dir;
    auto sim = startSim(dir);
    HttpResponse r = httpRequest("GET", sim->url("/students?name=%E5%BC%A0")); // 张
    ASSERT_EQ(r.status, 200);
    auto list = json(r)->getArray("students");
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ(list->getObject(0)->getValue<std::string>("name"), "张三");

    r = httpRequest("GET", sim->url("/students?name=zhang"));
    EXPECT_EQ(json(r)->getValue<int>("count"), 1);
    r = httpRequest("GET", sim->url("/students?name=%E6%97%A0%E6%AD%A4%E4%BA%BA")); // 无此人
    EXPECT_EQ(json(r)->getValue<int>("count"), 0);
    r = httpRequest("GET", sim->url("/students"));
    EXPECT_GE(json(r)->getValue<int>("count"), 8);
    r = httpRequest("GET", sim->url("/students?name=%FF%FE")); // not UTF-8: no match, no crash
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(json(r)->getValue<int>("count"), 0);
}

TEST(StudentAffairsSim, IssuesEnrolmentCertificates)
{
    TempDir dir;
    auto sim = startSim(dir);
    HttpResponse r = httpRequest("POST", sim->url("/certificates/enrolment"), R"({"student_id":"2023010001"})");
    ASSERT_EQ(r.status, 201) << r.body;
    auto certificate = json(r);
    EXPECT_EQ(certificate->getValue<std::string>("student_id"), "2023010001");
    EXPECT_EQ(certificate->getValue<std::string>("name"), "张三");
    EXPECT_FALSE(certificate->getValue<std::string>("certificate_no").empty());
    EXPECT_FALSE(certificate->getValue<std::string>("issued_at").empty());
    const HttpResponse second = httpRequest("POST", sim->url("/certificates/enrolment"), R"({"student_id":"2023010001"})");
    EXPECT_NE(json(second)->getValue<std::string>("certificate_no"), certificate->getValue<std::string>("certificate_no"));

    EXPECT_EQ(httpRequest("POST", sim->url("/certificates/enrolment"), R"({"student_id":"0000"})").status, 404);
    r = httpRequest("POST", sim->url("/certificates/enrolment"), R"({"student_id":"2020050033"})"); // graduated
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(json(r)->getValue<std::string>("status"), "graduated");
}

TEST(StudentAffairsSim, RefusesBadRequestBodies)
{
    TempDir dir;
    auto sim = startSim(dir);
    const std::string url = sim->url("/certificates/enrolment");
    for (const std::string& body : std::vector<std::string>{
             "{not json", "", "[1,2]", "\"text\"", R"({"student_id":2023010001})", R"({"other":"x"})",
             "{\"student_id\":\"\xff\xfe\"}", std::string("{\"student_id\":\"2023010001\"") + std::string(1, '\0') + "}"})
    {
        const HttpResponse r = httpRequest("POST", url, body);
        EXPECT_EQ(r.status, 400) << "body: " << body << " -> " << r.body;
        EXPECT_FALSE(json(r)->getValue<std::string>("error").empty());
    }
    EXPECT_EQ(httpRequest("POST", url, std::string(1 << 20, ' ')).status, 413);
    EXPECT_EQ(httpRequest("POST", sim->url("/admin/fail-mode"), R"({"mode":"explode"})").status, 400);
    EXPECT_EQ(httpRequest("POST", sim->url("/admin/fail-mode"), "nope").status, 400);
    // Still healthy afterwards.
    EXPECT_EQ(httpRequest("GET", sim->url("/health")).status, 200);
}

TEST(StudentAffairsSim, SimulatesOutages)
{
    TempDir dir;
    auto sim = startSim(dir);

    setFailMode(*sim, R"({"mode":"500"})");
    EXPECT_EQ(httpRequest("GET", sim->url("/health")).status, 500);
    EXPECT_EQ(httpRequest("GET", sim->url("/students/2023010001")).status, 500);
    EXPECT_EQ(json(httpRequest("GET", sim->url("/admin/fail-mode")))->getValue<std::string>("mode"), "500");

    setFailMode(*sim, R"({"mode":"hang"})");
    EXPECT_THROW(httpRequest("GET", sim->url("/students/2023010001"), "", {}, 300), Poco::TimeoutException);

    setFailMode(*sim, R"({"mode":"slow","delay_ms":50})");
    EXPECT_EQ(httpRequest("GET", sim->url("/students/2023010001")).status, 200);

    setFailMode(*sim, R"({"mode":"none"})");
    EXPECT_EQ(httpRequest("GET", sim->url("/students/2023010001")).status, 200);
}

TEST(StudentAffairsSim, StopsCleanlyOnSigtermEvenWithHungRequests)
{
    TempDir dir;
    auto sim = startSim(dir);
    setFailMode(*sim, R"({"mode":"hang"})");
    std::thread hung([&] {
        try
        {
            httpRequest("GET", sim->url("/students/2023010001"), "", {}, 30000);
        }
        catch (const Poco::Exception&)
        {
            // The connection may be cut by the shutdown: that's fine.
        }
    });
    EXPECT_TRUE(hub::test::waitUntil([&] {
        return json(httpRequest("GET", sim->url("/admin/fail-mode")))->getValue<int>("hanging") == 1;
    })) << "the request never reached the hang";
    sim->signal(SIGTERM);
    const auto status = sim->wait(std::chrono::seconds(20));
    hung.join();
    ASSERT_TRUE(status.has_value()) << "did not stop on SIGTERM";
    EXPECT_EQ(*status, 0) << sim->output();
    EXPECT_NE(sim->output().find("stopping on signal"), std::string::npos);
}

// "hold" keeps a request until the mode changes, then gives its real answer.
TEST(StudentAffairsSim, AHeldRequestGetsItsRealAnswerWhenReleased)
{
    TempDir dir;
    auto sim = startSim(dir);
    setFailMode(*sim, R"({"mode":"hold"})");
    auto held = std::async(std::launch::async,
                           [&] { return httpRequest("GET", sim->url("/students/2023010001"), "", {}, 30000); });
    ASSERT_TRUE(hub::test::waitUntil([&] {
        return json(httpRequest("GET", sim->url("/admin/fail-mode")))->getValue<int>("hanging") == 1;
    })) << "the request never reached the hold";
    EXPECT_EQ(held.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
    setFailMode(*sim, R"({"mode":"none"})");
    const HttpResponse r = held.get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("张三"), std::string::npos) << r.body;
}

TEST(StudentAffairsSim, KeepsConnectionsAliveAndServesConcurrently)
{
    TempDir dir;
    auto sim = startSim(dir);
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(sim->port()));
    session.setKeepAlive(true);
    for (int i = 0; i < 20; ++i)
    {
        Poco::Net::HTTPRequest request("GET", "/students/2023010002", Poco::Net::HTTPMessage::HTTP_1_1);
        request.setKeepAlive(true);
        session.sendRequest(request);
        Poco::Net::HTTPResponse response;
        std::string body;
        Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
        ASSERT_EQ(response.getStatus(), Poco::Net::HTTPResponse::HTTP_OK);
        EXPECT_TRUE(response.getKeepAlive());
        EXPECT_NE(body.find("李四"), std::string::npos);
    }

    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i)
            {
                try
                {
                    if (httpRequest("GET", sim->url("/students/2023070009")).status != 200)
                        ++failures;
                }
                catch (const Poco::Exception&)
                {
                    ++failures;
                }
            }
        });
    for (auto& th : threads)
        th.join();
    EXPECT_EQ(failures.load(), 0);
}

TEST(StudentAffairsSim, LoadsSeedDataAndRejectsBadSeed)
{
    TempDir dir;
    const std::string seed = dir.write("seed.json", R"({"students":[
        {"student_id":"S1","name":"测试学生","name_en":"Test Student","department":"测试学院","grade":2025,"status":"enrolled"}]})");
    auto sim = startSim(dir, {"--data", seed});
    HttpResponse r = httpRequest("GET", sim->url("/students/S1"));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(json(r)->getValue<std::string>("name"), "测试学生");
    EXPECT_EQ(httpRequest("GET", sim->url("/students/2023010001")).status, 404) << "seed replaces the built-in data";
    sim.reset();

    TempDir badDir;
    const std::string bad = badDir.write("bad.json", R"({"students":[{"name":"没有学号"}]})");
    try
    {
        startSim(badDir, {"--data", bad});
        FAIL() << "a seed without student_id was accepted";
    }
    catch (const Poco::RuntimeException& e)
    {
        EXPECT_NE(e.message().find("student_id"), std::string::npos) << e.message();
    }
    EXPECT_THROW(startSim(badDir, {"--data", badDir.file("missing.json")}), Poco::RuntimeException);
    EXPECT_THROW(startSim(badDir, {"--delay-ms", "-5"}), Poco::RuntimeException);
}

TEST(StudentAffairsSim, WaitsForReadyLineOnAGivenPort)
{
    ChildProcess::Options options;
    const int port = hub::test::freePort();
    options.args = {"--port", std::to_string(port), "--delay-ms", "1"};
    options.readyLine = "ready on";
    ChildProcess sim(HUB_SIM_STUDENT_AFFAIRS, options);
    EXPECT_EQ(httpRequest("GET", "http://127.0.0.1:" + std::to_string(port) + "/health").status, 200);
    EXPECT_EQ(sim.stop(), 0);
    EXPECT_FALSE(sim.running());
    EXPECT_EQ(sim.stop(), 0) << "stop() is idempotent";
}
