// hubd end to end: the simulated student affairs system and hubd run as real
// processes; every call goes over HTTP on loopback.
#include "SameStore.h"
#include "hub/test/StoreBackend.h"
#include "hub/store/Database.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/Json.h"
#include "hub/test/TempDir.h"
#include "hub/test/Tokens.h"

#include <Poco/Data/Session.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <filesystem>
#include <future>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using namespace Poco::Data::Keywords;
using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::hubdOptions;
using hub::test::parse;
using hub::test::TempDir;
using namespace std::chrono_literals;

namespace {

const std::string kSecret = "test-secret-0123456789-abcdefghijklmnop";

std::string token(const std::string& subject, Poco::Timespan lifetime = Poco::Timespan(600, 0),
                  const std::string& audience = "campushub", const std::string& secret = kSecret,
                  const std::string& onBehalfOf = "") {
    return hub::test::token(secret, subject,
                            {.audience = audience, .issuer = "hubd-test", .lifetime = lifetime, .actingFor = onBehalfOf});
}

// Sends raw bytes and returns what the server answered before closing.
std::string rawExchange(int port, const std::string& bytes) {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
    socket.setReceiveTimeout(Poco::Timespan(5, 0));
    socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    std::string answer;
    char buf[4096];
    for (;;) {
        int n = 0;
        try {
            n = socket.receiveBytes(buf, sizeof buf);
        } catch (...) {
            break;
        }
        if (n <= 0) break;
        answer.append(buf, static_cast<std::size_t>(n));
    }
    return answer;
}

class Hubd {
public:
    explicit Hubd(const TempDir& dir, int simPort) : dir_(dir), store_(dir.file("var")) {
        fs::create_directories(dir.file("plugins"));
        fs::copy(std::string(REFERENCE_PLUGINS_DIR) + "/student_affairs", dir.file("plugins/student_affairs"),
                 fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        fs::copy(std::string(TEST_PLUGINS_DIR) + "/testkit", dir.file("plugins/testkit"),
                 fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        fs::copy(std::string(TEST_PLUGINS_DIR) + "/crashy", dir.file("plugins/crashy"),
                 fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        dir.write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir.file("hubd.port") + R"(</portFile><maxBodyBytes>65536</maxBodyBytes>
        <drainTimeoutMs>10000</drainTimeoutMs></http>
  )" + store_.xml() + R"(
  <plugins>
    <dir>)" + dir.file("plugins") + R"(</dir>
    <plugin name="student_affairs"><timeoutMs>3000</timeoutMs><execution>loop</execution><concurrency>16</concurrency>
      <config><base_url>http://127.0.0.1:)" + std::to_string(simPort) + R"(</base_url></config></plugin>
    <plugin name="testkit"><timeoutMs>1500</timeoutMs><concurrency>2</concurrency><queue>0</queue></plugin>
    <plugin name="crashy"><timeoutMs>1000</timeoutMs></plugin>
  </plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><issuer>hubd-test</issuer>
    <audience>campushub</audience></jwt>
    <serviceAccounts><account><subject>portal-backend</subject><mayActFor>true</mayActFor>
        <actForAudiences>student teacher</actForAudiences></account>
      <account><subject>kiosk</subject><mayActFor>false</mayActFor></account></serviceAccounts>
  </auth>
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <identity><static>
    <person id="2023010001" name="张三" department="student-affairs" audience="student"/>
    <person id="V2024001" name="Visitor" audience="visitor"/>
    <person id="clerk.xsc" name="学生处" department="student-affairs" audience="staff"
            roles="dept:student-affairs:clerk"/>
    <person id="admin" name="Operator" audience="staff" roles="hub:admin"/>
  </static></identity>
</hub>)");
        start();
    }

    /// Starts hubd (again), with more options after --config if given.
    void start(const std::vector<std::string>& more = {}) {
        fs::remove(dir_.file("hubd.port"));
        process_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(dir_, more));
    }

    ChildProcess& process() { return *process_; }
    std::string url(const std::string& path) const { return process_->url(path); }
    int port() const { return process_->port(); }

private:
    /// Options that open hubd's store (either backend).
public:
    hub::store::Database::Options storeOptions() const { return store_.options(); }

private:
    const TempDir& dir_;
    hub::test::SameStore store_;
    std::unique_ptr<ChildProcess> process_;
};

class HubdTest : public ::testing::Test {
protected:
    // Per test (ctest runs each test in its own process anyway), so a failure to
    // start fails the test instead of skipping it.
    void SetUp() override {
        try {
            dir_ = new TempDir("hubd-test");
            sim_ = new ChildProcess(SIM_STUDENT_AFFAIRS_EXE,
                                    {.args = {"--port", "0", "--port-file", dir_->file("sim.port")},
                                     .portFile = dir_->file("sim.port")});
            hubd_ = new Hubd(*dir_, sim_->port());
        } catch (const Poco::Exception& e) {
            FAIL() << "cannot start the hub: " << e.displayText();
        }
    }
    void TearDown() override {
        delete hubd_;
        delete sim_;
        delete dir_;
        hubd_ = nullptr;
        sim_ = nullptr;
        dir_ = nullptr;
    }

    // As a student affairs clerk, whom the reference plugin lets read any record.
    static hub::test::HttpResponse call(const std::string& system, const std::string& op, const std::string& body) {
        static const std::string clerk = token("clerk.xsc");
        return httpRequest("POST", hubd_->url("/api/v1/systems/" + system + "/operations/" + op), body,
                           bearer(clerk));
    }

    /// Puts the simulator in slow mode and starts count get_student calls, each
    /// from its own thread; they wait for the vendor on hubd's event loops.
    static std::vector<std::future<hub::test::HttpResponse>> callsToASlowVendor(int delayMs, int count) {
        auto mode = httpRequest("POST", sim_->url("/admin/fail-mode"),
                                R"({"mode":"slow","delay_ms":)" + std::to_string(delayMs) + "}");
        EXPECT_EQ(mode.status, 200) << mode.body;
        std::vector<std::future<hub::test::HttpResponse>> calls;
        for (int i = 0; i < count; ++i)
            calls.push_back(std::async(std::launch::async, [] {
                return call("student_affairs", "get_student", R"({"student_id":"2023010001"})");
            }));
        return calls;
    }

