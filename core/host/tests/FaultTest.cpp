// Faults inside the hub's own machinery, against real test plugins (issue 13,
// "no input and no fault inside stops hubd"): tasks and completions that throw,
// a log channel that fails, host services given what a careless plugin passes,
// a name server that never answers, refusals that must go once fixed, reloads
// racing rescans.
#include "hub/host/LoadedPlugin.h"
#include "HostTestSupport.h"
#include "hub/host/Manifest.h"
#include "hub/host/PluginHost.h"
#include "hub/runtime/WorkerPool.h"
#include "hub/test/Eventually.h"
#include "hub/http/Client.h"

#include <campushub/plugin.h>

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/FileChannel.h>
#include <Poco/FileStream.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/NullChannel.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <latch>
#include <netdb.h>
#include <sstream>
#include <thread>

using hub::test::waitUntil;

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace hub::host;
using hub::runtime::WorkerPool;

namespace {

using hub::host::test::kTestPlugins;

using hub::host::test::parse;


// Points a logger at a file in a folder that does not exist: every line it logs
// throws (Poco::FileNotFoundException), as a file channel on a vanished or full
// disk does. Puts the logger back as it was when the test ends.
class FailingLog {
public:
    explicit FailingLog(const std::string& name)
        : logger_(Poco::Logger::get(name)), previous_(logger_.getChannel()), level_(logger_.getLevel()) {
        logger_.setChannel(new Poco::FileChannel("/nonexistent-campushub-test-dir/hub.log"));
        logger_.setLevel(Poco::Message::PRIO_DEBUG);
    }
    ~FailingLog() {
        logger_.setChannel(previous_);
        logger_.setLevel(level_);
    }

private:
    Poco::Logger& logger_;
    Poco::AutoPtr<Poco::Channel> previous_;
    int level_;
};

class FaultTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_.createDirectories();
        dir_ = root_.path() + "/plugins";
        fs::create_directories(dir_);
    }

    void install(const std::string& from, const std::string& as) {
        fs::copy(from, dir_ + "/" + as, fs::copy_options::recursive);
    }

    std::unique_ptr<PluginHost> makeHost(const std::string& configXml = "<plugins/>", hub::http::Client* http = nullptr) {
        std::istringstream in(configXml);
        config_ = new Poco::Util::XMLConfiguration(in);
        PluginHost::Options o;
        o.pluginsDir = dir_;
        o.config = config_;
        o.http = http;
        o.process.workerExecutable = HUB_PLUGIN_WORKER;
        o.process.logLevel = "warning";
        auto host = std::make_unique<PluginHost>(o);
        host->loadAll();
        return host;
    }

    static CallResult call(PluginHost& host, const std::string& system, const std::string& op, const std::string& in,
                           std::chrono::milliseconds timeout = 10s) {
        std::promise<CallResult> promise;
        auto future = promise.get_future();
        auto submitted = host.submit(system, op, in, Caller{"2023010001", {"student"}, ""}, Clock::now() + timeout,
                                     [&promise](CallResult r) { promise.set_value(std::move(r)); });
        EXPECT_EQ(submitted, PluginHost::Submit::Accepted) << system << "." << op;
        if (submitted != PluginHost::Submit::Accepted) return {-1, "not accepted"};
        return future.get();
    }

    Poco::TemporaryFile root_;
    std::string dir_;
    Poco::AutoPtr<Poco::Util::XMLConfiguration> config_;
};

}  // namespace

// ---- threads that must not die ---------------------------------------------

TEST(WorkerPoolFaults, ATaskThatThrowsEndsThereAndEveryThreadServesOn) {
    WorkerPool pool("faults", 2, 100);
    ASSERT_TRUE(pool.trySubmit([] { throw std::runtime_error("a std::exception from a task"); }));
    ASSERT_TRUE(pool.trySubmit([] { throw 42; }));
    ASSERT_TRUE(pool.trySubmit([] { throw Poco::FileException("/var/lib/campushub/hub.db"); }));
    ASSERT_TRUE(pool.trySubmit([] { throw Poco::Exception("a Poco::Exception"); }));
    EXPECT_TRUE(waitUntil([&] { return pool.failed() == 4; })) << pool.failed();
    // Both threads are still there: two tasks that can only finish together do.
    std::latch both(2);
    std::atomic<int> met{0};
    for (int i = 0; i < 2; ++i)
        ASSERT_TRUE(pool.trySubmit([&] {
            both.count_down();
            if (waitUntil([&] { return both.try_wait(); }, 5s)) ++met;
        }));
    EXPECT_TRUE(waitUntil([&] { return met.load() == 2; }));
    std::atomic<int> ran{0};
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.trySubmit([&] { ++ran; }));
    pool.shutdown();
    EXPECT_EQ(ran.load(), 50);
    EXPECT_EQ(pool.failed(), 4u);
}

