// The plugin host against real test plugins (tests/plugins): loading, every
// refusal, calls, limits. No mocks: real dlopen, real threads.
#include "hub/host/Manifest.h"
#include "HostTestSupport.h"
#include "hub/host/PluginHost.h"
#include "hub/runtime/WorkerPool.h"
#include "hub/test/Eventually.h"

#include <semaphore>

#include <campushub/plugin.h>

#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <sstream>
#include <thread>

using hub::test::waitUntil;

namespace fs = std::filesystem;
using namespace hub::host;
using hub::runtime::WorkerPool;

namespace {

using hub::host::test::kTestPlugins;
// Calls are always someone's: the test plugins' operations admit any signed-in caller.
const Caller kUser{"2023010001", {"student"}, ""};

class HostTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_.createDirectories();
        dir_ = root_.path() + "/plugins";
        fs::create_directories(dir_);
    }

    void install(const std::string& name, const std::string& as = "") {
        fs::copy(kTestPlugins + "/" + name, dir_ + "/" + (as.empty() ? name : as), fs::copy_options::recursive);
    }

    void writeManifest(const std::string& folder, const std::string& xml) {
        fs::create_directories(dir_ + "/" + folder);
        Poco::FileOutputStream out(dir_ + "/" + folder + "/plugin.xml");
        out << xml;
    }

    std::unique_ptr<PluginHost> makeHost(const std::string& configXml = "<plugins/>", PluginLimits limits = {}) {
        std::istringstream in(configXml);
        config_ = new Poco::Util::XMLConfiguration(in);
        PluginHost::Options o;
        o.pluginsDir = dir_;
        o.config = config_;
        o.defaults = limits;
        auto host = std::make_unique<PluginHost>(o);
        host->loadAll();
        return host;
    }

    static std::string refusalFor(const PluginHost& host, const std::string& needle) {
        for (const auto& r : host.refusals())
            if (r.path.find(needle) != std::string::npos) return r.reason;
        return {};
    }

    CallResult call(PluginHost& host, const std::string& system, const std::string& op, const std::string& in,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
        std::promise<CallResult> promise;
        auto future = promise.get_future();
        auto submitted = host.submit(system, op, in, Caller{"2023010001", {"student"}, ""}, Clock::now() + timeout,
                                     [&promise](CallResult r) { promise.set_value(std::move(r)); });
        EXPECT_EQ(submitted, PluginHost::Submit::Accepted);
        if (submitted != PluginHost::Submit::Accepted) return {};
        return future.get();
    }

    Poco::TemporaryFile root_;
    std::string dir_;
    Poco::AutoPtr<Poco::Util::XMLConfiguration> config_;
};

}  // namespace

TEST_F(HostTest, LoadsAndCallsAGoodPlugin) {
    install("testkit");
    auto host = makeHost();
    ASSERT_TRUE(host->has("testkit")) << (host->refusals().empty() ? "" : host->refusals()[0].reason);
    auto r = call(*host, "testkit", "echo", R"({"name":"张三","n":1})");
    EXPECT_EQ(r.status, CH_OK);
    EXPECT_EQ(r.body, R"({"name":"张三","n":1})");
    auto list = host->list();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].version, "0.1.0");
    EXPECT_EQ(list[0].operations.size(), 9u);
    EXPECT_EQ(list[0].status, "up");
    EXPECT_EQ(list[0].circuit, "closed");
}

