// How long a worker crash costs a process-isolated plugin (issue 20): the crashy
// test plugin runs in a worker process under PluginHost (its pool and circuit
// breaker included, as in hubd) while client threads call it at a steady pace;
// the worker is killed with SIGKILL after each stable period, and the time from
// the kill to the next successful call submitted after it is recorded. Prints
// the median and the maximum, and what the callers saw meanwhile.
//
// Run: bench/host_process/bench_host_restart [kills=20] [stableMs=5000] [clients=4] [paceMs=5]
#include <Poco/Util/AbstractConfiguration.h>  // before PluginHost.h, which needs it (older versions do not include it)

#include "hub/host/PluginHost.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using hub::host::Clock;
using hub::host::PluginHost;
using namespace std::chrono_literals;

namespace {

struct Outcome {
    int status = -1;  // ch_status, or -1 when submit refused it
    PluginHost::Submit submit = PluginHost::Submit::Accepted;
    std::string body;
};

// One call through the host, waited for.
Outcome callOnce(PluginHost& host, const std::string& op, std::chrono::milliseconds timeout) {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    Outcome out;
    out.submit = host.submit("crashy", op, "{}", {"bench", {}, ""}, Clock::now() + timeout,
                             [&](hub::host::CallResult r) {
                                 std::lock_guard lock(m);
                                 out.status = r.status;
                                 out.body = std::move(r.body);
                                 done = true;
                                 cv.notify_all();
                             });
    if (out.submit != PluginHost::Submit::Accepted) return out;
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return done; });
    return out;
}

int workerPid(PluginHost& host) {
    for (auto until = Clock::now() + 60s; Clock::now() < until; std::this_thread::sleep_for(10ms)) {
        Outcome r = callOnce(host, "pid", 2000ms);
        if (r.status == CH_OK) {
            Poco::JSON::Parser parser;
            return parser.parse(r.body).extract<Poco::JSON::Object::Ptr>()->getValue<int>("pid");
        }
    }
    return 0;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
    const int kills = argc > 1 ? std::atoi(argv[1]) : 20;
    const auto stable = std::chrono::milliseconds(argc > 2 ? std::atoi(argv[2]) : 5000);
    const int clients = argc > 3 ? std::atoi(argv[3]) : 4;
    const auto pace = std::chrono::milliseconds(argc > 4 ? std::atoi(argv[4]) : 5);

    // PluginHost loads only libraries inside its plugins folder: a private copy.
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("campushub-restart-bench-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    fs::copy(HUB_CRASHY_DIR, dir / "crashy", fs::copy_options::recursive);

    PluginHost::Options options;
    options.pluginsDir = dir.string();
    options.process.workerExecutable = HUB_PLUGIN_WORKER;
    options.process.logLevel = "error";
    int failures = 0;
    {
        PluginHost host(options);
        host.loadAll();
        if (!host.has("crashy")) {
            std::fprintf(stderr, "crashy did not load\n");
            return 1;
        }

        // Each client: a call of "ok", then a pause; every answer stamped.
        struct Answer {
            Clock::time_point sent, answered;
            bool ok;
        };
        std::mutex answersMutex;
        std::vector<Answer> answers;
        std::atomic<bool> stop{false};
        std::atomic<int> failedCalls{0}, circuitOpen{0};
        std::vector<std::thread> threads;
        for (int c = 0; c < clients; ++c)
            threads.emplace_back([&] {
                while (!stop) {
                    auto sent = Clock::now();
                    Outcome r = callOnce(host, "ok", 5000ms);
                    Answer a{sent, Clock::now(), r.status == CH_OK};
                    if (!a.ok) ++failedCalls;
                    if (r.submit == PluginHost::Submit::CircuitOpen) ++circuitOpen;
                    {
                        std::lock_guard lock(answersMutex);
                        answers.push_back(a);
                    }
                    std::this_thread::sleep_for(pace);
                }
            });

        std::vector<double> recovery;
        for (int k = 0; k < kills; ++k) {
            std::this_thread::sleep_for(stable);
            int pid = workerPid(host);
            if (pid <= 0) {
                std::fprintf(stderr, "no worker pid\n");
                ++failures;
                break;
            }
            auto killedAt = Clock::now();
            ::kill(pid, SIGKILL);
            // The first success among calls sent after the kill.
            Clock::time_point back{};
            for (auto until = killedAt + 120s; Clock::now() < until && back == Clock::time_point{};) {
                std::this_thread::sleep_for(1ms);
                std::lock_guard lock(answersMutex);
                for (const auto& a : answers)
                    if (a.ok && a.sent > killedAt && (back == Clock::time_point{} || a.answered < back))
                        back = a.answered;
            }
            if (back == Clock::time_point{}) {
                std::fprintf(stderr, "kill %d: no success within 120 s\n", k + 1);
                ++failures;
                break;
            }
            recovery.push_back(ms(back - killedAt));
            std::lock_guard lock(answersMutex);
            std::printf("kill %2d: next success after %8.1f ms\n", k + 1, recovery.back());
            std::fflush(stdout);
            answers.clear();
        }
        stop = true;
        for (auto& t : threads) t.join();

        if (!recovery.empty()) {
            std::vector<double> sorted = recovery;
            std::sort(sorted.begin(), sorted.end());
            std::printf("load: %d client threads, one \"ok\" call each then %lld ms pause; %d kills (SIGKILL) "
                        "after %lld ms stable each\n",
                        clients, static_cast<long long>(pace.count()), static_cast<int>(recovery.size()),
                        static_cast<long long>(stable.count()));
            std::printf("kill -> next successful call: median %.1f ms, max %.1f ms, min %.1f ms\n",
                        sorted[sorted.size() / 2], sorted.back(), sorted.front());
            std::printf("failed calls: %d, of them refused by an open circuit: %d\n", failedCalls.load(),
                        circuitOpen.load());
        }
    }
    fs::remove_all(dir);
    return failures ? 1 : 0;
}