    static hub::test::HttpResponse get(const std::string& path, const std::string& subject = "2023010001") {
        return httpRequest("GET", hubd_->url(path), "", bearer(token(subject)));
    }

    /// The calls a plugin is running (and, with queued, those waiting for it),
    /// as /api/v1/systems tells; -1 if it does not list the plugin.
    static int callsAt(const std::string& system, bool queued = false) {
        auto listing = parse(get("/api/v1/systems").body);
        for (const auto& v : *listing->getArray("systems")) {
            auto s = v.extract<Poco::JSON::Object::Ptr>();
            if (s->getValue<std::string>("name") == system)
                return s->getValue<int>("active_calls") + (queued ? s->getValue<int>("queued_calls") : 0);
        }
        return -1;
    }

    static void expectProblem(const hub::test::HttpResponse& r, int status, const std::string& detailPart = "") {
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << r.body;
        auto p = parse(r.body);
        EXPECT_EQ(p->getValue<int>("status"), status);
        EXPECT_FALSE(p->getValue<std::string>("title").empty());
        if (!detailPart.empty()) {
            EXPECT_NE(p->getValue<std::string>("detail").find(detailPart), std::string::npos) << r.body;
        }
    }

    static TempDir* dir_;
    static ChildProcess* sim_;
    static Hubd* hubd_;
};

TempDir* HubdTest::dir_ = nullptr;
ChildProcess* HubdTest::sim_ = nullptr;
Hubd* HubdTest::hubd_ = nullptr;

}  // namespace

TEST_F(HubdTest, AnswersHealthz) {
    auto r = httpRequest("GET", hubd_->url("/healthz"));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(parse(r.body)->getValue<std::string>("status"), "ok");
    auto ready = httpRequest("GET", hubd_->url("/readyz"));
    EXPECT_EQ(ready.status, 200);
    // The store's backend and this node's id: which hub of several answered.
    EXPECT_EQ(parse(ready.body)->getObject("store")->getValue<std::string>("backend"),
              hub::test::storeOnPostgres() ? "postgresql" : "sqlite");
    EXPECT_FALSE(parse(ready.body)->getValue<std::string>("node").empty()) << ready.body;
    auto metrics = httpRequest("GET", hubd_->url("/metrics")).body;
    EXPECT_NE(metrics.find("hub_store_info{backend=\""), std::string::npos);
}

TEST_F(HubdTest, ListsLoadedSystems) {
    auto r = get("/api/v1/systems");
    ASSERT_EQ(r.status, 200) << r.body;
    auto systems = parse(r.body)->getArray("systems");
    ASSERT_EQ(systems->size(), 3u) << r.body;
    std::map<std::string, Poco::JSON::Object::Ptr> byName;
    for (unsigned i = 0; i < systems->size(); ++i)
        byName[systems->getObject(i)->getValue<std::string>("name")] = systems->getObject(i);
    ASSERT_TRUE(byName.count("student_affairs"));
    EXPECT_EQ(byName["student_affairs"]->getValue<std::string>("version"), "1.0.0");
    EXPECT_EQ(byName["student_affairs"]->getValue<std::string>("status"), "up");
    EXPECT_EQ(byName["student_affairs"]->getValue<std::string>("circuit"), "closed");
    EXPECT_EQ(byName["student_affairs"]->getArray("operations")->size(), 2u);
    EXPECT_EQ(byName["student_affairs"]->getValue<std::string>("isolation"), "inproc");
    EXPECT_EQ(byName["student_affairs"]->getValue<std::string>("execution"), "loop");
    ASSERT_TRUE(byName.count("crashy"));
    EXPECT_EQ(byName["crashy"]->getValue<std::string>("isolation"), "process");
    EXPECT_EQ(byName["crashy"]->getValue<std::string>("execution"), "workers");
}

TEST_F(HubdTest, FetchesAStudentThroughThePluginFromTheVendorSystem) {
    auto r = call("student_affairs", "get_student", R"({"student_id":"2023010001"})");
    ASSERT_EQ(r.status, 200) << r.body;
    auto student = parse(r.body);
    EXPECT_EQ(student->getValue<std::string>("name"), "张三");
    EXPECT_EQ(student->getValue<std::string>("student_id"), "2023010001");
    // The same record straight from the vendor system: the hub changed nothing.
    auto direct = httpRequest("GET", sim_->url("/students/2023010001"));
    EXPECT_EQ(parse(direct.body)->getValue<std::string>("name"), student->getValue<std::string>("name"));
    EXPECT_FALSE(r.header("X-Request-Id").empty());
}

TEST_F(HubdTest, IssuesAnEnrolmentCertificate) {
    auto r = call("student_affairs", "enrolment_certificate", R"({"student_id":"2023010001"})");
    ASSERT_EQ(r.status, 200) << r.body;
    auto cert = parse(r.body);
    EXPECT_FALSE(cert->getValue<std::string>("certificate_no").empty());
    EXPECT_EQ(cert->getValue<std::string>("name"), "张三");
}

TEST_F(HubdTest, ProblemsForUnknownSystemOperationAndStudent) {
    expectProblem(call("finance", "get_student", "{}"), 404, "finance");
    expectProblem(call("student_affairs", "drop_table", "{}"), 404, "drop_table");
    expectProblem(call("student_affairs", "get_student", R"({"student_id":"1999999999"})"), 404, "not found");
    expectProblem(get("/api/v1/nothing/here"), 404);
    expectProblem(httpRequest("DELETE", hubd_->url("/api/v1/systems"), "", bearer(token("2023010001"))), 405);
}

TEST_F(HubdTest, ProblemsForMalformedAndHostileBodies) {
    expectProblem(call("student_affairs", "get_student", "{\"student_id\":"), 400, "not valid JSON");
    expectProblem(call("student_affairs", "get_student", "\xff\xfe{}"), 400);
    expectProblem(call("student_affairs", "get_student", R"({"student_id":"../../admin"})"), 400);
    expectProblem(call("student_affairs", "get_student", R"({"student_id":12})"), 400, "student_id");
    expectProblem(call("student_affairs", "get_student", R"(["student_id"])"), 400);
    expectProblem(call("student_affairs", "get_student", R"({"student_id":"张三"})"), 400);
    // Invalid UTF-8 inside a JSON string.
    expectProblem(call("student_affairs", "get_student", "{\"student_id\":\"2023010001\",\"x\":\"\xc3\x28\"}"),
                  400, "UTF-8");
    expectProblem(call("student_affairs", "get_student", "{\"student_id\":\"2023010001\",\"x\":\"\xed\xa0\x80\"}"),
                  400, "UTF-8");
    // Deep nesting must not blow the stack.
    expectProblem(call("student_affairs", "get_student", std::string(30000, '[') + std::string(30000, ']')), 400);
    // Over the configured body limit (64 KiB here).
    auto big = "{\"student_id\":\"" + std::string(70000, '1') + "\"}";
    expectProblem(call("student_affairs", "get_student", big), 413);
    // The hub is still fine and nothing was lost.
    EXPECT_EQ(call("student_affairs", "get_student", R"({"student_id":"2023010001"})").status, 200);
}

TEST_F(HubdTest, MalformedHttpGetsA400AndTheHubKeepsServing) {
    std::string answer = rawExchange(hubd_->port(), "THIS IS NOT HTTP\r\n\r\n");
    EXPECT_NE(answer.find(" 400 "), std::string::npos) << answer;
    answer = rawExchange(hubd_->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
    EXPECT_NE(answer.find(" 431 "), std::string::npos) << answer.substr(0, 200);
    EXPECT_EQ(httpRequest("GET", hubd_->url("/healthz")).status, 200);
}

TEST_F(HubdTest, PluginErrorsAndBadAnswersBecomeProblems) {
    expectProblem(call("testkit", "fail", R"({"status":6,"detail":"finance system down"})"), 503, "finance system down");
    expectProblem(call("testkit", "throw_std", "{}"), 502, "runtime_error");
    expectProblem(call("testkit", "bad_json", "{}"), 502, "invalid JSON");
}

TEST_F(HubdTest, SlowPluginTimesOutWithoutBlockingOthers) {
    auto slow = std::async(std::launch::async, [] { return call("testkit", "sleep", R"({"ms":4000})"); });
    ASSERT_TRUE(hub::test::waitUntil([] { return callsAt("testkit") == 1; }));
    // While testkit is stuck, the listener and the other plugin answer.
    EXPECT_EQ(httpRequest("GET", hubd_->url("/healthz")).status, 200);
    EXPECT_EQ(call("student_affairs", "get_student", R"({"student_id":"2023010001"})").status, 200);
    auto r = slow.get();
    expectProblem(r, 504, "did not answer within 1500 ms");
}

// student_affairs has execution "loop": a call waiting for its vendor system is a
// fiber parked on an I/O thread's event loop. Eight of them waiting for a slow
// vendor hold neither a thread nor the loops, which answer other requests. The
// vendor holds the calls until the test lets them go (no clock to race); the
// plugin's timeout is raised so that a busy machine cannot end them first.
TEST_F(HubdTest, CallsWaitingForASlowVendorParkOnTheEventLoops) {
    hubd_->process().stop();
    hubd_->start({"-D", "plugins.plugin[@name=student_affairs].timeoutMs=120000"});
    ASSERT_EQ(httpRequest("POST", sim_->url("/admin/fail-mode"), R"({"mode":"hold"})").status, 200);
    std::vector<std::future<hub::test::HttpResponse>> held;
    for (int i = 0; i < 8; ++i)
        held.push_back(std::async(std::launch::async, [] {
            return call("student_affairs", "get_student", R"({"student_id":"2023010001"})");
        }));
    // All eight in flight at the plugin and at the vendor, none queued.
    EXPECT_TRUE(hub::test::waitUntil([] {
        return parse(httpRequest("GET", sim_->url("/admin/fail-mode")).body)->getValue<int>("hanging") == 8;
    })) << "the calls never all reached the vendor";
    EXPECT_EQ(callsAt("student_affairs"), 8);
    EXPECT_EQ(callsAt("student_affairs", true), 8);
    EXPECT_EQ(httpRequest("GET", hubd_->url("/healthz")).status, 200);
    EXPECT_EQ(get("/api/v1/catalog/categories").status, 200);
    EXPECT_EQ(call("testkit", "echo", "{}").status, 200);
    for (auto& f : held) EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
    ASSERT_EQ(httpRequest("POST", sim_->url("/admin/fail-mode"), R"({"mode":"none"})").status, 200);
    for (auto& f : held) {
        auto r = f.get();
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_NE(r.body.find("张三"), std::string::npos);
    }
    EXPECT_EQ(callsAt("student_affairs"), 0);
    // The suite's other tests (in one process when run by hand) get the file's timeout back.
    hubd_->process().stop();
    hubd_->start();
}

TEST_F(HubdTest, BulkheadFullGetsFast503) {
    // testkit has 2 workers and no queue: the third concurrent call is refused.
    auto a = std::async(std::launch::async, [] { return call("testkit", "sleep", R"({"ms":800})"); });
    auto b = std::async(std::launch::async, [] { return call("testkit", "sleep", R"({"ms":800})"); });
    ASSERT_TRUE(hub::test::waitUntil([] { return callsAt("testkit") == 2; }));
    expectProblem(call("testkit", "echo", "{}"), 503, "concurrency limit");
    EXPECT_EQ(a.get().status, 200);
    EXPECT_EQ(b.get().status, 200);
}

TEST_F(HubdTest, EveryApiCallNeedsAValidBearerToken) {
    const std::string url = hubd_->url("/api/v1/systems");
    auto missing = httpRequest("GET", url);
    expectProblem(missing, 401, "Authorization");
    EXPECT_NE(missing.header("WWW-Authenticate").find("Bearer"), std::string::npos);
    expectProblem(httpRequest("GET", url, "", {{"Authorization", "Basic dXNlcjpwYXNz"}}), 401);
    expectProblem(httpRequest("GET", url, "", bearer("not.a.jwt")), 401);
    expectProblem(httpRequest("GET", url, "", bearer(token("2023010001", Poco::Timespan(-3600, 0)))), 401, "xpired");
    expectProblem(httpRequest("GET", url, "", bearer(token("2023010001", Poco::Timespan(600, 0), "another-app"))),
                  401, "audience");
    expectProblem(httpRequest("GET", url, "",
                              bearer(token("2023010001", Poco::Timespan(600, 0), "campushub",
                                           "a-different-secret-0123456789-abcdefgh"))),
                  401, "signature");
    auto t = token("2023010001");
    // A character in the middle of the signature (the last one also carries unused bits).
    char& c = t[t.size() - 10];
    c = c == 'A' ? 'B' : 'A';
    expectProblem(httpRequest("GET", url, "", bearer(t)), 401);
    expectProblem(httpRequest("GET", url, "", bearer(std::string(6000, 'a'))), 401);
    // Health probes stay open for load balancers.
    EXPECT_EQ(httpRequest("GET", hubd_->url("/healthz")).status, 200);
    EXPECT_EQ(get("/api/v1/systems").status, 200);
}

TEST_F(HubdTest, ServiceTokenMayActForAUserOnlyWhereAllowed) {
    auto r = httpRequest("POST", hubd_->url("/api/v1/systems/testkit/operations/caller"), "{}",
                         bearer(token("portal-backend", Poco::Timespan(600, 0), "campushub", kSecret, "2023010001")));
    ASSERT_EQ(r.status, 200) << r.body;
    auto caller = parse(r.body);
    EXPECT_EQ(caller->getValue<std::string>("subject"), "portal-backend");
    EXPECT_EQ(caller->getValue<std::string>("acting_for"), "2023010001");
    expectProblem(httpRequest("GET", hubd_->url("/api/v1/systems"), "",
                              bearer(token("kiosk", Poco::Timespan(600, 0), "campushub", kSecret, "2023010001"))),
                  403);
    expectProblem(httpRequest("GET", hubd_->url("/api/v1/systems"), "",
                              bearer(token("2023010001", Poco::Timespan(600, 0), "campushub", kSecret, "admin"))),
                  403);
    // The portal acts for students and teachers only: not for the admin, who is staff.
    expectProblem(httpRequest("GET", hubd_->url("/admin/plugins"), "",
                              bearer(token("portal-backend", Poco::Timespan(600, 0), "campushub", kSecret, "admin"))),
                  403, "acts only for users of the audiences student, teacher");
}

// ABI 1.1 through the portal API: the client's Idempotency-Key reaches the
// plugin scoped by the caller (two callers' equal keys differ, one caller's
// retry is the same key), the W3C traceparent as sent (a malformed one is
// dropped, as Trace Context says); a malformed key is the client's 400.
TEST_F(HubdTest, IdempotencyKeyAndTraceparentReachThePluginScopedByTheCaller) {
    const std::string trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    auto context = [](const std::string& subject, const std::map<std::string, std::string>& extra) {
        auto headers = bearer(token(subject));
        headers.insert(extra.begin(), extra.end());
        return httpRequest("POST", hubd_->url("/api/v1/systems/testkit/operations/context"), "{}", headers);
    };
    auto first = context("2023010001", {{"Idempotency-Key", "order-1"}, {"traceparent", trace}});
    ASSERT_EQ(first.status, 200) << first.body;
    std::string key = parse(first.body)->getValue<std::string>("idempotency_key");
    EXPECT_EQ(key.rfind("portal:", 0), 0u) << key;
    EXPECT_EQ(parse(first.body)->getValue<std::string>("traceparent"), trace);

    // The retry is answered from the stored result (CallKeys: on any hub of the
    // database), the plugin is not called again.
    auto retried = context("2023010001", {{"Idempotency-Key", "order-1"}});
    ASSERT_EQ(retried.status, 200) << retried.body;
    EXPECT_EQ(retried.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(retried.body, first.body);
    EXPECT_EQ(first.header("Idempotent-Replayed"), "");
    auto otherCaller = context("clerk.xsc", {{"Idempotency-Key", "order-1"}});
    EXPECT_EQ(otherCaller.header("Idempotent-Replayed"), "");
    EXPECT_NE(parse(otherCaller.body)->getValue<std::string>("idempotency_key"), key);
    // The same key with another request is refused, not answered with the first's result.
    auto reused = httpRequest("POST", hubd_->url("/api/v1/systems/testkit/operations/context"), R"({"other":1})",
                              [&] {
                                  auto h = bearer(token("2023010001"));
                                  h["Idempotency-Key"] = "order-1";
                                  return h;
                              }());
    expectProblem(reused, 409, "another request");

    auto none = context("2023010001", {{"traceparent", "00-not-a-trace"}});
    ASSERT_EQ(none.status, 200) << none.body;
    EXPECT_EQ(parse(none.body)->getValue<std::string>("idempotency_key"), "");
    EXPECT_EQ(parse(none.body)->getValue<std::string>("traceparent"), "");

    expectProblem(context("2023010001", {{"Idempotency-Key", std::string(256, 'k')}}), 400, "Idempotency-Key");
    expectProblem(context("2023010001", {{"Idempotency-Key", "学号"}}), 400, "printable ASCII");
}

// A plugin in a worker process logs in hubd's line format (hub::log::LogFormatter),
// under the same logger name an in-process plugin has, with the trace id of the
// request that caused the line.
TEST_F(HubdTest, AWorkersLogLinesReadLikeHubdsOwn) {
    auto headers = bearer(token("clerk.xsc"));
    headers["traceparent"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    auto r = httpRequest("POST", hubd_->url("/api/v1/systems/crashy/operations/log"),
                         R"({"message":"来自工作进程 worker-line-42"})", headers);
    ASSERT_EQ(r.status, 200) << r.body;
    // hubd's request id crosses to the worker with the call (worker/WorkerProtocol.h).
    const std::string requestId = r.header("X-Request-Id");
    ASSERT_FALSE(requestId.empty());
    const std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} I \[hub\.plugin\.crashy\] 来自工作进程 worker-line-42 )"
                          R"(request_id=)" + requestId + R"( trace_id=4bf92f3577b34da6a3ce929d0e0e4736)");
    std::string seen;
    bool found = hub::test::waitUntil(
        [&] {
            // Only a whole line: the reader may have caught the worker's write in part.
            const std::string out = hubd_->process().output();
            const auto at = out.find("worker-line-42");
            if (at == std::string::npos) return false;
            const auto begin = out.rfind('\n', at), end = out.find('\n', at);
            if (end == std::string::npos) return false;
            seen = out.substr(begin == std::string::npos ? 0 : begin + 1, end - (begin == std::string::npos ? 0 : begin + 1));
            return true;
        },
        10s, 20ms);
    ASSERT_TRUE(found) << hubd_->process().output();
    EXPECT_TRUE(std::regex_match(seen, line)) << seen;
    // And hubd's own lines have that form too.
    std::istringstream out(hubd_->process().output());
    std::string first;
    std::getline(out, first);
    EXPECT_TRUE(std::regex_search(first, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} [FCEWNIDT] \[)")))
        << first;
}

// With logging.format=json a worker's lines are hubd's JSON objects too: one
// per line, the same keys, the plugin's logger name, the request and trace
// ids of the call that caused it, and the worker's own pid.
TEST_F(HubdTest, AWorkersJsonLogLinesReadLikeHubdsOwn) {
    hubd_->process().stop();
    hubd_->start({"-D", "logging.format=json"});
    auto headers = bearer(token("clerk.xsc"));
    const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    headers["traceparent"] = "00-" + trace + "-00f067aa0ba902b7-01";
    auto r = httpRequest("POST", hubd_->url("/api/v1/systems/crashy/operations/log"),
                         R"({"message":"来自工作进程 worker-json-43"})", headers);
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string requestId = r.header("X-Request-Id");
    ASSERT_FALSE(requestId.empty());
    Poco::JSON::Object::Ptr worker;
    hub::test::waitUntil(
        [&] {
            std::istringstream lines(hubd_->process().output());
            for (std::string line; std::getline(lines, line);) {
                // Only a whole line: the reader may have caught the worker's write in part.
                if (line.find("worker-json-43") == std::string::npos || lines.eof()) continue;
                worker = parse(line);
                return true;
            }
            return false;
        },
        10s, 20ms);
    ASSERT_TRUE(worker) << hubd_->process().output();
    EXPECT_EQ(worker->getValue<std::string>("logger"), "hub.plugin.crashy");
    EXPECT_EQ(worker->getValue<std::string>("level"), "information");
    EXPECT_EQ(worker->getValue<std::string>("message"), "来自工作进程 worker-json-43");
    EXPECT_EQ(worker->getValue<std::string>("request_id"), requestId);
    EXPECT_EQ(worker->getValue<std::string>("trace_id"), trace);
    const std::regex time(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
    EXPECT_TRUE(std::regex_match(worker->getValue<std::string>("time"), time)) << worker->getValue<std::string>("time");

    // hubd's own lines: JSON objects with the same keys, from another process.
    std::istringstream lines(hubd_->process().output());
    std::set<long long> hubdPids;
    std::size_t objects = 0;
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] != '{' || line.find("worker-json-43") != std::string::npos) continue;
        auto own = parse(line);
        ++objects;
        for (const char* key : {"time", "level", "logger", "message", "tid", "pid"}) {
            EXPECT_TRUE(own->has(key)) << key << " missing: " << line;
            EXPECT_TRUE(worker->has(key)) << key << " missing in the worker's line";
        }
        EXPECT_TRUE(std::regex_match(own->getValue<std::string>("time"), time)) << line;
        if (own->getValue<std::string>("logger").rfind("hub.plugin.crashy", 0) != 0)
            hubdPids.insert(own->getValue<long long>("pid"));
    }
    EXPECT_GT(objects, 3u) << hubd_->process().output();
    ASSERT_EQ(hubdPids.size(), 1u) << hubd_->process().output();
    EXPECT_NE(worker->getValue<long long>("pid"), *hubdPids.begin()) << "written by hubd, not by the worker";
}

