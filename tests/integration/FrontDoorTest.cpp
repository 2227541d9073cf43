// Issue 13, "a front door nobody can knock over": a real hubd process takes
// hostile targets, HEAD, a huge token, hostile bodies, a body far over the
// limit, thousands of idle connections and a slowloris, and answers /healthz
// after each. Also /metrics as real Prometheus text with two plugins loaded
// (checked by promtool), its operator choices, and the request ids in the audit.
#include "SameStore.h"
#include "hub/test/StoreBackend.h"
#include "hub/store/Database.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/TempDir.h"
#include "hub/test/Tokens.h"

#include <Poco/Data/Session.h>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

namespace fs = std::filesystem;
using namespace Poco::Data::Keywords;
using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::hubdOptions;
using hub::test::TempDir;

namespace {

const std::string kSecret = "front-door-secret-0123456789-abcdefghij";
using Clock = std::chrono::steady_clock;

std::string token(const std::string& subject) {
    return hub::test::token(kSecret, subject, {.issuer = "front-door-test"});
}

// A plain blocking TCP connection to 127.0.0.1:port; the descriptor, or -1.
int connectTo(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool sendAll(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Reads until the server closes, up to timeout; errno of a failed read in *error.
std::string readAll(int fd, std::chrono::milliseconds timeout, int* error = nullptr) {
    std::string out;
    char buf[8192];
    const auto deadline = Clock::now() + timeout;
    if (error) *error = 0;
    while (Clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
        if (::poll(&p, 1, std::max(left, 1)) <= 0) continue;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && error) *error = errno;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

// Sends bytes on a fresh connection and returns everything answered until close.
std::string rawExchange(int port, const std::string& bytes) {
    int fd = connectTo(port);
    if (fd < 0) return "connect failed";
    sendAll(fd, bytes);
    std::string answer = readAll(fd, std::chrono::seconds(10));
    ::close(fd);
    return answer;
}

std::string statusLine(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

class FrontDoorTest : public ::testing::Test {
protected:
    // Thousands of connections from this process and in hubd (which inherits the
    // limit): as many descriptors as the hard limit allows.
    static void SetUpTestSuite() {
        rlimit limit{};
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < 12000) {
            limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? 12000 : std::min<rlim_t>(limit.rlim_max, 12000);
            setrlimit(RLIMIT_NOFILE, &limit);
        }
    }

    void SetUp() override {
        dir_ = std::make_unique<TempDir>("front-door");
        store_ = std::make_unique<hub::test::SameStore>(dir_->file("var"));
        fs::create_directories(dir_->file("plugins"));
        for (const char* plugin : {"testkit", "services"})
            fs::copy(std::string(TEST_PLUGINS_DIR) + "/" + plugin, dir_->file(std::string("plugins/") + plugin),
                     fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        dir_->write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_->file("hubd.port") + R"(</portFile><maxBodyBytes>65536</maxBodyBytes></http>
  )" + store_->xml() + R"(
  <plugins><dir>)" + dir_->file("plugins") + R"(</dir>
    <plugin name="testkit"><timeoutMs>2000</timeoutMs></plugin></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><issuer>front-door-test</issuer>
    <audience>campushub</audience></jwt></auth>
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <identity><static>
    <person id="2023010001" name="张三" department="student-affairs" audience="student"/>
    <person id="admin" name="Operator" audience="staff" roles="hub:admin"/>
    <person id="prometheus" name="Scraper" roles="hub:metrics"/>
  </static></identity>
</hub>)");
    }

    void TearDown() override {
        hubd_.reset();
        dir_.reset();
    }

    void startHubd(std::vector<std::string> defines = {}) {
        std::vector<std::string> args;
        for (auto& d : defines) args.push_back("--define=" + d);
        fs::remove(dir_->file("hubd.port"));
        hubd_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(*dir_, args));
    }

    std::string url(const std::string& path) const { return hubd_->url(path); }
    int port() const { return hubd_->port(); }

    // hubd is alive and answers its liveness probe.
    void expectHealthy(const std::string& after) {
        SCOPED_TRACE("after " + after);
        ASSERT_TRUE(hubd_->running()) << hubd_->output();
        hub::test::HttpResponse r;
        try {
            r = httpRequest("GET", url("/healthz"), "", {}, 10000);
        } catch (const std::exception& e) {
            FAIL() << "/healthz did not answer: " << e.what() << "\n" << hubd_->output();
        }
        EXPECT_EQ(r.status, 200) << r.body;
    }

    std::size_t openDescriptors() const {
        std::size_t n = 0;
        std::error_code ec;
        for (auto it = fs::directory_iterator("/proc/" + std::to_string(hubd_->pid()) + "/fd", ec);
             !ec && it != fs::directory_iterator(); it.increment(ec))
            ++n;
        return n;
    }

    std::unique_ptr<TempDir> dir_;
    std::unique_ptr<hub::test::SameStore> store_;
    std::unique_ptr<ChildProcess> hubd_;
};

TEST_F(FrontDoorTest, HostileTargetsHeadAndHugeTokensLeaveHubdAnswering) {
    startHubd();
    expectHealthy("start");
    const std::string close = "Host: x\r\nConnection: close\r\n\r\n";

    // Issue 13's crash: no token at all, a bad escape in a path parameter.
    std::string a = rawExchange(port(), "GET /api/v1/catalog/services/%zz HTTP/1.1\r\n" + close);
    EXPECT_EQ(statusLine(a), "HTTP/1.1 400 Bad Request") << a;
    EXPECT_NE(a.find("application/problem+json"), std::string::npos) << a;
    expectHealthy("%zz in the path");
    for (const char* target : {"/api/v1/catalog/services?q=%zz", "/api/v1/catalog/services?q=%E5%9C",
                               "/api/v1/catalog/services/%00", "/api/v1/applications?status=%", "/admin/plugins/%FF/reload"}) {
        a = rawExchange(port(), std::string("GET ") + target + " HTTP/1.1\r\n" + close);
        EXPECT_EQ(statusLine(a), "HTTP/1.1 400 Bad Request") << target << "\n" << a;
    }
    expectHealthy("malformed queries");
    // A valid token does not change it: the target is judged before anything else.
    auto r = httpRequest("GET", url("/api/v1/catalog/services?q=%FF"), "", bearer(token("2023010001")));
    EXPECT_EQ(r.status, 400) << r.body;

    // Non-canonical paths never reach a route.
    for (const char* target : {"/metrics/", "//admin//plugins", "/admin/./plugins", "/api/v1/../healthz", "/healthz/",
                               "/api/v1/%2e%2e/healthz"}) {
        a = rawExchange(port(), std::string("GET ") + target + " HTTP/1.1\r\n" + close);
        EXPECT_EQ(statusLine(a), "HTTP/1.1 404 Not Found") << target << "\n" << a;
    }
    expectHealthy("non-canonical paths");

    // HEAD on a kept-alive connection: a head alone, then the next answer in step.
    int fd = connectTo(port());
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(sendAll(fd, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                            "HEAD /api/v1/systems/testkit/operations/echo HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    a = readAll(fd, std::chrono::seconds(10));
    ::close(fd);
    const auto second = a.find("HTTP/1.1 405 ");
    const auto third = a.find("HTTP/1.1 200 ", 1);
    ASSERT_EQ(a.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << a;
    ASSERT_NE(second, std::string::npos) << a;
    ASSERT_NE(third, std::string::npos) << a;
    EXPECT_EQ(a.substr(0, second).find("{"), std::string::npos) << "HEAD got a body: " << a;
    EXPECT_NE(a.substr(0, second).find("Content-Length: 15\r\n"), std::string::npos) << a;
    EXPECT_EQ(a.substr(second, third - second).find("{"), std::string::npos) << "405 to HEAD got a body: " << a;
    EXPECT_NE(a.substr(second, third - second).find("Allow: POST\r\n"), std::string::npos) << a;
    EXPECT_NE(a.find("{\"status\":\"ok\"}", third), std::string::npos) << a;
    EXPECT_NE(a.find("\r\nDate: "), std::string::npos) << a;
    expectHealthy("HEAD");

    // A 100 KB token: over the header limit, refused before any verification.
    a = rawExchange(port(), "GET /api/v1/systems HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                                std::string(100 * 1024, 'a') + "\r\n\r\n");
    EXPECT_EQ(statusLine(a), "HTTP/1.1 431 Request Header Fields Too Large") << a.substr(0, 300);
    expectHealthy("a 100 KB token");
    // Just under the header limit, but far over the token limit: 401.
    r = httpRequest("GET", url("/api/v1/systems"), "", {{"Authorization", "Bearer " + std::string(12000, 'a')}});
    EXPECT_EQ(r.status, 401) << r.body;
    expectHealthy("a 12 KB token");
}

TEST_F(FrontDoorTest, HostileBodiesLeaveHubdAnswering) {
    startHubd();
    const auto call = [this](const std::string& body) {
        return httpRequest("POST", url("/api/v1/systems/testkit/operations/echo"), body, bearer(token("2023010001"))).status;
    };
    const std::vector<std::pair<std::string, int>> bodies = {
        {"{\"a\":", 400},
        {"\xff\xfe{}", 400},
        {"{\"x\":\"\xc3\x28\"}", 400},
        {"{\"x\":\"\xed\xa0\x80\"}", 400},
        {"{\"x\":\"\\ud800\"}", 400},
        {std::string("{\"x\":\"a\0b\"}", 11), 400},
        {std::string(30000, '[') + std::string(30000, ']'), 400},
        {"{\"x\":\"" + std::string(70000, '1') + "\"}", 413},
        {"{\"name\":\"张三\"}", 200},
    };
    for (const auto& [body, status] : bodies) {
        EXPECT_EQ(call(body), status) << body.substr(0, 40);
        expectHealthy("body " + body.substr(0, 20));
    }
    const std::string post = "POST /api/v1/systems/testkit/operations/echo HTTP/1.1\r\nHost: x\r\n"
                             "Authorization: Bearer " + token("2023010001") + "\r\nContent-Type: application/json\r\n";
    // Framing attacks: each answered 400 (or 413) and the connection closed.
    for (const std::string& framing : {
             std::string("Content-Length: -1\r\n\r\n{}"),
             std::string("Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"),
             std::string("Content-Length: 99999999999999999999999\r\n\r\n{}"),
             std::string("Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
             std::string("Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{}\r\n0\r\n\r\n"),
             std::string("Transfer-Encoding: chunked\r\n\r\n100000\r\n") + std::string(70000, ' '),
             std::string("Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
         }) {
        std::string a = rawExchange(port(), post + framing);
        EXPECT_TRUE(a.rfind("HTTP/1.1 400 ", 0) == 0 || a.rfind("HTTP/1.1 413 ", 0) == 0) << framing.substr(0, 60)
                                                                                          << "\n" << a.substr(0, 300);
        expectHealthy("framing " + framing.substr(0, 30));
    }
    // A body shorter than announced, then the client gives up.
    int fd = connectTo(port());
    ASSERT_GE(fd, 0);
    sendAll(fd, post + "Content-Length: 100\r\n\r\n{\"a\":");
    ::close(fd);
    expectHealthy("a truncated body");
}

// nginx's lingering close: a client that sends a whole 20 MiB body before reading
// gets the complete 413 and then the server's close, not a reset.
TEST_F(FrontDoorTest, AHugeBodySentBeforeReadingGetsTheWhole413) {
    startHubd();
    int fd = connectTo(port());
    ASSERT_GE(fd, 0);
    const std::size_t size = 20 * 1024 * 1024;
    ASSERT_TRUE(sendAll(fd, "POST /api/v1/systems/testkit/operations/echo HTTP/1.1\r\nHost: x\r\n"
                            "Content-Type: application/json\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n"));
    const std::string chunk(1024 * 1024, ' ');
    for (std::size_t sent = 0; sent < size; sent += chunk.size())
        ASSERT_TRUE(sendAll(fd, chunk)) << "the hub reset the connection after " << sent << " bytes: " << strerror(errno);
    int error = 0;
    std::string a = readAll(fd, std::chrono::seconds(20), &error);
    ::close(fd);
    EXPECT_EQ(error, 0) << strerror(error);
    EXPECT_EQ(statusLine(a), "HTTP/1.1 413 Payload Too Large") << a.substr(0, 300);
    const auto length = a.find("Content-Length: ");
    ASSERT_NE(length, std::string::npos) << a;
    const auto bodyAt = a.find("\r\n\r\n") + 4;
    EXPECT_EQ(a.size() - bodyAt, std::stoul(a.substr(length + 16))) << a;
    expectHealthy("a 20 MiB body");
}

// 5,000 connections that never send a byte (fewer if this machine's descriptor
// limit forbids) hold hubd's descriptors; it still answers, on a fresh
// connection and on one of the idle ones.
TEST_F(FrontDoorTest, ThousandsOfIdleConnectionsLeaveHubdAnswering) {
    startHubd();
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    const std::size_t wanted = 5000;
    const std::size_t allowed = limit.rlim_cur > 200 ? static_cast<std::size_t>(limit.rlim_cur) - 200 : 0;
    const std::size_t count = std::min(wanted, allowed);
    std::cout << "idle connections: " << count << " (descriptor limit " << limit.rlim_cur << ")" << std::endl;
    ASSERT_GT(count, 100u) << "the descriptor limit leaves no room for the test";
    const std::size_t before = openDescriptors();
    std::vector<int> idle;
    idle.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        int fd = connectTo(port());
        ASSERT_GE(fd, 0) << "connection " << i << ": " << strerror(errno);
        idle.push_back(fd);
    }
    // hubd has accepted them all (a descriptor each).
    hub::test::waitUntil([&] { return openDescriptors() >= before + count; }, std::chrono::seconds(30),
                         std::chrono::milliseconds(50));
    EXPECT_GE(openDescriptors(), before + count);
    expectHealthy(std::to_string(count) + " idle connections");
    ASSERT_TRUE(sendAll(idle.back(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    EXPECT_EQ(statusLine(readAll(idle.back(), std::chrono::seconds(10))), "HTTP/1.1 200 OK");
    for (int fd : idle) ::close(fd);
    expectHealthy("closing them");
}

// Slowloris: connections that dribble header bytes are cut at the read timeout
// (the whole request must arrive within it, however slowly it trickles), and a
// real client is answered while they hang on.
TEST_F(FrontDoorTest, SlowlorisIsCutAtTheReadTimeoutWithoutStarvingOthers) {
    startHubd({"http.readTimeoutSeconds=5"});
    const std::size_t count = 300;
    std::vector<int> slow;
    for (std::size_t i = 0; i < count; ++i) {
        int fd = connectTo(port());
        ASSERT_GE(fd, 0);
        ASSERT_TRUE(sendAll(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n"));
        slow.push_back(fd);
    }
    const auto started = Clock::now();
    std::vector<bool> closed(count, false);
    std::size_t closedCount = 0;
    bool answeredDuringAttack = false;
    std::size_t openWhenAnswered = 0;
    // One header byte per connection per round, until hubd has cut them all.
    while (closedCount < count && Clock::now() - started < std::chrono::seconds(30)) {
        for (std::size_t i = 0; i < count; ++i) {
            if (closed[i]) continue;
            pollfd p{slow[i], POLLIN, 0};
            char c;
            if ((::poll(&p, 1, 0) > 0 && ::recv(slow[i], &c, 1, MSG_DONTWAIT) <= 0) ||
                ::send(slow[i], "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                closed[i] = true;
                ++closedCount;
            }
        }
        if (!answeredDuringAttack && Clock::now() - started > std::chrono::milliseconds(500)) {
            auto r = httpRequest("GET", url("/healthz"), "", {}, 10000);
            EXPECT_EQ(r.status, 200);
            answeredDuringAttack = true;
            // Answered while every dribbling connection is still held open by hubd.
            for (std::size_t i = 0; i < count; ++i) {
                pollfd p{slow[i], POLLIN, 0};
                char c;
                openWhenAnswered += !(::poll(&p, 1, 0) > 0 && ::recv(slow[i], &c, 1, MSG_DONTWAIT | MSG_PEEK) <= 0);
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the dribble's pace: the attack under test
    }
    for (int fd : slow) ::close(fd);
    EXPECT_TRUE(answeredDuringAttack);
    EXPECT_EQ(openWhenAnswered, count) << "the real request was answered only after the attack was cut";
    EXPECT_EQ(closedCount, count) << "dribbling connections outlived the read timeout";
    expectHealthy("a slowloris");
}

// The client's X-Request-Id is stored beside the hub's own id, which is the one
// answered and the one in request_id.
TEST_F(FrontDoorTest, TheAuditKeepsTheHubsRequestIdAndTheClientsBesideIt) {
    startHubd();
    auto headers = bearer(token("2023010001"));
    headers["X-Request-Id"] = "portal-4711";
    auto r = httpRequest("POST", url("/api/v1/systems/testkit/operations/echo"), "{}", headers);
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string hubId = r.header("X-Request-Id");
    EXPECT_FALSE(hubId.empty());
    EXPECT_NE(hubId, "portal-4711");
    hubd_->signal(SIGTERM);
    ASSERT_TRUE(hubd_->wait(std::chrono::seconds(15)).has_value());
    hub::store::Database db(store_->options());
    auto s = db.session();
    std::string requestId, clientId;
    s << "SELECT request_id, client_request_id FROM audit_calls WHERE system = 'testkit'", into(requestId),
        into(clientId), now;
    EXPECT_EQ(requestId, hubId);
    EXPECT_EQ(clientId, "portal-4711");
}

std::string runCapturing(const std::string& command, int& status) {
    std::string out;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (!pipe) {
        status = -1;
        return out;
    }
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    status = ::pclose(pipe);
    return out;
}

// Two plugins loaded: HELP and TYPE once per family (they were repeated per
// plugin), checked by Prometheus' own parser; latency histograms per route
// pattern and per loaded plugin; every series dashboards already use.
TEST_F(FrontDoorTest, MetricsAreValidPrometheusTextWithTwoPlugins) {
    startHubd();
    for (int i = 0; i < 3; ++i) {
        ASSERT_EQ(httpRequest("POST", url("/api/v1/systems/testkit/operations/echo"), "{}", bearer(token("2023010001"))).status,
                  200);
        ASSERT_EQ(httpRequest("POST", url("/api/v1/systems/services/operations/services"), "{}", bearer(token("2023010001")))
                      .status,
                  200);
    }
    // An unknown system and a raw path with an id: neither becomes a label.
    EXPECT_EQ(httpRequest("POST", url("/api/v1/systems/no_such/operations/x"), "{}", bearer(token("2023010001"))).status, 404);
    EXPECT_EQ(httpRequest("GET", url("/api/v1/catalog/services/enrolment-certificate"), "", bearer(token("2023010001"))).status,
              200);
    auto r = httpRequest("GET", url("/metrics"));
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string& text = r.body;
    dir_->write("metrics.txt", text);
    int status = 0;
    std::string verdict = runCapturing("promtool check metrics < " + dir_->file("metrics.txt"), status);
    ASSERT_NE(status, -1);
    ASSERT_NE(WEXITSTATUS(status), 127) << "promtool is missing: scripts/setup.sh installs the prometheus package";
    EXPECT_EQ(status, 0) << verdict << "\n" << text;
    for (const char* family :
         {"hub_plugin_active_calls", "hub_plugin_queued_calls", "hub_plugin_calls_total", "hub_plugin_failures_total",
          "hub_plugin_up", "hub_plugins_refused", "hub_audit_records_written_total", "hub_audit_records_dropped_total",
          "hub_audit_queue_depth", "hub_events_outbox_depth", "hub_events_oldest_undelivered_seconds",
          "hub_events_deliveries_total", "hub_events_retries_total", "hub_events_dead_letters",
          "hub_events_inbound_refused_total", "hub_http_request_duration_seconds", "hub_http_responses_total",
          "hub_plugin_call_duration_seconds"}) {
        const std::string help = std::string("# HELP ") + family + " ";
        const auto first = text.find(help);
        EXPECT_NE(first, std::string::npos) << family << " missing";
        EXPECT_EQ(text.find(help, first + 1), std::string::npos) << family << " described twice";
    }
    EXPECT_NE(text.find("hub_plugin_up{plugin=\"testkit\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("hub_plugin_up{plugin=\"services\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("hub_plugin_call_duration_seconds_count{plugin=\"testkit\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("hub_plugin_call_duration_seconds_count{plugin=\"services\"} 3\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("plugin=\"no_such\""), std::string::npos) << text;
    EXPECT_NE(text.find("hub_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/systems/{system}/"
                        "operations/{operation}\"} 7\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("route=\"/api/v1/catalog/services/{id}\""), std::string::npos) << text;
    EXPECT_EQ(text.find("enrolment-certificate"), std::string::npos) << "a raw path became a label";
    // And the Python client's parser agrees, where it is installed.
    verdict = runCapturing("python3 -c 'import sys; from prometheus_client.parser import text_string_to_metric_families as p;"
                           " print(len(list(p(sys.stdin.read()))))' < " + dir_->file("metrics.txt"), status);
    if (status == 0) std::cout << "prometheus_client parsed " << verdict;
}

// metrics.requireToken: /metrics needs a token with hub:admin or hub:metrics.
TEST_F(FrontDoorTest, MetricsCanRequireAToken) {
    startHubd({"metrics.requireToken=true"});
    auto open = httpRequest("GET", url("/metrics"));
    EXPECT_EQ(open.status, 401) << open.body;
    EXPECT_EQ(httpRequest("GET", url("/metrics"), "", bearer(token("2023010001"))).status, 403);
    EXPECT_EQ(httpRequest("GET", url("/metrics"), "", bearer(token("admin"))).status, 200);
    auto scraper = httpRequest("GET", url("/metrics"), "", bearer(token("prometheus")));
    EXPECT_EQ(scraper.status, 200) << scraper.body;
    EXPECT_NE(scraper.body.find("# TYPE hub_plugin_up gauge"), std::string::npos);
    expectHealthy("metrics with a token");
}

// metrics.port: /metrics only on its own listener (for an ops network).
TEST_F(FrontDoorTest, MetricsCanListenOnTheirOwnAddress) {
    startHubd({"metrics.port=0", "metrics.portFile=" + dir_->file("metrics.port")});
    std::ifstream in(dir_->file("metrics.port"));
    int metricsPort = 0;
    ASSERT_TRUE(in >> metricsPort) << "no metrics.portFile";
    const std::string base = "http://127.0.0.1:" + std::to_string(metricsPort);
    auto r = httpRequest("GET", base + "/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("# TYPE hub_plugin_up gauge"), std::string::npos) << r.body;
    EXPECT_EQ(httpRequest("GET", base + "/healthz").status, 404) << "the ops listener serves /metrics alone";
    EXPECT_EQ(httpRequest("GET", url("/metrics")).status, 404) << "the API listener no longer serves /metrics";
    expectHealthy("metrics on their own port");
}

}  // namespace