TEST_F(HostTest, PassesCallerAndConfig) {
    install("testkit");
    auto host = makeHost(R"(<plugins><plugin name="testkit"><config><greeting>你好</greeting></config></plugin></plugins>)");
    auto r = call(*host, "testkit", "caller", "{}");
    EXPECT_NE(r.body.find("2023010001"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("student"), std::string::npos) << r.body;
    r = call(*host, "testkit", "config", R"({"key":"greeting"})");
    EXPECT_EQ(r.status, CH_OK);
    EXPECT_EQ(r.body, R"({"value":"你好"})");
    r = call(*host, "testkit", "config", R"({"key":"absent"})");
    EXPECT_EQ(r.status, CH_ERR_NOT_FOUND);
}

TEST_F(HostTest, PluginErrorsBecomeStatusesNotCrashes) {
    install("testkit");
    auto host = makeHost();
    auto r = call(*host, "testkit", "fail", R"({"status":6,"detail":"vendor down"})");
    EXPECT_EQ(r.status, CH_ERR_UNAVAILABLE);
    EXPECT_EQ(r.body, "vendor down");
    r = call(*host, "testkit", "throw_std", "{}");
    EXPECT_EQ(r.status, CH_ERR_INTERNAL);
    EXPECT_NE(r.body.find("runtime_error"), std::string::npos);
    r = call(*host, "testkit", "echo", "");
    EXPECT_EQ(r.status, CH_OK);  // the plugin decides what input means; the API validates JSON first
    r = call(*host, "testkit", "sleep", "not json");
    EXPECT_EQ(r.status, CH_ERR_INVALID_ARGUMENT);
}

TEST_F(HostTest, RefusesWrongAbiMajorAndKeepsTheOthers) {
    install("testkit");
    install("wrong_abi");
    auto host = makeHost();
    EXPECT_FALSE(host->has("wrong_abi"));
    EXPECT_NE(refusalFor(*host, "wrong_abi").find("ABI 2.0"), std::string::npos) << refusalFor(*host, "wrong_abi");
    EXPECT_TRUE(host->has("testkit"));
    EXPECT_EQ(call(*host, "testkit", "echo", "{}").status, CH_OK);
}

TEST_F(HostTest, RefusesMissingEntrySymbol) {
    install("no_entry");
    auto host = makeHost();
    EXPECT_FALSE(host->has("no_entry"));
    EXPECT_NE(refusalFor(*host, "no_entry").find("campushub_plugin_entry"), std::string::npos);
}

TEST_F(HostTest, RefusesManifestLibraryMismatch) {
    install("mismatch");
    auto host = makeHost();
    EXPECT_FALSE(host->has("mismatch"));
    EXPECT_NE(refusalFor(*host, "mismatch").find("something_else 9.9.9"), std::string::npos)
        << refusalFor(*host, "mismatch");
}

TEST_F(HostTest, RefusesLibraryOutsideThePluginsFolder) {
    // A plugin folder that is a symlink to a folder elsewhere: its real path is
    // outside, so nothing in it may load.
    fs::create_directories(root_.path() + "/elsewhere");
    fs::copy(kTestPlugins + "/testkit", root_.path() + "/elsewhere/testkit", fs::copy_options::recursive);
    fs::create_directory_symlink(root_.path() + "/elsewhere/testkit", dir_ + "/testkit");
    // And a manifest whose library is a symlink pointing out.
    install("testkit", "linked");
    fs::remove(dir_ + "/linked/libtest_testkit.so");
    fs::create_symlink(root_.path() + "/elsewhere/testkit/libtest_testkit.so", dir_ + "/linked/libtest_testkit.so");
    auto host = makeHost();
    EXPECT_FALSE(host->has("testkit"));
    ASSERT_EQ(host->refusals().size(), 2u);
    for (const auto& r : host->refusals()) EXPECT_NE(r.reason.find("outside the plugins folder"), std::string::npos) << r.reason;
}

TEST_F(HostTest, RefusesBadManifestsNamingFileLineAndField) {
    writeManifest("malformed", "<plugin xmlns=\"urn:campushub:plugin:1\" name=\"x\"\n<oops>");
    writeManifest("noname", "<?xml version=\"1.0\"?>\n<plugin xmlns=\"urn:campushub:plugin:1\" version=\"1.0.0\""
                            " abi=\"1.0\" library=\"libx.so\"><operations><operation name=\"a\"/></operations></plugin>");
    writeManifest("xxe", "<?xml version=\"1.0\"?>\n<!DOCTYPE plugin [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
                         "<plugin xmlns=\"urn:campushub:plugin:1\" name=\"xxe\" version=\"1.0.0\" abi=\"1.0\""
                         " library=\"libx.so\"><description>&x;</description><operations><operation name=\"a\"/>"
                         "</operations></plugin>");
    writeManifest("traversal", "<plugin xmlns=\"urn:campushub:plugin:1\" name=\"traversal\" version=\"1.0.0\" abi=\"1.0\""
                               " library=\"../../lib/evil.so\"><operations><operation name=\"a\"/></operations></plugin>");
    writeManifest("badops", "<plugin xmlns=\"urn:campushub:plugin:1\" name=\"badops\" version=\"1.0.0\" abi=\"1.0\"\n"
                            " library=\"libx.so\"><operations>\n<operation name=\"a\"/>\n<operation name=\"a\"/>"
                            "</operations></plugin>");
    writeManifest("huge", std::string(300 * 1024, ' '));
    auto host = makeHost();
    EXPECT_TRUE(host->list().empty());
    EXPECT_NE(refusalFor(*host, "malformed").find("malformed/plugin.xml:2: "), std::string::npos);
    EXPECT_NE(refusalFor(*host, "noname").find("plugin.xml:2: "), std::string::npos) << refusalFor(*host, "noname");
    EXPECT_NE(refusalFor(*host, "noname").find("attribute 'name' is required"), std::string::npos);
    EXPECT_NE(refusalFor(*host, "xxe").find("DOCTYPE"), std::string::npos) << refusalFor(*host, "xxe");
    EXPECT_NE(refusalFor(*host, "traversal").find("attribute 'library'"), std::string::npos);
    EXPECT_NE(refusalFor(*host, "badops").find("plugin.xml:4: "), std::string::npos) << refusalFor(*host, "badops");
    EXPECT_NE(refusalFor(*host, "badops").find("Duplicate"), std::string::npos);
    EXPECT_NE(refusalFor(*host, "huge").find("exceeds the limit"), std::string::npos);
}

TEST_F(HostTest, RefusesMissingRequiredConfig) {
    fs::copy(TEST_REFERENCE_PLUGIN_DIR, dir_ + "/student_affairs", fs::copy_options::recursive);
    auto host = makeHost();
    EXPECT_FALSE(host->has("student_affairs"));
    EXPECT_NE(refusalFor(*host, "student_affairs").find("base_url"), std::string::npos);
}

TEST_F(HostTest, UnknownSystemAndOperation) {
    install("testkit");
    auto host = makeHost();
    auto ignore = [](CallResult) {};
    EXPECT_EQ(host->submit("nope", "echo", "{}", {}, Clock::now() + std::chrono::seconds(1), ignore),
              PluginHost::Submit::UnknownSystem);
    EXPECT_EQ(host->submit("testkit", "nope", "{}", {}, Clock::now() + std::chrono::seconds(1), ignore),
              PluginHost::Submit::UnknownOperation);
}

TEST_F(HostTest, BulkheadRefusesBeyondConcurrencyAndQueue) {
    install("testkit");
    auto host = makeHost(R"(<plugins><plugin name="testkit"><concurrency>2</concurrency><queue>1</queue></plugin></plugins>)");
    std::atomic<int> done{0};
    auto count = [&done](CallResult) { done++; };
    auto deadline = Clock::now() + std::chrono::seconds(10);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 6; ++i) {
        auto s = host->submit("testkit", "sleep", R"({"ms":300})", kUser, deadline, count);
        (s == PluginHost::Submit::Accepted ? accepted : refused)++;
    }
    EXPECT_EQ(accepted, 3);  // 2 running + 1 queued
    EXPECT_EQ(refused, 3);
    host.reset();  // drains the calls in flight before unloading
    EXPECT_EQ(done.load(), 3);
}