TEST_F(HubdTest, CatalogueShowsEachAudienceItsOwnItems) {
    auto r = get("/api/v1/catalog/services?category=undergraduate&pageSize=5");
    ASSERT_EQ(r.status, 200) << r.body;
    auto page = parse(r.body);
    EXPECT_GT(page->getValue<int>("total"), 0);
    auto items = page->getArray("items");
    ASSERT_GT(items->size(), 0u);
    EXPECT_LE(items->size(), 5u);
    for (unsigned i = 0; i < items->size(); ++i) {
        EXPECT_EQ(items->getObject(i)->getObject("category")->getValue<std::string>("id"), "undergraduate");
        bool student = false;
        auto audience = items->getObject(i)->getArray("audience");
        for (unsigned a = 0; a < audience->size(); ++a) student |= audience->getElement<std::string>(a) == "student";
        EXPECT_TRUE(student) << r.body;
    }
    // A visitor sees fewer items than an operator, who sees them all.
    int visitor = parse(get("/api/v1/catalog/services", "V2024001").body)->getValue<int>("total");
    int admin = parse(get("/api/v1/catalog/services", "admin").body)->getValue<int>("total");
    int student = parse(get("/api/v1/catalog/services").body)->getValue<int>("total");
    EXPECT_GE(admin, 60);
    EXPECT_LT(visitor, admin);
    EXPECT_LT(student, admin);
    // An unknown person has no audience: sees nothing.
    EXPECT_EQ(parse(get("/api/v1/catalog/services", "nobody").body)->getValue<int>("total"), 0);

    auto one = get("/api/v1/catalog/services/enrolment-certificate");
    ASSERT_EQ(one.status, 200) << one.body;
    EXPECT_EQ(parse(one.body)->getObject("name")->getValue<std::string>("zh"), "在读证明");
    expectProblem(get("/api/v1/catalog/services/no-such-item"), 404);

    // Chinese search, URL-encoded.
    auto search = get("/api/v1/catalog/services?q=%E5%9C%A8%E8%AF%BB");  // 在读
    ASSERT_EQ(search.status, 200);
    EXPECT_GE(parse(search.body)->getValue<int>("total"), 1);
    expectProblem(get("/api/v1/catalog/services?page=0"), 400, "page");
    expectProblem(get("/api/v1/catalog/services?channel=carrier-pigeon"), 400, "channel");
    auto categories = get("/api/v1/catalog/categories", "admin");
    ASSERT_EQ(categories.status, 200);
    EXPECT_NE(categories.body.find("本科生服务"), std::string::npos);
}

