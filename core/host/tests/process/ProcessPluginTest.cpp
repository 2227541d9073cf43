// Process isolation against real worker processes: the crashy test plugin
// segfaults, aborts, exits and hangs inside hub-plugin-worker while the test
// (standing in for hubd) and other plugins keep going.
#include "ProcessTestSupport.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/TemporaryFile.h>
#include <Poco/ThreadPool.h>
#include <Poco/Util/MapConfiguration.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace hub::host::test;

namespace {

// ---------------------------------------------------------------------------

TEST(ProcessPlugin, CallsRoundTripThroughAWorkerProcess) {
    auto plugin = start();
    EXPECT_EQ(plugin->manifest().name, "crashy");
    EXPECT_EQ(parse(plugin->describeJson())->getValue<std::string>("version"), "1.0.0");
    std::string input = R"({"name":"张三","note":"在读证明 \"quoted\""})";
    CallResult r = call(*plugin, "ok", input);
    EXPECT_EQ(r.status, CH_OK) << r.body;
    EXPECT_EQ(r.body, input);
    int pid = workerPid(*plugin);
    EXPECT_GT(pid, 0);
    EXPECT_NE(pid, ::getpid());
    EXPECT_EQ(plugin->stats().pid, pid);
    CallResult h = plugin->health();
    EXPECT_EQ(h.status, CH_OK);
    EXPECT_EQ(parse(h.body)->getValue<std::string>("status"), "up");
    auto s = plugin->stats();
    EXPECT_TRUE(s.ready);
    EXPECT_EQ(s.starts, 1u);
    EXPECT_EQ(s.exits, 0u);
}

TEST(ProcessPlugin, UnloadStopsTheWorker) {
    auto plugin = start();
    int pid = workerPid(*plugin);
    plugin.reset();
    EXPECT_TRUE(processGone(pid));
}

TEST(ProcessPlugin, HostServicesWorkInsideTheWorker) {
    // A local HTTP server for the plugin's http_request.
    class Handler : public Poco::Net::HTTPRequestHandler {
    public:
        void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
            resp.setContentType("text/plain; charset=utf-8");
            resp.send() << "你好 " << req.getURI();
        }
    };
    class Factory : public Poco::Net::HTTPRequestHandlerFactory {
    public:
        Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
            return new Handler;
        }
    };
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    // Its own pool, joined at the end: a connection thread still unregistering
    // from the server as it is destroyed is a race (TSan; SoapTestServer.h).
    Poco::ThreadPool pool(1, 4);
    Poco::Net::HTTPServer server(new Factory, pool, socket, new Poco::Net::HTTPServerParams);
    server.start();

    Poco::AutoPtr<Poco::Util::MapConfiguration> config(new Poco::Util::MapConfiguration);
    config->setString("greeting", "欢迎, \"friend\"");
    config->setString("auth.user", "svc-hub");
    std::string configJson = PluginConfig::fromSection(config.get()).json();
    EXPECT_EQ(parse(configJson)->getValue<std::string>("auth.user"), "svc-hub");
    auto plugin = start(testOptions(), configJson);

    CallResult r = call(*plugin, "config", R"({"key":"greeting"})");
    ASSERT_EQ(r.status, CH_OK) << r.body;
    EXPECT_EQ(parse(r.body)->getValue<std::string>("value"), "欢迎, \"friend\"");
    r = call(*plugin, "config", R"({"key":"auth.user"})");
    ASSERT_EQ(r.status, CH_OK) << r.body;
    EXPECT_EQ(parse(r.body)->getValue<std::string>("value"), "svc-hub");
    EXPECT_EQ(call(*plugin, "config", R"({"key":"missing"})").status, CH_ERR_NOT_FOUND);

    r = call(*plugin, "whoami", "{}", 10s, Caller{"李四", {"staff", "ro\"le"}, "王五"});
    ASSERT_EQ(r.status, CH_OK) << r.body;
    auto who = parse(r.body);
    EXPECT_EQ(who->getValue<std::string>("subject"), "李四");
    EXPECT_EQ(who->getValue<std::string>("acting_for"), "王五");
    EXPECT_EQ(who->getArray("roles")->getElement<std::string>(1), "ro\"le");

    // The deadline travels as time remaining, so it holds in the worker's clock.
    r = call(*plugin, "remaining", "{}", 5s);
    ASSERT_EQ(r.status, CH_OK) << r.body;
    int remaining = parse(r.body)->getValue<int>("ms");
    EXPECT_GT(remaining, 0);
    EXPECT_LE(remaining, 5000);

    std::string url = "http://127.0.0.1:" + std::to_string(socket.address().port()) + "/students/2023";
    r = call(*plugin, "fetch", R"({"url":")" + url + "\"}");
    ASSERT_EQ(r.status, CH_OK) << r.body;
    EXPECT_EQ(parse(r.body)->getValue<int>("status"), 200);
    EXPECT_EQ(parse(r.body)->getValue<std::string>("body"), "你好 /students/2023");
    r = call(*plugin, "fetch", R"({"url":"http://127.0.0.1:1/nothing"})");
    EXPECT_EQ(r.status, CH_ERR_UNAVAILABLE) << r.body;

    EXPECT_EQ(call(*plugin, "log", R"({"message":"hello from the worker 日志"})").status, CH_OK);
    server.stopAll(true);
    pool.joinAll();
}