TEST_F(HostTest, CallQueuedPastItsDeadlineTimesOutWithoutRunning) {
    install("testkit");
    auto host = makeHost(R"(<plugins><plugin name="testkit"><concurrency>1</concurrency></plugin></plugins>)");
    std::promise<CallResult> first, second;
    host->submit("testkit", "sleep", R"({"ms":300})", kUser, Clock::now() + std::chrono::seconds(5),
                 [&](CallResult r) { first.set_value(r); });
    host->submit("testkit", "echo", "{}", kUser, Clock::now() + std::chrono::milliseconds(50),
                 [&](CallResult r) { second.set_value(r); });
    EXPECT_EQ(second.get_future().get().status, CH_ERR_TIMEOUT);
    EXPECT_EQ(first.get_future().get().status, CH_OK);
}

TEST(WorkerPool, RunsEverythingQueuedBeforeJoining) {
    std::atomic<int> ran{0};
    {
        WorkerPool pool("t", 2, 100);
        for (int i = 0; i < 50; ++i) ASSERT_TRUE(pool.trySubmit([&ran] { ran++; }));
    }
    EXPECT_EQ(ran.load(), 50);
}

TEST(WorkerPool, TakesAsManyTasksAsThreadsPlusQueueAtOnceThenRefuses) {
    std::counting_semaphore<64> gate{0};
    std::atomic<int> ran{0};
    {
        WorkerPool pool("t", 3, 2);
        auto blocked = [&] {
            gate.acquire();
            ran++;
        };
        // Right after construction: no thread has had time to start.
        for (int i = 0; i < 5; ++i) EXPECT_TRUE(pool.trySubmit(blocked)) << i;
        EXPECT_FALSE(pool.trySubmit(blocked));
        gate.release(5);
    }
    EXPECT_EQ(ran.load(), 5);
}