TEST_F(HubdTest, CrashingPluginInAWorkerProcessGets503WhileOthersServe) {
    ASSERT_EQ(call("crashy", "ok", "{}").status, 200);
    expectProblem(call("crashy", "segfault", "{}"), 503);
    EXPECT_EQ(call("student_affairs", "get_student", R"({"student_id":"2023010001"})").status, 200);
    expectProblem(call("crashy", "abort", "{}"), 503);
    expectProblem(call("crashy", "hang", "{}"), 504);
    // The worker comes back.
    int status = 0;
    hub::test::waitUntil(
        [&] {
            status = call("crashy", "ok", "{}").status;
            return status == 200;
        },
        5s, 100ms);
    EXPECT_EQ(status, 200);
    EXPECT_EQ(httpRequest("GET", hubd_->url("/healthz")).status, 200);
}

// Operators alert on audit records lost; /metrics counts what the writer did.
TEST_F(HubdTest, MetricsCountAuditRecords) {
    auto value = [](const std::string& text, const std::string& name) {
        auto at = text.find("\n" + name + " ");
        EXPECT_NE(at, std::string::npos) << name << " missing in\n" << text;
        return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size() + 2));
    };
    auto before = httpRequest("GET", hubd_->url("/metrics"));
    ASSERT_EQ(before.status, 200);
    double written = value(before.body, "hub_audit_records_written_total");
    for (int i = 0; i < 5; ++i)
        ASSERT_EQ(call("student_affairs", "get_student", R"({"student_id":"2023010001"})").status, 200);
    // Written within the commit interval (50 ms); poll rather than guess.
    double now = written;
    hub::test::waitUntil(
        [&] {
            now = value(httpRequest("GET", hubd_->url("/metrics")).body, "hub_audit_records_written_total");
            return now >= written + 5;
        },
        2s, 20ms);
    EXPECT_EQ(now, written + 5);
    auto after = httpRequest("GET", hubd_->url("/metrics")).body;
    EXPECT_EQ(value(after, "hub_audit_records_dropped_total"), 0);
    EXPECT_GE(value(after, "hub_audit_queue_depth"), 0);
    EXPECT_NE(after.find("# TYPE hub_audit_records_dropped_total counter"), std::string::npos) << after;
}