TEST_F(FaultTest, CompletionsThatThrowLeaveThePluginsPoolServing) {
    install(kTestPlugins + "/testkit", "testkit");
    auto host = makeHost(R"(<plugins><plugin name="testkit"><concurrency>1</concurrency></plugin></plugins>)");
    ASSERT_TRUE(host->has("testkit"));
    std::atomic<int> completions{0};
    auto submit = [&](std::function<void()> thrower) {
        return host->submit("testkit", "echo", "{}", Caller{"2023010001", {}, "", {"student"}}, Clock::now() + 5s, [&, thrower](CallResult) {
            ++completions;
            thrower();
        });
    };
    ASSERT_EQ(submit([] { throw std::logic_error("a completion that throws"); }), PluginHost::Submit::Accepted);
    ASSERT_EQ(submit([] { throw 42; }), PluginHost::Submit::Accepted);
    ASSERT_EQ(submit([] { throw Poco::IOException("the connection went away"); }), PluginHost::Submit::Accepted);
    // Each completion ran once (it had its answer), and the one worker thread lives.
    EXPECT_TRUE(waitUntil([&] { return completions.load() == 3; }));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(call(*host, "testkit", "echo", R"({"n":1})").status, CH_OK);
    EXPECT_EQ(completions.load(), 3);
}

// The circuit breaker logs when it opens; with a log channel that throws, the
// call still ends, with an error, and the pool goes on.
TEST_F(FaultTest, AFailingLogChannelInTheHubStillEndsTheCallWithAnError) {
    install(kTestPlugins + "/testkit", "testkit");
    auto host = makeHost(
        R"(<plugins><plugin name="testkit"><concurrency>1</concurrency><failureThreshold>2</failureThreshold></plugin></plugins>)");
    ASSERT_TRUE(host->has("testkit"));
    CallResult second;
    {
        FailingLog failing("hub.host");
        EXPECT_EQ(call(*host, "testkit", "fail", R"({"status":6})").status, CH_ERR_UNAVAILABLE);
        second = call(*host, "testkit", "fail", R"({"status":6})");  // opens the circuit: logs
    }
    EXPECT_EQ(second.status, CH_ERR_INTERNAL) << second.body;
    EXPECT_NE(second.body.find("the hub failed while running the call"), std::string::npos) << second.body;
    EXPECT_EQ(call(*host, "testkit", "echo", "{}").status, CH_OK);
}

// ---- the host services' C boundary ---------------------------------------------