TEST(WorkerPool, ConcurrentSubmittersLoseNothing) {
    std::atomic<int> ran{0}, refused{0};
    {
        WorkerPool pool("t", 4, 1000000);
        std::vector<std::thread> submitters;
        for (int t = 0; t < 4; ++t)
            submitters.emplace_back([&] {
                for (int i = 0; i < 20000; ++i)
                    if (!pool.trySubmit([&ran] { ran++; })) refused++;
            });
        for (auto& t : submitters) t.join();
    }
    EXPECT_EQ(refused.load(), 0);
    EXPECT_EQ(ran.load(), 80000);
}

TEST(WorkerPool, RefusesOnceStopping) {
    WorkerPool pool("t", 2, 10);
    pool.shutdown();
    EXPECT_FALSE(pool.trySubmit([] {}));
    pool.shutdown();  // idempotent
}

namespace {

// Replaces a plugin's files the way an installer should: new files renamed into
// place, never rewritten under a running library.
void replaceWith(const std::string& folder, const std::string& from) {
    for (const auto& name : {std::string("libtest_testkit.so"), std::string("plugin.xml")}) {
        fs::copy_file(from + "/" + name, folder + "/." + name + ".new");
        fs::rename(folder + "/." + name + ".new", folder + "/" + name);
    }
}
}  // namespace

TEST_F(HostTest, ReloadUnderASteadyStreamOfCallsFailsNone) {
    install("testkit");
    auto host = makeHost(R"(<plugins><plugin name="testkit"><concurrency>4</concurrency><queue>1000</queue></plugin></plugins>)");
    ASSERT_EQ(host->list().at(0).version, "0.1.0");
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0}, failed{0}, refused{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t)
        callers.emplace_back([&] {
            while (!stop) {
                std::promise<CallResult> p;
                auto f = p.get_future();
                auto s = host->submit("testkit", "echo", R"({"n":1})", kUser, Clock::now() + std::chrono::seconds(5),
                                      [&p](CallResult r) { p.set_value(std::move(r)); });
                if (s != PluginHost::Submit::Accepted) {
                    refused++;
                    continue;
                }
                (f.get().status == CH_OK ? ok : failed)++;
            }
        });
    // Each step once calls are flowing: some before the first reload, more
    // after each (each wait bounded, so a stuck stream fails, not hangs).
    auto answered = [&](int n) { return waitUntil([&] { return ok.load() + failed.load() >= n; }); };
    EXPECT_TRUE(answered(40));
    replaceWith(dir_ + "/testkit", kTestPlugins + "/testkit_v2");
    auto changes = host->rescan();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0], "reloaded testkit 0.2.0");
    EXPECT_TRUE(answered(ok.load() + failed.load() + 40));
    EXPECT_EQ(host->reload("testkit"), "0.2.0");  // and again, by hand, from the admin API
    EXPECT_TRUE(answered(ok.load() + failed.load() + 40));
    stop = true;
    for (auto& t : callers) t.join();
    EXPECT_GT(ok.load(), 100);
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(refused.load(), 0);
    auto status = host->list().at(0);
    EXPECT_EQ(status.version, "0.2.0");
    EXPECT_EQ(status.generation, 3u);
    EXPECT_TRUE(host->rescan().empty());  // nothing changed since
}