TEST_F(HubdTest, SigtermLetsInFlightCallsFinishAndAuditSurvivesRestart) {
    ASSERT_EQ(call("student_affairs", "get_student", R"({"student_id":"2023010001"})").status, 200);
    ASSERT_EQ(call("student_affairs", "get_student", R"({"student_id":"1999999999"})").status, 404);
    ASSERT_EQ(call("testkit", "sleep", R"({"ms":2500})").status, 504);
    // That call's sleep goes on in its worker, 2.5 s from now at most.
    const auto abandonedEnds = std::chrono::steady_clock::now() + 2500ms;
    auto inflight = std::async(std::launch::async, [] { return call("testkit", "sleep", R"({"ms":500})"); });
    // In flight: beside the abandoned sleep, or alone once that has surely ended.
    ASSERT_TRUE(hub::test::waitUntil([&] {
        const auto at = std::chrono::steady_clock::now();
        const int active = callsAt("testkit");
        return active == 2 || (active == 1 && at > abandonedEnds);
    }));
    hubd_->process().signal(SIGTERM);
    auto r = inflight.get();
    EXPECT_EQ(r.status, 200) << r.body;
    auto code = hubd_->process().wait(std::chrono::seconds(15));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << hubd_->process().output();

    {
        hub::store::Database db(hubd_->storeOptions());
        auto s = db.session();
        int ok = 0, notFound = 0, timeouts = 0;
        s << "SELECT count(*) FROM audit_calls WHERE system = 'student_affairs' AND operation = 'get_student'"
             " AND outcome = 'ok' AND http_status = 200", into(ok), now;
        s << "SELECT count(*) FROM audit_calls WHERE outcome = 'not_found'", into(notFound), now;
        s << "SELECT count(*) FROM audit_calls WHERE outcome = 'timeout' AND http_status = 504", into(timeouts), now;
        EXPECT_GE(ok, 1);
        EXPECT_GE(notFound, 1);
        EXPECT_GE(timeouts, 1);
    }
    hubd_->start();
    EXPECT_EQ(call("student_affairs", "get_student", R"({"student_id":"2023010001"})").status, 200);
}