TEST(ProcessPlugin, BadInputIsAnsweredNotCrashedOn) {
    auto plugin = start();
    EXPECT_EQ(call(*plugin, "ok", "{not json").status, CH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(call(*plugin, "ok", "").status, CH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(call(*plugin, "no_such_operation").status, CH_ERR_UNKNOWN_OPERATION);
    std::string garbage("{\"x\":\"\xff\xfe\xc0\x80\"}\0\0tail", 16);
    CallResult r = call(*plugin, "ok", garbage);
    EXPECT_TRUE(r.status == CH_OK || r.status == CH_ERR_INVALID_ARGUMENT) << r.status;
    r = call(*plugin, std::string("o\0k", 3));
    EXPECT_EQ(r.status, CH_ERR_UNKNOWN_OPERATION);
    EXPECT_EQ(call(*plugin, "slow", R"({"ms":-5})").status, CH_ERR_INVALID_ARGUMENT);

    // 8 MiB of UTF-8 travels whole.
    std::string big = "{\"blob\":\"";
    while (big.size() < 8 * 1024 * 1024) big += "学生事务 student affairs ";
    big += "\"}";
    r = call(*plugin, "ok", big, 30s);
    ASSERT_EQ(r.status, CH_OK);
    EXPECT_EQ(r.body, big);

    // A deadline already past gets its timeout without bothering the worker.
    r = plugin->invoke("ok", "{}", {}, Clock::now() - 1s);
    EXPECT_EQ(r.status, CH_ERR_TIMEOUT);

    EXPECT_EQ(call(*plugin, "ok").status, CH_OK);
    EXPECT_EQ(plugin->stats().exits, 0u);
}

void expectCrashIsContained(const std::string& operation, const std::string& expectedWords) {
    auto victim = start();
    auto neighbour = start();  // another process plugin, same library
    LoadedPlugin inproc(crashyManifest(), kLibrary, hub::host::PluginServices{});
    int before = workerPid(*victim);

    CallResult r = call(*victim, operation);
    EXPECT_EQ(r.status, CH_ERR_UNAVAILABLE) << r.body;
    EXPECT_NE(r.body.find(expectedWords), std::string::npos) << r.body;

    EXPECT_EQ(call(*neighbour, "ok", R"({"still":"here"})").status, CH_OK);
    EXPECT_EQ(call(inproc, "ok", R"({"still":"here"})").status, CH_OK);

    // The worker comes back and the next call succeeds.
    CallResult later = call(*victim, "ok", R"({"after":"crash"})");
    EXPECT_EQ(later.status, CH_OK) << later.body;
    int after = workerPid(*victim);
    EXPECT_NE(after, before);
    EXPECT_TRUE(processGone(before));
    auto s = victim->stats();
    EXPECT_EQ(s.exits, 1u);
    EXPECT_EQ(s.starts, 2u);
    EXPECT_EQ(neighbour->stats().exits, 0u);
}

TEST(ProcessPlugin, SegfaultInInvokeGivesUnavailableAndWorkerRestarts) {
    expectCrashIsContained("segfault", "SIGSEGV");
}

TEST(ProcessPlugin, AbortInInvokeGivesUnavailableAndWorkerRestarts) {
    expectCrashIsContained("abort", "SIGABRT");
}

TEST(ProcessPlugin, ExitInInvokeGivesUnavailableAndWorkerRestarts) {
    expectCrashIsContained("exit", "status 7");
}

TEST(ProcessPlugin, EveryCallInFlightGetsUnavailableWhenTheWorkerCrashes) {
    auto o = testOptions();
    o.concurrency = 4;
    auto plugin = start(o);
    std::vector<CallResult> results(3);
    std::vector<std::thread> threads;
    for (auto& result : results)
        threads.emplace_back([&] { result = call(*plugin, "slow", R"({"ms":20000})", 30s); });
    // The slow calls hold their channels to the worker.
    ASSERT_TRUE(eventually([&] { return plugin->stats().callsInFlight == 3; }));
    CallResult crash = call(*plugin, "segfault");
    for (auto& t : threads) t.join();
    EXPECT_EQ(crash.status, CH_ERR_UNAVAILABLE) << crash.body;
    for (const auto& r : results) EXPECT_EQ(r.status, CH_ERR_UNAVAILABLE) << r.body;
    EXPECT_EQ(call(*plugin, "ok").status, CH_OK);
}

TEST(ProcessPlugin, HangHitsItsTimeoutAndTheWorkerIsKilledAndRestarted) {
    auto plugin = start();
    auto neighbour = start();
    int before = workerPid(*plugin);
    auto t0 = Clock::now();
    CallResult r = call(*plugin, "hang", "{}", 300ms);
    auto took = Clock::now() - t0;
    EXPECT_EQ(r.status, CH_ERR_TIMEOUT) << r.body;
    // Returns at its deadline, not after the kill grace (generous bound: noisy machines).
    EXPECT_LT(took, 300ms + 5s);
    EXPECT_EQ(call(*neighbour, "ok").status, CH_OK);

    // killGrace after the deadline, the worker is killed as hung and replaced.
    // Wait until the killed worker is also reaped: a call sent in between may still
    // reach the dying worker and get the crash answer (503).
    EXPECT_TRUE(eventually([&] {
        auto st = plugin->stats();
        return st.hangKills == 1 && st.exits == 1;
    }));
    CallResult later = call(*plugin, "ok", "{}", 10s);
    EXPECT_EQ(later.status, CH_OK) << later.body;
    EXPECT_NE(workerPid(*plugin), before);
    EXPECT_TRUE(processGone(before));
    auto s = plugin->stats();
    EXPECT_EQ(s.hangKills, 1u);
    EXPECT_EQ(s.exits, 1u);
}

TEST(ProcessPlugin, LateReplyWithinTheGraceDoesNotKillTheWorker) {
    auto o = testOptions();
    o.killGrace = 3000ms;
    auto plugin = start(o);
    int before = workerPid(*plugin);
    CallResult r = call(*plugin, "slow", R"({"ms":400})", 100ms);
    EXPECT_EQ(r.status, CH_ERR_TIMEOUT) << r.body;
    // Once the late reply is taken the call is settled: a missed one would have
    // killed the worker at the end of the grace instead.
    EXPECT_TRUE(eventually([&] { return plugin->stats().lateReplies == 1; }));
    EXPECT_EQ(plugin->stats().hangKills, 0u);
    EXPECT_EQ(workerPid(*plugin), before);
    // Both channels are free again.
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int i = 0; i < 2; ++i)
        threads.emplace_back([&] { ok += call(*plugin, "slow", R"({"ms":100})", 10s).status == CH_OK; });
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, 2);
    EXPECT_EQ(plugin->stats().exits, 0u);
}