TEST_F(FaultTest, HostServicesSurviveWhatAPluginPassesThem) {
    install(kTestPlugins + "/services", "services");
    auto host = makeHost(R"(<plugins><plugin name="services"><config>
        <greeting>你好</greeting><deep><er>x</er></deep></config></plugin></plugins>)");
    ASSERT_TRUE(host->has("services")) << (host->refusals().empty() ? "" : host->refusals()[0].reason);
    {
        // A log channel that throws: the plugin's call is not failed for a log line.
        FailingLog failing("hub.plugin.services");
        CallResult r = call(*host, "services", "log", R"({"message":"磁盘已满 disk full"})");
        EXPECT_EQ(r.status, CH_OK) << r.body;
        r = call(*host, "services", "log", R"({"message":"bytes","raw":true})");
        EXPECT_EQ(r.status, CH_OK) << r.body;
    }
    {
        // Bytes that are not UTF-8, a NUL, 4 MiB of text: logged (cut), answered.
        Poco::Logger& log = Poco::Logger::get("hub.plugin.services");
        Poco::AutoPtr<Poco::Channel> previous(log.getChannel());
        log.setChannel(new Poco::NullChannel);
        CallResult r = call(*host, "services", "log", R"({"message":"学生事务 ","repeat":400000,"raw":true})");
        log.setChannel(previous);
        ASSERT_EQ(r.status, CH_OK) << r.body;
        EXPECT_GT(parse(r.body)->getValue<Poco::UInt64>("logged"), 4000000u);
    }
    auto lookup = [&](const std::string& key, bool raw = false) {
        Poco::JSON::Object in;
        in.set("key", key);
        in.set("raw", raw);
        std::ostringstream text;
        in.stringify(text);
        CallResult r = call(*host, "services", "config", text.str());
        EXPECT_EQ(r.status, CH_OK) << key << ": " << r.body;
        return r.status == CH_OK ? parse(r.body) : Poco::JSON::Object::Ptr(new Poco::JSON::Object);
    };
    EXPECT_EQ(lookup("greeting")->getValue<std::string>("value"), "你好");
    EXPECT_EQ(lookup("deep.er")->getValue<std::string>("value"), "x");
    for (const std::string& key : {std::string(""), std::string("a["), std::string("[@name="),
                                   std::string("deep[99].er"), std::string("..."), std::string("${greeting}"),
                                   std::string("deep]]]"), std::string(100000, 'k'), std::string("greeting")})
        EXPECT_NO_THROW(lookup(key)) << key.substr(0, 20);
    EXPECT_FALSE(lookup("greeting", true)->getValue<bool>("found"));
    EXPECT_EQ(call(*host, "services", "services", "{}").status, CH_OK);
}

// A config value that refers to itself cannot be read: the plugin is refused at
// load, with the reason saying so, rather than failing each config_get later.
TEST_F(FaultTest, AConfigValueThatRefersToItselfRefusesThePluginSayingWhy) {
    install(kTestPlugins + "/services", "services");
    auto host = makeHost(R"(<plugins><plugin name="services"><config><loop>${loop}</loop></config></plugin></plugins>)");
    EXPECT_FALSE(host->has("services"));
    ASSERT_EQ(host->refusals().size(), 1u);
    EXPECT_NE(host->refusals()[0].reason.find("services: config key 'loop' cannot be read: Circular reference"),
              std::string::npos)
        << host->refusals()[0].reason;
}

// ---- name resolution bounded by the call's deadline ------------------------------

namespace {

std::mutex gStallMutex;
std::condition_variable gStallReleased;
bool gStallRelease = false;

// A name server that never answers for names under stall.invalid, until released.
int stallingLookUp(const char* host, const char* service, const addrinfo* hints, addrinfo** result) {
    if (std::string_view(host).ends_with("stall.invalid")) {
        std::unique_lock lock(gStallMutex);
        gStallReleased.wait_for(lock, 60s, [] { return gStallRelease; });
        return EAI_AGAIN;
    }
    return ::getaddrinfo(host, service, hints, result);
}

}  // namespace