// SIGTERM while calls on the event loops wait for a slow vendor: hubd stops
// accepting, the loops keep running until those calls are answered, then it exits.
TEST_F(HubdTest, SigtermLetsCallsParkedOnTheLoopsFinish) {
    auto parked = callsToASlowVendor(1000, 4);
    ASSERT_TRUE(hub::test::waitUntil([] { return callsAt("student_affairs") == 4; }));
    hubd_->process().signal(SIGTERM);
    for (auto& f : parked) {
        auto r = f.get();
        EXPECT_EQ(r.status, 200) << r.body;
    }
    auto code = hubd_->process().wait(std::chrono::seconds(15));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << hubd_->process().output();
}

// --daemon: the parent returns at once, the daemon writes its pid file, serves,
// and stops cleanly on SIGTERM (removing the pid file). Paths are absolute, as
// a daemon's working directory is /.
TEST(HubdDaemon, RunsDetachedWithAPidFileAndStopsOnSigterm) {
    TempDir dir("hubd-daemon");
    fs::create_directories(dir.file("plugins"));
    dir.write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir.file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir.path()) + R"(
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <plugins><dir>)" + dir.file("plugins") + R"(</dir></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret></jwt></auth>
</hub>)");
    ChildProcess parent(HUBD_EXE, {.args = {"--config", dir.file("hub.xml"), "--daemon", "--pidfile", dir.file("hubd.pid")}});
    auto code = parent.wait(std::chrono::seconds(10));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << parent.output();
    int port = 0, pid = 0;
    hub::test::waitUntil(
        [&] {
            std::ifstream p(dir.file("hubd.port")), d(dir.file("hubd.pid"));
            std::string line;
            if (std::getline(p, line) && !p.eof()) port = std::atoi(line.c_str());
            if (d >> pid) {
            }
            return port != 0 && pid != 0;
        },
        5s, 50ms);
    ASSERT_GT(port, 0);
    ASSERT_GT(pid, 0);
    EXPECT_EQ(httpRequest("GET", "http://127.0.0.1:" + std::to_string(port) + "/healthz").status, 200);
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    EXPECT_TRUE(hub::test::waitUntil([&] { return ::kill(pid, 0) != 0; }, 10s, 50ms));
    EXPECT_FALSE(fs::exists(dir.file("hubd.pid")));
}