TEST(ProcessPlugin, UnloadWhileTheWorkerHangsKillsIt) {
    auto o = testOptions();
    o.concurrency = 1;
    o.killGrace = 60s;
    o.stopTimeout = 300ms;
    auto plugin = start(o);
    int pid = workerPid(*plugin);
    EXPECT_EQ(call(*plugin, "hang", "{}", 100ms).status, CH_ERR_TIMEOUT);
    // The only call channel is still busy: another call waits for it, then times
    // out; health has a channel of its own and still gets through.
    EXPECT_EQ(call(*plugin, "ok", "{}", 200ms).status, CH_ERR_TIMEOUT);
    CallResult h = plugin->health();
    EXPECT_EQ(parse(h.body)->getValue<std::string>("status"), "up") << h.body;
    plugin.reset();
    EXPECT_TRUE(processGone(pid));
}

TEST(ProcessPlugin, ConcurrentCallsEachGetTheirOwnAnswer) {
    auto o = testOptions();
    o.concurrency = 4;
    auto plugin = start(o);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                std::string input = "{\"thread\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
                CallResult r = call(*plugin, "ok", input);
                if (r.status != CH_OK || r.body != input) ++wrong;
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(plugin->stats().exits, 0u);
}

TEST(ProcessPlugin, ThousandCrashesInARowLeaveTheHubServing) {
    auto o = testOptions();
    o.concurrency = 1;
    o.backoffInitial = 1ms;
    o.backoffMax = 1ms;
    auto victim = start(o);
    auto neighbour = start();
    LoadedPlugin inproc(crashyManifest(), kLibrary, hub::host::PluginServices{});

    std::atomic<bool> done{false};
    std::atomic<int> neighbourCalls{0}, neighbourFailures{0};
    std::thread traffic([&] {
        while (!done) {
            ++neighbourCalls;
            if (call(*neighbour, "ok", R"({"n":1})").status != CH_OK) ++neighbourFailures;
            if (call(inproc, "ok", R"({"n":2})").status != CH_OK) ++neighbourFailures;
            // Steady traffic, not a spin: a busy loop here took a core from the
            // restarts under test (and from the tests running beside this one).
            std::this_thread::sleep_for(2ms);
        }
    });
    constexpr int kCrashes = 1000;
    int wrong = 0;
    for (int i = 0; i < kCrashes; ++i) {
        // Every affected call gets its error, not a timeout: within its deadline.
        CallResult r = call(*victim, i % 2 ? "abort" : "segfault", "{}", 10s);
        if (r.status != CH_ERR_UNAVAILABLE && ++wrong < 5) ADD_FAILURE() << "crash " << i << ": " << r.status << " " << r.body;
    }
    done = true;
    traffic.join();
    EXPECT_EQ(wrong, 0);
    EXPECT_EQ(neighbourFailures, 0);
    EXPECT_GT(neighbourCalls, 0);
    EXPECT_EQ(call(*victim, "ok").status, CH_OK);
    EXPECT_EQ(victim->stats().exits, static_cast<std::uint64_t>(kCrashes));
}

