// The web console's static files as hubd serves them under /console: content
// types, ETags, pre-compressed copies, and hostile paths that must never reach
// a file outside console.dir (a real hubd on loopback; the files are made here,
// so the test needs no npm).
#include "hub/test/StoreBackend.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/TempDir.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

namespace fs = std::filesystem;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::hubdOptions;
using hub::test::TempDir;

namespace {

const std::string kSecret = "console-test-secret-0123456789-abcdefgh";
const std::string kMarker = "NOT-FOR-YOUR-EYES";

// One request on a fresh connection, the target sent exactly as written.
std::string rawGet(int port, const std::string& target) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        if (fd >= 0) ::close(fd);
        return "connect failed";
    }
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string out;
    char buf[8192];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

std::string hubXml(TempDir& dir, const std::string& consoleDir) {
    return R"(<hub>
  <http><port>0</port><portFile>)" + dir.file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir.file("var")) + R"(
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <plugins><dir>)" + dir.file("plugins") + R"(</dir></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret></jwt></auth>
  <console><dir>)" + consoleDir + R"(</dir></console>
</hub>)";
}

class ConsoleTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir("console-test");
        fs::create_directories(dir_->file("plugins"));
        fs::create_directories(dir_->file("web/assets"));
        dir_->write("web/index.html", "<!doctype html><title>控制台</title><script src=\"/console/assets/app-1a2b.js\"></script>");
        dir_->write("web/assets/app-1a2b.js", "console.log('hub');");
        dir_->write("web/assets/app-1a2b.js.gz", "pretend-gzip-bytes");
        dir_->write("web/.hidden", kMarker);
        dir_->write("secret.txt", kMarker);  // beside console.dir, never inside it
        fs::create_symlink(dir_->file("secret.txt"), dir_->file("web/link.txt"));
        fs::create_directory_symlink(dir_->path(), dir_->file("web/up"));
        dir_->write("hub.xml", hubXml(*dir_, dir_->file("web")));
        hubd_ = new ChildProcess(HUBD_EXE, hubdOptions(*dir_));
    }
    static void TearDownTestSuite() {
        delete hubd_;
        delete dir_;
    }
    static TempDir* dir_;
    static ChildProcess* hubd_;
};

TempDir* ConsoleTest::dir_ = nullptr;
ChildProcess* ConsoleTest::hubd_ = nullptr;