// ---- a front door nobody can knock over (issue 13), workers that come back (issue 20) ----

namespace {

Poco::JSON::Object::Ptr systemNamed(const std::string& listing, const std::string& name) {
    auto systems = parse(listing)->getArray("systems");
    for (const auto& v : *systems) {
        auto s = v.extract<Poco::JSON::Object::Ptr>();
        if (s->getValue<std::string>("name") == name) return s;
    }
    return nullptr;
}

// hubd with a minimal config and the given options, expected to refuse to start:
// its exit code (a signal would be 256 + its number) and what it said.
std::pair<int, std::string> failedStart(const TempDir& dir, const std::vector<std::string>& more) {
    dir.write("min.xml", R"(<hub>
  <http><port>0</port></http>
  <store><path>)" + dir.file("min.db") + R"(</path></store>
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <plugins><dir>)" + dir.file("none") + R"(</dir></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret></jwt></auth>
</hub>)");
    std::vector<std::string> args = {"--config", dir.file("min.xml")};
    args.insert(args.end(), more.begin(), more.end());
    ChildProcess hubd(HUBD_EXE, {.args = args});
    auto code = hubd.wait(std::chrono::seconds(30));
    return {code.value_or(-1), hubd.output()};
}

}  // namespace

TEST(HubdStart, AnswersVersionAndExits) {
    ChildProcess hubd(HUBD_EXE, {.args = {"--version"}});
    auto code = hubd.wait(std::chrono::seconds(10));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << hubd.output();
    EXPECT_NE(hubd.output().find("hubd 0."), std::string::npos) << hubd.output();
}

TEST(HubdStart, RefusesIntegersOutOfRangeNamingTheKeyAndTheRange) {
    TempDir dir("hubd-ranges");
    struct Case {
        std::string define, expected;
    };
    for (const Case& c : std::vector<Case>{
             {"http.port=70000", "http.port must be an integer from 0 to 65535, got '70000'"},
             {"plugins.defaults.timeoutMs=-1", "plugins.defaults.timeoutMs must be an integer from 1 to 3600000, got '-1'"},
             {"http.drainTimeoutMs=ten", "http.drainTimeoutMs must be an integer from 0 to 3600000, got 'ten'"},
             {"plugins.defaults.concurrency=0", "plugins.defaults.concurrency must be an integer from 1 to 4096"},
             {"http.blockingThreads=4294967297", "http.blockingThreads must be an integer from 1 to 1024"},
             {"identity.sync.intervalSeconds=0", "identity.sync.intervalSeconds must be an integer from 1 to 604800"},
             {"plugins.plugin[@name=testkit].timeotMs=5", "plugins.plugin[@name=testkit].timeotMs: not a plugin key"},
         }) {
        auto [code, output] = failedStart(dir, {"-D", c.define});
        EXPECT_EQ(code, 70) << c.define << "\n" << output;
        EXPECT_NE(output.find("cannot run: "), std::string::npos) << c.define << "\n" << output;
        EXPECT_NE(output.find(c.expected), std::string::npos) << c.define << "\n" << output;
    }
}

// The port is taken, and an LDAP sync is configured whose first run is due 1 s
// after the plugins load; the one plugin takes 2.5 s to unload. hubd says which
// endpoint it could not bind, stops what it started in order (the timer before
// the plugins its task reaches), and exits with 70, not a signal.
TEST(HubdStart, PortInUseIsNamedAndTheFailedStartStopsInOrder) {
    TempDir dir("hubd-port-in-use");
    Poco::Net::ServerSocket taken(Poco::Net::SocketAddress("127.0.0.1", 0));
    const int port = taken.address().port();
    fs::create_directories(dir.file("plugins"));
    fs::copy(std::string(TEST_PLUGINS_DIR) + "/crashy", dir.file("plugins/crashy"), fs::copy_options::recursive);
    dir.write("hub.xml", R"(<hub>
  <http><port>)" + std::to_string(port) + R"(</port></http>
  )" + hub::test::storeXml(dir.path()) + R"(
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <plugins><dir>)" + dir.file("plugins") + R"(</dir>
    <plugin name="crashy"><config><destroy_delay_ms>2500</destroy_delay_ms></config></plugin></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret></jwt></auth>
  <identity><ldap><uri>ldap://127.0.0.1:1/</uri><base>dc=example,dc=org</base><connectAttempts>1</connectAttempts></ldap></identity>
</hub>)");
    // In process, so that its slow unload is hubd's own (and the -D of a plugin key works).
    ChildProcess hubd(HUBD_EXE,
                      {.args = {"--config", dir.file("hub.xml"), "-D", "plugins.plugin[@name=crashy].isolation=inproc"}});
    auto code = hubd.wait(std::chrono::seconds(60));
    const std::string output = hubd.output();
    ASSERT_TRUE(code.has_value()) << output;
    EXPECT_EQ(*code, 70) << output;
    EXPECT_NE(output.find("cannot run: cannot listen on 127.0.0.1:" + std::to_string(port) +
                          " (http.address, http.port): "),
              std::string::npos)
        << output;
    EXPECT_NE(output.find("in use"), std::string::npos) << output;
    auto destroying = output.find("destroying: waiting 2500 ms");
    ASSERT_NE(destroying, std::string::npos) << output;
    EXPECT_NE(output.find("destroyed", destroying), std::string::npos) << output;
    // Nothing of the sync after the plugins began to go: the timer went first.
    EXPECT_EQ(output.find("[hub.identity]", destroying), std::string::npos) << output;
}

