// Process isolation against real worker processes: the crashy test plugin
// segfaults, aborts, exits and hangs inside hub-plugin-worker while the test
// (standing in for hubd) and other plugins keep going.
#include "hub/host/LoadedPlugin.h"
#include "hub/host/Manifest.h"
#include "hub/host/PluginHost.h"
#include "hub/host/ProcessPlugin.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <regex>
#include <signal.h>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
using hub::host::CallResult;
using hub::host::Caller;
using hub::host::Clock;
using hub::host::LoadError;
using hub::host::LoadedPlugin;
using hub::host::Manifest;
using hub::host::PluginConfig;
using hub::host::PluginHost;
using hub::host::ProcessPlugin;

namespace {

const std::string kCrashyDir = HUB_CRASHY_DIR;
const std::string kLibrary = kCrashyDir + "/libcrashy.so";

Manifest crashyManifest() { return hub::host::readManifest(kCrashyDir + "/plugin.xml"); }

ProcessPlugin::Options testOptions() {
    ProcessPlugin::Options o;
    o.workerExecutable = HUB_PLUGIN_WORKER;
    o.concurrency = 2;
    o.backoffInitial = 10ms;
    o.backoffMax = 100ms;
    o.killGrace = 200ms;
    o.stopTimeout = 2000ms;
    o.logLevel = "warning";
    return o;
}

std::unique_ptr<ProcessPlugin> start(ProcessPlugin::Options o = testOptions(), const std::string& config = "{}") {
    return std::make_unique<ProcessPlugin>(crashyManifest(), kLibrary, PluginConfig::fromJson(config), std::move(o));
}

CallResult call(hub::host::PluginInstance& p, const std::string& op, const std::string& input = "{}",
                std::chrono::milliseconds timeout = 10s, const Caller& caller = {"alice", {"student"}, ""}) {
    return p.invoke(op, input, caller, Clock::now() + timeout);
}

Poco::JSON::Object::Ptr parse(const std::string& json) {
    Poco::JSON::Parser parser;
    return parser.parse(json).extract<Poco::JSON::Object::Ptr>();
}

int workerPid(hub::host::PluginInstance& p) {
    CallResult r = call(p, "pid");
    EXPECT_EQ(r.status, CH_OK) << r.body;
    return r.status == CH_OK ? parse(r.body)->getValue<int>("pid") : 0;
}

bool processGone(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

/// Waits up to 20 s for something the supervisor does in the background.
template <class Predicate>
bool eventually(Predicate done) {
    for (auto until = Clock::now() + 20s; Clock::now() < until; std::this_thread::sleep_for(10ms))
        if (done()) return true;
    return done();
}

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
    Poco::Net::HTTPServer server(new Factory, socket, new Poco::Net::HTTPServerParams);
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
    server.stop();
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

// --- restarts: fast after a stable run, backed off in a crash loop (issue 20) ----

/// Keeps the lines logged under one logger, for tests that read the log.
class LogLines : public Poco::Channel {
public:
    void log(const Poco::Message& message) override {
        std::lock_guard lock(mutex_);
        lines_.push_back(message.getText());
    }
    std::vector<std::string> lines() const {
        std::lock_guard lock(mutex_);
        return lines_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

TEST(ProcessPluginRestart, TheCrashLineSaysHowLongItRanAndWhenItRestarts) {
    Poco::Logger& logger = Poco::Logger::get("hub.host.process");
    Poco::AutoPtr<Poco::Channel> previous(logger.getChannel());
    Poco::AutoPtr<LogLines> lines(new LogLines);
    logger.setChannel(lines);
    {
        auto plugin = start();
        EXPECT_EQ(call(*plugin, "segfault").status, CH_ERR_UNAVAILABLE);
        EXPECT_EQ(call(*plugin, "ok").status, CH_OK);
    }
    logger.setChannel(previous);
    std::regex crash("worker pid [0-9]+ was killed by SIGSEGV after [0-9]+ ms; restarting in [0-9]+ ms");
    int found = 0;
    for (const auto& line : lines->lines()) found += std::regex_search(line, crash);
    EXPECT_EQ(found, 1);
    if (found != 1)
        for (const auto& line : lines->lines()) ADD_FAILURE() << line;
}

// The supervisor's own defaults: backoff from 100 ms up to 10 s, reset by a
// worker that ran for a second.
ProcessPlugin::Options defaultRestartOptions() {
    auto o = testOptions();
    ProcessPlugin::Options defaults;
    o.backoffInitial = defaults.backoffInitial;
    o.backoffMax = defaults.backoffMax;
    o.stableAfter = defaults.stableAfter;
    return o;
}

TEST(ProcessPluginRestart, ACrashLoopIsBackedOff) {
    auto o = defaultRestartOptions();
    o.concurrency = 1;
    auto plugin = start(o);
    // Every call crashes its worker at once: for 3 s, as fast as the host lets us.
    auto until = Clock::now() + 3s;
    int calls = 0;
    while (Clock::now() < until) {
        ++calls;
        CallResult r = call(*plugin, "segfault", "{}", 500ms);
        EXPECT_EQ(r.status, CH_ERR_UNAVAILABLE) << r.body;
        EXPECT_GT(r.retryAfter.count(), 0) << r.body;
    }
    // 100 + 200 + 400 + 800 + 1600 ms: about five restarts fit, not hundreds.
    auto s = plugin->stats();
    EXPECT_LE(s.starts, 7u) << calls << " calls";
    EXPECT_GE(s.starts, 3u) << calls << " calls";
    EXPECT_GT(calls, static_cast<int>(s.starts));  // calls meanwhile failed fast
}

// Through the plugin host, as in hubd: its pool, its circuit breaker (5 failures
// open it for 5 s), the supervisor's defaults. Eight callers keep the worker
// busy; each time it has run a while, it is killed. The next call succeeds well
// within a second (bound: 3 s for busy machines), the calls that were in flight
// fail as a restart (retryAfter), and the circuit stays closed.
TEST(ProcessPluginRestart, AWorkerKilledAfterAStableRunIsBackAtOnceAndTheCircuitStaysClosed) {
    Poco::TemporaryFile root;
    root.createDirectories();
    std::filesystem::copy(kCrashyDir, root.path() + "/crashy", std::filesystem::copy_options::recursive);
    PluginHost::Options options;
    options.pluginsDir = root.path();
    options.process.workerExecutable = HUB_PLUGIN_WORKER;
    options.process.logLevel = "error";
    PluginHost host(options);
    host.loadAll();
    ASSERT_TRUE(host.has("crashy"));

    struct Answer {
        Clock::time_point sent, answered;
        CallResult result;
        PluginHost::Submit submit;
    };
    std::mutex answersMutex;
    std::vector<Answer> answers;
    std::atomic<bool> stop{false};
    auto callHost = [&](const std::string& op, const std::string& input) {
        Answer a;
        a.sent = Clock::now();
        std::promise<CallResult> promise;
        a.submit = host.submit("crashy", op, input, {"load", {}, ""}, Clock::now() + 5s,
                               [&promise](CallResult r) { promise.set_value(std::move(r)); });
        if (a.submit == PluginHost::Submit::Accepted) a.result = promise.get_future().get();
        else a.result.status = -1;
        a.answered = Clock::now();
        return a;
    };
    std::vector<std::thread> callers;
    for (int i = 0; i < 8; ++i)
        callers.emplace_back([&] {
            while (!stop) {
                Answer a = callHost("slow", R"({"ms":20})");
                std::lock_guard lock(answersMutex);
                answers.push_back(std::move(a));
            }
        });
    auto upSince = Clock::now();  // the first worker is up since loadAll()
    for (int kill = 0; kill < 3; ++kill) {
        // A stable run: the worker answers calls sent 1.5 s (stableAfter is 1 s)
        // after it was up.
        ASSERT_TRUE(eventually([&] {
            std::lock_guard lock(answersMutex);
            return std::any_of(answers.begin(), answers.end(), [&](const Answer& a) {
                return a.result.status == CH_OK && a.sent >= upSince + 1500ms;
            });
        })) << "no stable run before kill " << kill;
        Answer pid = callHost("pid", "{}");
        ASSERT_EQ(pid.result.status, CH_OK) << pid.result.body;
        auto killedAt = Clock::now();
        ASSERT_EQ(::kill(parse(pid.result.body)->getValue<int>("pid"), SIGKILL), 0);
        Clock::time_point back{};
        ASSERT_TRUE(eventually([&] {
            std::lock_guard lock(answersMutex);
            for (const auto& a : answers)
                if (a.result.status == CH_OK && a.sent > killedAt) back = a.answered;
            return back != Clock::time_point{};
        })) << "no successful call after kill " << kill;
        EXPECT_LT(back - killedAt, 3s) << "kill " << kill << ": next success after "
                                       << std::chrono::duration_cast<std::chrono::milliseconds>(back - killedAt).count()
                                       << " ms";
        EXPECT_EQ(host.list().at(0).circuit, "closed") << "kill " << kill;
        upSince = back;
    }
    stop = true;
    for (auto& t : callers) t.join();
    int restartFailures = 0;
    for (const auto& a : answers) {
        EXPECT_NE(a.submit, PluginHost::Submit::CircuitOpen);
        if (a.result.status == CH_OK) continue;
        EXPECT_EQ(a.result.status, CH_ERR_UNAVAILABLE) << a.result.body;
        EXPECT_GT(a.result.retryAfter.count(), 0) << a.result.body;
        ++restartFailures;
    }
    EXPECT_GT(restartFailures, 0);  // the calls in flight at each kill
}

}  // namespace