TEST_F(ConsoleTest, ServesTheIndexWithoutATokenAndWithItsHeaders) {
    auto r = httpRequest("GET", hubd_->url("/console"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "text/html; charset=utf-8");
    EXPECT_NE(r.body.find("控制台"), std::string::npos);
    EXPECT_EQ(r.header("Cache-Control"), "no-cache");
    EXPECT_EQ(r.header("X-Content-Type-Options"), "nosniff");
    EXPECT_NE(r.header("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(httpRequest("GET", hubd_->url("/console/index.html")).body, r.body);
    // HEAD: the same head, no body.
    auto head = httpRequest("HEAD", hubd_->url("/console"));
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.body.empty());
}

TEST_F(ConsoleTest, AnswersAMatchingIfNoneMatchWith304) {
    auto r = httpRequest("GET", hubd_->url("/console/assets/app-1a2b.js"));
    ASSERT_EQ(r.status, 200);
    const std::string etag = r.header("ETag");
    ASSERT_EQ(etag.size(), 34u) << etag;  // a quoted MD5
    auto again = httpRequest("GET", hubd_->url("/console/assets/app-1a2b.js"), "", {{"If-None-Match", etag}});
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(again.header("ETag"), etag);
    EXPECT_EQ(httpRequest("GET", hubd_->url("/console/assets/app-1a2b.js"), "",
                          {{"If-None-Match", "\"other\", W/" + etag}}).status,
              304);
    EXPECT_EQ(httpRequest("GET", hubd_->url("/console/assets/app-1a2b.js"), "", {{"If-None-Match", "\"other\""}}).status,
              200);
}

TEST_F(ConsoleTest, AssetsHaveTheirTypeAreImmutableAndComePreCompressed) {
    auto plain = httpRequest("GET", hubd_->url("/console/assets/app-1a2b.js"));
    EXPECT_EQ(plain.header("Content-Type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(plain.header("Cache-Control"), "public, max-age=31536000, immutable");
    EXPECT_EQ(plain.body, "console.log('hub');");
    EXPECT_EQ(plain.header("Vary"), "Accept-Encoding");
    auto gzip = httpRequest("GET", hubd_->url("/console/assets/app-1a2b.js"), "", {{"Accept-Encoding", "br, gzip"}});
    EXPECT_EQ(gzip.header("Content-Encoding"), "gzip");
    EXPECT_EQ(gzip.body, "pretend-gzip-bytes");
    auto refused = httpRequest("GET", hubd_->url("/console/assets/app-1a2b.js"), "", {{"Accept-Encoding", "gzip;q=0"}});
    EXPECT_EQ(refused.body, "console.log('hub');");
    // The .gz itself is not a file of the console.
    EXPECT_EQ(httpRequest("GET", hubd_->url("/console/assets/app-1a2b.js.gz")).status, 404);
}

TEST_F(ConsoleTest, HostilePathsReachNothingOutsideTheFolder) {
    const std::string overlong(4000, 'a');
    const std::vector<std::string> targets = {
        "/console/../secret.txt",          "/console/%2e%2e/secret.txt",      "/console/%2E%2e/%2e%2E/etc/passwd",
        "/console/..%2fsecret.txt",        "/console/assets/..%2f..%2fsecret.txt", "/console/%2fetc%2fpasswd",
        "/console/.hidden",                "/console/%2ehidden",              "/console/link.txt",
        "/console/up/secret.txt",          "/console/up/web/.hidden",         "/console/%00",
        "/console/index.html%00.js",       "/console/%c0%ae%c0%ae/secret.txt", "/console/assets%5c..%5csecret.txt",
        "/console/" + overlong,            "/console/a/b/c/d",                "/console//secret.txt",
        "/console/./index.html",           "/console/index.html/",            "/console/~root"};
    for (const auto& target : targets) {
        std::string answer = rawGet(hubd_->port(), target);
        SCOPED_TRACE(target.substr(0, 80));
        std::string status = answer.substr(0, answer.find("\r\n"));
        EXPECT_TRUE(status == "HTTP/1.1 404 Not Found" || status == "HTTP/1.1 400 Bad Request") << status;
        EXPECT_EQ(answer.find(kMarker), std::string::npos);
    }
    // And hubd still serves.
    EXPECT_EQ(httpRequest("GET", hubd_->url("/console")).status, 200);
}

TEST_F(ConsoleTest, AnswersOnlyGetAndHead) {
    auto r = httpRequest("POST", hubd_->url("/console/index.html"), "{}");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.header("Allow"), "GET, HEAD");
}

// Built without npm (or a wrong console.dir): the hub runs, /console says why it is missing.
TEST(ConsoleMissingTest, AnswersA404ThatSaysTheConsoleIsNotBuilt) {
    TempDir dir("console-missing");
    fs::create_directories(dir.file("plugins"));
    dir.write("hub.xml", hubXml(dir, dir.file("no-such-folder")));
    ChildProcess hubd(HUBD_EXE, hubdOptions(dir));
    for (const char* path : {"/console", "/console/assets/app.js"}) {
        auto r = httpRequest("GET", hubd.url(path));
        EXPECT_EQ(r.status, 404);
        EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
        EXPECT_NE(r.body.find("console is not installed"), std::string::npos) << r.body;
    }
    EXPECT_EQ(httpRequest("GET", hubd.url("/healthz")).status, 200);
}

}  // namespace