// -D overrides of a plugin's own keys take effect, with or without a <plugin>
// element in the file; one for a plugin that is not there is reported.
TEST_F(HubdTest, DefinesReachAPluginsOwnKeys) {
    hubd_->process().stop();
    hubd_->start({"-D", "plugins.plugin[@name=student_affairs].timeoutMs=1234", "-D",
                  "plugins.plugin[@name=testkit].isolation=process", "-D",
                  "plugins.plugin[@name=no_such_plugin].timeoutMs=100"});
    auto listing = get("/api/v1/systems");
    ASSERT_EQ(listing.status, 200) << listing.body;
    auto testkit = systemNamed(listing.body, "testkit");
    ASSERT_TRUE(testkit);
    EXPECT_EQ(testkit->getValue<std::string>("isolation"), "process");
    EXPECT_EQ(call("testkit", "echo", R"({"学生":"张三"})").status, 200);
    // The vendor answers in 2.5 s: within the file's 3 s, not within the 1234 ms of -D.
    ASSERT_EQ(httpRequest("POST", sim_->url("/admin/fail-mode"), R"({"mode":"slow","delay_ms":2500})").status, 200);
    expectProblem(call("student_affairs", "get_student", R"({"student_id":"2023010001"})"), 504);
    ASSERT_EQ(httpRequest("POST", sim_->url("/admin/fail-mode"), R"({"mode":"none"})").status, 200);
    // After a timeout, the loop plugin goes on.
    EXPECT_EQ(call("student_affairs", "get_student", R"({"student_id":"2023010001"})").status, 200);
    EXPECT_NE(hubd_->process().output().find("no plugin named 'no_such_plugin' is loaded"), std::string::npos)
        << hubd_->process().output();
}

// A second SIGTERM while hubd drains slow calls does not kill it: the calls are
// answered, hubd exits 0, and their audit rows are in the database.
TEST_F(HubdTest, ASecondSigtermDuringTheDrainChangesNothing) {
    auto a = std::async(std::launch::async, [] { return call("testkit", "sleep", R"({"ms":1000})"); });
    auto b = std::async(std::launch::async, [] { return call("testkit", "sleep", R"({"ms":1000})"); });
    ASSERT_TRUE(hub::test::waitUntil([] { return callsAt("testkit") == 2; }));
    hubd_->process().signal(SIGTERM);
    // The drain has begun once the listener is closed.
    ASSERT_TRUE(hub::test::waitUntil([] {
        try {
            httpRequest("GET", hubd_->url("/healthz"), "", {}, 1000);
            return false;
        } catch (const Poco::Exception&) {
            return true;
        }
    }));
    hubd_->process().signal(SIGTERM);
    // Time must pass: nothing tells when hubd has taken a signal, and the pause
    // keeps the second SIGTERM and the SIGINT two events.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    hubd_->process().signal(SIGINT);
    EXPECT_EQ(a.get().status, 200);
    EXPECT_EQ(b.get().status, 200);
    auto code = hubd_->process().wait(std::chrono::seconds(15));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0) << hubd_->process().output();
    hub::store::Database db(hubd_->storeOptions());
    auto session = db.session();
    int answered = 0;
    session << "SELECT count(*) FROM audit_calls WHERE system = 'testkit' AND operation = 'sleep' AND http_status = 200",
        into(answered), now;
    EXPECT_EQ(answered, 2);
}

// SIGPIPE (a peer gone while hubd writes to it, when a write is not flagged
// MSG_NOSIGNAL) is ignored, not the end of hubd.
TEST_F(HubdTest, SigpipeDoesNotEndTheHub) {
    hubd_->process().signal(SIGPIPE);
    EXPECT_EQ(httpRequest("GET", hubd_->url("/healthz")).status, 200);
    EXPECT_TRUE(hubd_->process().running()) << hubd_->process().output();
}

// A process plugin's worker killed after a stable run is back at once: the calls
// in flight get 503 with Retry-After, the next call succeeds within a second or
// so (bound: 3 s), and the circuit does not open.
TEST_F(HubdTest, AKilledWorkerIsBackAtOnceAndItsFailedCallsSayRetryAfter) {
    auto pid = call("crashy", "pid", "{}");
    ASSERT_EQ(pid.status, 200) << pid.body;
    std::vector<std::future<hub::test::HttpResponse>> inFlight;
    for (int i = 0; i < 6; ++i)
        inFlight.push_back(std::async(std::launch::async, [] { return call("crashy", "slow", R"({"ms":800})"); }));
    // All six are sleeping in the worker (not only sent to it).
    ASSERT_TRUE(hub::test::waitUntil([] {
        auto r = call("crashy", "sleeping", "{}");
        return r.status == 200 && parse(r.body)->getValue<int>("sleeping") == 6;
    }));
    const auto killedAt = std::chrono::steady_clock::now();
    ASSERT_EQ(::kill(parse(pid.body)->getValue<int>("pid"), SIGKILL), 0);
    for (auto& f : inFlight) {
        auto r = f.get();
        expectProblem(r, 503);
        EXPECT_FALSE(r.header("Retry-After").empty()) << r.body;
    }
    int status = 0;
    while (status != 200 && std::chrono::steady_clock::now() - killedAt < std::chrono::seconds(10))
        status = call("crashy", "ok", "{}").status;
    EXPECT_EQ(status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - killedAt, std::chrono::seconds(3));
    auto crashy = systemNamed(get("/api/v1/systems").body, "crashy");
    ASSERT_TRUE(crashy);
    EXPECT_EQ(crashy->getValue<std::string>("circuit"), "closed");
}