TEST(ProcessPlugin, CallsWhileTheWorkerIsDownFailFastAndHealthSaysDown) {
    auto o = testOptions();
    o.backoffInitial = 5s;
    o.backoffMax = 5s;
    auto plugin = start(o);
    EXPECT_EQ(call(*plugin, "segfault").status, CH_ERR_UNAVAILABLE);
    // The next start is 5 s away, beyond this call's deadline: no point waiting.
    CallResult r = call(*plugin, "ok", "{}", 1s);
    EXPECT_EQ(r.status, CH_ERR_UNAVAILABLE) << r.body;
    CallResult h = plugin->health();
    EXPECT_EQ(h.status, CH_OK);
    EXPECT_EQ(parse(h.body)->getValue<std::string>("status"), "down") << h.body;
    // A call whose deadline reaches past the restart waits for it.
    EXPECT_EQ(call(*plugin, "ok", "{}", 20s).status, CH_OK);
}

// --- refusals: each names why -------------------------------------------------

std::string loadError(ProcessPlugin::Options o, const std::string& config = "{}", Manifest m = crashyManifest(),
                      const std::string& library = kLibrary) {
    try {
        ProcessPlugin p(std::move(m), library, PluginConfig::fromJson(config), std::move(o));
    } catch (const LoadError& e) {
        return e.what();
    }
    return "(loaded)";
}

TEST(ProcessPlugin, CreateFailureInTheWorkerIsRefusedWithItsReason) {
    std::string e = loadError(testOptions(), R"({"fail_create":"true"})");
    EXPECT_NE(e.find("fail_create is set"), std::string::npos) << e;
}

TEST(ProcessPlugin, MissingLibraryIsRefused) {
    std::string e = loadError(testOptions(), "{}", crashyManifest(), kCrashyDir + "/libnothere.so");
    EXPECT_NE(e.find("libnothere.so"), std::string::npos) << e;
}

TEST(ProcessPlugin, ManifestThatDoesNotMatchTheLibraryIsRefused) {
    std::string dir = Poco::TemporaryFile::tempName();
    ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
    std::ifstream in(kCrashyDir + "/plugin.xml");
    std::stringstream text;
    text << in.rdbuf();
    std::string xml = text.str();
    xml.replace(xml.find("version=\"1.0.0\""), 15, "version=\"2.0.0\"");
    std::string path = dir + "/plugin.xml";
    std::ofstream(path) << xml;
    std::string e = loadError(testOptions(), "{}", hub::host::readManifest(path));
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
    EXPECT_NE(e.find("2.0.0"), std::string::npos) << e;
}

TEST(ProcessPlugin, MissingWorkerExecutableIsRefused) {
    auto o = testOptions();
    o.workerExecutable = "/nonexistent/hub-plugin-worker";
    std::string e = loadError(o);
    EXPECT_NE(e.find("cannot start"), std::string::npos) << e;
}

TEST(ProcessPlugin, WorkerThatExitsAtOnceIsRefused) {
    auto o = testOptions();
    o.workerExecutable = "/bin/false";
    std::string e = loadError(o);
    EXPECT_NE(e.find("exited with status 1"), std::string::npos) << e;
}

TEST(ProcessPlugin, WorkerThatNeverGetsReadyIsRefusedAfterTheStartTimeout) {
    std::string script = Poco::TemporaryFile::tempName() + ".sh";
    std::ofstream(script) << "#!/bin/sh\nexec sleep 60\n";
    ::chmod(script.c_str(), 0700);
    auto o = testOptions();
    o.workerExecutable = script;
    o.startTimeout = 300ms;
    std::string e = loadError(o);
    ::unlink(script.c_str());
    EXPECT_NE(e.find("did not get ready"), std::string::npos) << e;
}

}  // namespace