TEST_F(FaultTest, ANameThatNeverResolvesEndsThePluginsCallAtItsDeadline) {
    install(HUB_CRASHY_DIR, "crashy");
    hub::http::Client::Options options;
    options.lookUp = &stallingLookUp;
    hub::http::Client http(options);
    auto host = makeHost(R"(<plugins><plugin name="crashy"><isolation>inproc</isolation></plugin></plugins>)", &http);
    ASSERT_TRUE(host->has("crashy")) << (host->refusals().empty() ? "" : host->refusals()[0].reason);
    auto started = Clock::now();
    CallResult r = call(*host, "crashy", "fetch", R"({"url":"http://vendor.stall.invalid/students"})", 500ms);
    EXPECT_EQ(r.status, CH_ERR_TIMEOUT) << r.body;
    EXPECT_LT(Clock::now() - started, 5s);  // at the deadline, not when the lookup ends
    {
        std::lock_guard lock(gStallMutex);
        gStallRelease = true;
    }
    gStallReleased.notify_all();
}

// ---- refusals --------------------------------------------------------------------

TEST_F(FaultTest, ARefusalIsListedOnceAndGoesWhenThePluginLoads) {
    install(kTestPlugins + "/testkit", "testkit");
    // A manifest that names a library that is not there.
    std::string manifest = dir_ + "/testkit/plugin.xml";
    std::string good;
    {
        std::ifstream in(manifest);
        std::stringstream text;
        text << in.rdbuf();
        good = text.str();
    }
    std::string broken = good;
    broken.replace(broken.find("libtest_testkit.so"), 18, "libtest_notthere.so");
    auto replace = [&](const std::string& text) {
        {
            Poco::FileOutputStream out(manifest + ".new");
            out << text;
        }
        fs::rename(manifest + ".new", manifest);
    };
    replace(broken);
    auto host = makeHost();
    ASSERT_EQ(host->refusals().size(), 1u);
    EXPECT_NE(host->refusals()[0].reason.find("not found"), std::string::npos) << host->refusals()[0].reason;
    // Unchanged: not tried again, not listed twice, not reported again.
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(host->rescan().empty());
    EXPECT_EQ(host->refusals().size(), 1u);
    // Fixed: it loads, and the refusal is gone.
    replace(good);
    auto changes = host->rescan();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].rfind("loaded ", 0), 0u) << changes[0];
    EXPECT_TRUE(host->has("testkit"));
    EXPECT_TRUE(host->refusals().empty()) << host->refusals()[0].reason;
    // A refused new version is listed until a good one replaces it.
    replace(broken);
    EXPECT_EQ(host->rescan().size(), 1u);
    EXPECT_EQ(host->refusals().size(), 1u);
    replace(good);
    changes = host->rescan();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0], "reloaded testkit 0.1.0");
    EXPECT_TRUE(host->refusals().empty());
    // The refusal of a folder that is removed goes with it.
    install(kTestPlugins + "/wrong_abi", "wrong_abi");
    host->rescan();
    EXPECT_EQ(host->refusals().size(), 1u);
    fs::remove_all(dir_ + "/wrong_abi");
    host->rescan();
    EXPECT_TRUE(host->refusals().empty());
}

TEST_F(FaultTest, AWorkersRefusalNamesThePluginOnce) {
    install(HUB_CRASHY_DIR, "crashy");
    auto host = makeHost(R"(<plugins><plugin name="crashy"><config><fail_create>true</fail_create></config></plugin></plugins>)");
    ASSERT_EQ(host->refusals().size(), 1u);
    const std::string reason = host->refusals()[0].reason;
    EXPECT_EQ(reason.rfind("crashy: ", 0), 0u) << reason;
    EXPECT_EQ(reason.find("crashy", 1), std::string::npos) << reason;
    EXPECT_NE(reason.find("fail_create is set"), std::string::npos) << reason;
}

// ---- reload and rescan at once -----------------------------------------------------

// reload() writes the slot's stamp and config while rescan() reads them: both
// under the host mutex (a data race for TSan otherwise). Reloads from a shadow
// copy leave the folder as it was, so rescans in between find nothing to do.
TEST_F(FaultTest, ReloadsRacingRescansSeeOneConsistentState) {
    install(kTestPlugins + "/testkit", "testkit");
    auto host = makeHost(R"(<plugins><plugin name="testkit"><config><greeting>你好</greeting></config></plugin></plugins>)");
    ASSERT_TRUE(host->has("testkit"));
    std::atomic<bool> done{false};
    std::atomic<int> reloads{0}, spurious{0};
    std::thread reloader([&] {
        for (int i = 0; i < 30; ++i) {
            host->reload("testkit");
            ++reloads;
        }
        done = true;
    });
    std::thread scanner([&] {
        while (!done)
            for (const auto& change : host->rescan()) {
                ++spurious;
                ADD_FAILURE() << change;
            }
    });
    reloader.join();
    scanner.join();
    EXPECT_EQ(reloads.load(), 30);
    EXPECT_EQ(spurious.load(), 0);
    EXPECT_TRUE(host->refusals().empty());
    EXPECT_EQ(host->list().at(0).generation, 31u);
    CallResult r = call(*host, "testkit", "config", R"({"key":"greeting"})");
    EXPECT_EQ(r.body, R"({"value":"你好"})");
}
