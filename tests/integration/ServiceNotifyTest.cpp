// hubd as a Type=notify service, without systemd: the test binds a unix
// datagram socket, hands it to hubd as NOTIFY_SOCKET (with WATCHDOG_USEC, as
// systemd does for WatchdogSec=), and reads what hubd tells the service
// manager: READY=1 once it listens, RELOADING=1 (with MONOTONIC_USEC) then
// READY=1 around a SIGHUP, WATCHDOG=1 every half period while its event loop
// answers and none while a plugin call holds that loop, STOPPING=1 on SIGTERM.
#include "hub/test/StoreBackend.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/TempDir.h"
#include "hub/test/Tokens.h"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <future>
#include <regex>

namespace fs = std::filesystem;
using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::hubdOptions;
using hub::test::TempDir;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kSecret = "notify-test-secret-0123456789-abcdefghij";

// The service manager's end: a bound AF_UNIX datagram socket.
class NotifySocket {
public:
    explicit NotifySocket(const std::string& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
            throw std::runtime_error("cannot bind " + path + ": " + std::strerror(errno));
    }
    ~NotifySocket() { ::close(fd_); }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    // The next message, or "" when none comes within `timeout`.
    std::string receive(std::chrono::milliseconds timeout) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
        char buffer[4096];
        ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
        return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
    }

    // Reads messages until one contains `what`; returns it, or "" at the deadline.
    // Messages read before it are appended to `seen`.
    std::string until(const std::string& what, std::vector<std::string>& seen,
                      std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
        const auto end = Clock::now() + deadline;
        while (Clock::now() < end) {
            std::string m = receive(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()));
            if (m.find(what) != std::string::npos) return m;
            if (!m.empty()) seen.push_back(m);
        }
        return {};
    }

private:
    std::string path_;
    int fd_ = -1;
};

class ServiceNotifyTest : public ::testing::Test {
protected:
    void start(const std::string& watchdogUsec) {
        fs::create_directories(dir_.file("plugins"));
        fs::copy(std::string(TEST_PLUGINS_DIR) + "/testkit", dir_.file("plugins/testkit"),
                 fs::copy_options::recursive);
        dir_.write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_.file("hubd.port") + R"(</portFile><ioThreads>1</ioThreads></http>
  )" + hub::test::storeXml(dir_.path()) + R"(
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <plugins><dir>)" + dir_.file("plugins") + R"(</dir>
    <plugin name="testkit"><execution>loop</execution><timeoutMs>20000</timeoutMs></plugin></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity><static><person id="2023010001" name="张三" department="student-affairs" audience="student"/></static></identity>
</hub>)");
        auto options = hubdOptions(dir_);
        options.env = {{"NOTIFY_SOCKET", dir_.file("notify")}};
        if (!watchdogUsec.empty()) options.env["WATCHDOG_USEC"] = watchdogUsec;
        hubd_ = std::make_unique<ChildProcess>(HUBD_EXE, options);
    }

    std::string token() { return hub::test::token(kSecret, "2023010001"); }

    TempDir dir_{"notify-test"};
    NotifySocket manager_{dir_.file("notify")};
    std::unique_ptr<ChildProcess> hubd_;
};

TEST_F(ServiceNotifyTest, ReadyReloadingReadyThenStopping) {
    start("");
    std::vector<std::string> seen;
    std::string ready = manager_.until("READY=1", seen);
    ASSERT_FALSE(ready.empty()) << hubd_->output();
    EXPECT_NE(ready.find("STATUS=serving on http://127.0.0.1:" + std::to_string(hubd_->port()) + "/"),
              std::string::npos)
        << ready;

    hubd_->signal(SIGHUP);
    std::string reloading = manager_.until("RELOADING=1", seen);
    ASSERT_FALSE(reloading.empty()) << hubd_->output();
    EXPECT_TRUE(std::regex_search(reloading, std::regex("MONOTONIC_USEC=[0-9]+"))) << reloading;
    std::string readyAgain = manager_.until("READY=1", seen);
    ASSERT_FALSE(readyAgain.empty()) << hubd_->output();
    EXPECT_NE(readyAgain.find("last reload"), std::string::npos) << readyAgain;

    hubd_->signal(SIGTERM);
    EXPECT_FALSE(manager_.until("STOPPING=1", seen).empty()) << hubd_->output();
    EXPECT_EQ(hubd_->wait(std::chrono::seconds(20)), 0) << hubd_->output();
    for (const auto& m : seen) EXPECT_EQ(m.find("WATCHDOG=1"), std::string::npos) << "no WatchdogSec, yet " << m;
}

TEST_F(ServiceNotifyTest, WatchdogOnlyWhileTheEventLoopAnswers) {
    start("400000");  // WatchdogSec=0.4s: WATCHDOG=1 every 200 ms
    std::vector<std::string> seen;
    ASSERT_FALSE(manager_.until("READY=1", seen).empty()) << hubd_->output();
    for (int i = 0; i < 3; ++i)
        ASSERT_FALSE(manager_.until("WATCHDOG=1", seen, std::chrono::seconds(10)).empty()) << hubd_->output();

    // A plugin call of execution=loop that sleeps holds the only event loop
    // for 4 s: about 20 pings would fall in that time; a hung hub must send
    // (nearly) none, so that systemd restarts it.
    auto call = std::async(std::launch::async, [&] {
        return hub::test::httpRequest("POST", hubd_->url("/api/v1/systems/testkit/operations/sleep"), R"({"ms":4000})",
                                      bearer(token()), 30000);
    });
    int pings = 0;
    while (call.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
        std::string m = manager_.receive(std::chrono::milliseconds(100));
        if (m.find("WATCHDOG=1") != std::string::npos) ++pings;
    }
    EXPECT_EQ(call.get().status, 200);
    // At most the ones before the call reached the loop (one heartbeat in
    // flight, one interval of slack).
    EXPECT_LE(pings, 3) << "the watchdog was fed while the event loop was held";
    // And once the loop is free again, the pings come back.
    EXPECT_FALSE(manager_.until("WATCHDOG=1", seen, std::chrono::seconds(10)).empty()) << hubd_->output();
}

}  // namespace