TEST_F(HostTest, BadNewVersionKeepsTheRunningOne) {
    install("testkit");
    auto host = makeHost();
    {
        Poco::FileOutputStream out(dir_ + "/testkit/.plugin.xml.new");
        out << "<plugin xmlns=\"urn:campushub:plugin:1\" name=\"testkit\" version=\"oops\"/>";
    }
    fs::rename(dir_ + "/testkit/.plugin.xml.new", dir_ + "/testkit/plugin.xml");
    auto changes = host->rescan();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_NE(changes[0].find("refused"), std::string::npos) << changes[0];
    EXPECT_EQ(host->list().at(0).version, "0.1.0");
    EXPECT_EQ(call(*host, "testkit", "echo", "{}").status, CH_OK);
    EXPECT_TRUE(host->rescan().empty());  // not retried until it changes again
}

TEST_F(HostTest, RescanLoadsNewAndUnloadsRemovedPlugins) {
    auto host = makeHost();
    EXPECT_TRUE(host->list().empty());
    install("testkit");
    auto changes = host->rescan();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].rfind("loaded ", 0), 0u);
    EXPECT_EQ(call(*host, "testkit", "echo", "{}").status, CH_OK);
    // Removed while a call runs: the call finishes, later calls find no system.
    std::promise<CallResult> p;
    ASSERT_EQ(host->submit("testkit", "sleep", R"({"ms":300})", kUser, Clock::now() + std::chrono::seconds(5),
                           [&p](CallResult r) { p.set_value(r); }),
              PluginHost::Submit::Accepted);
    fs::remove_all(dir_ + "/testkit");
    changes = host->rescan();
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0], "unloaded testkit");
    EXPECT_EQ(p.get_future().get().status, CH_OK);
    EXPECT_FALSE(host->has("testkit"));
}

TEST_F(HostTest, CircuitOpensFailsFastAndRecoversThroughAProbe) {
    install("testkit");
    auto host = makeHost(R"(<plugins><plugin name="testkit"><failureThreshold>3</failureThreshold><openMs>300</openMs></plugin></plugins>)");
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(call(*host, "testkit", "fail", R"({"status":6})").status, CH_ERR_UNAVAILABLE);
    auto ignore = [](CallResult) {};
    EXPECT_EQ(host->submit("testkit", "echo", "{}", kUser, Clock::now() + std::chrono::seconds(1), ignore),
              PluginHost::Submit::CircuitOpen);
    EXPECT_EQ(host->list().at(0).status, "down");
    EXPECT_EQ(host->list().at(0).circuit, "open");
    // A caller's bad input is not the vendor's failure: it never opens the circuit.
    // Fails fast until openMs has passed; then the first call through is the probe.
    std::promise<CallResult> probe;
    EXPECT_TRUE(waitUntil([&] {
        auto s = host->submit("testkit", "echo", "{}", kUser, Clock::now() + std::chrono::seconds(5),
                              [&probe](CallResult r) { probe.set_value(std::move(r)); });
        EXPECT_TRUE(s == PluginHost::Submit::CircuitOpen || s == PluginHost::Submit::Accepted);
        return s == PluginHost::Submit::Accepted;
    }));
    EXPECT_EQ(probe.get_future().get().status, CH_OK);  // the probe succeeds
    EXPECT_EQ(host->list().at(0).circuit, "closed");
    for (int i = 0; i < 10; ++i) EXPECT_EQ(call(*host, "testkit", "fail", R"({"status":1})").status, CH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(host->list().at(0).circuit, "closed");
}

TEST_F(HostTest, HealthChangesAreReported) {
    install("testkit");
    std::istringstream in(R"(<plugins><plugin name="testkit"><failureThreshold>2</failureThreshold><openMs>60000</openMs></plugin></plugins>)");
    config_ = new Poco::Util::XMLConfiguration(in);
    PluginHost::Options o;
    o.pluginsDir = dir_;
    o.config = config_;
    std::mutex m;
    std::vector<std::string> seen;
    o.onHealthChanged = [&](const std::string& name, PluginHost::Health from, PluginHost::Health to, const std::string&) {
        std::lock_guard lock(m);
        seen.push_back(name + ":" + PluginHost::toString(from) + "->" + PluginHost::toString(to));
    };
    PluginHost host(o);
    host.loadAll();
    host.checkHealth();
    EXPECT_TRUE(seen.empty());
    call(host, "testkit", "fail", R"({"status":7})");
    call(host, "testkit", "fail", R"({"status":7})");
    host.checkHealth();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0], "testkit:up->down");
}
