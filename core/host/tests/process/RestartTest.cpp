// Restarts of a plugin's worker process (issue 20): a worker that ran a while
// is back at once, a crash loop is backed off, restart failures do not open
// the circuit. Real hub-plugin-worker processes, the crashy test plugin.
#include "ProcessTestSupport.h"

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/TemporaryFile.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <regex>
#include <vector>

using namespace hub::host::test;

namespace {

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
    // Every call crashes its worker at once, as fast as the host lets us, for 3 s
    // and until a call is refused at once because the next start is further off
    // than its deadline (on a slow, instrumented run that takes longer), 10 s at most.
    const auto began = Clock::now();
    int calls = 0, refusedAtOnce = 0;
    while (Clock::now() < began + 10s && (Clock::now() < began + 3s || refusedAtOnce == 0)) {
        ++calls;
        CallResult r = call(*plugin, "segfault", "{}", 500ms);
        // An instrumented worker on a loaded machine can take longer than the
        // call's 500 ms to die: that call times out, the others are restarts.
        if (r.status == CH_ERR_TIMEOUT) continue;
        EXPECT_EQ(r.status, CH_ERR_UNAVAILABLE) << r.body;
        EXPECT_GT(r.retryAfter.count(), 0) << r.body;
        if (r.body.find("is down and restarts in") != std::string::npos) ++refusedAtOnce;
    }
    // Restarts after 100, 200, 400 ... ms: in 10 s at most 7 of them (the next
    // would start after 12.7 s), plus the first start; not hundreds.
    auto s = plugin->stats();
    EXPECT_LE(s.starts, 8u) << calls << " calls";
    EXPECT_GE(s.starts, 3u) << calls << " calls";
    EXPECT_GE(refusedAtOnce, 1) << calls << " calls";  // calls meanwhile failed fast
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
