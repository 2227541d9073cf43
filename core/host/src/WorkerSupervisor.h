#pragma once
// Private to core/host.

#include "WorkerGeneration.h"

#include "hub/host/ProcessPlugin.h"

#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace Poco {
class Logger;
}

namespace hub::host {

/// When the next worker starts after one is gone: at once if it had been up for
/// stableAfter (it was not crash-looping), else after a backoff that doubles,
/// from backoffInitial up to backoffMax, with each worker that dies sooner or
/// does not start at all.
class RestartPolicy {
public:
    using milliseconds = std::chrono::milliseconds;
    RestartPolicy(milliseconds initial, milliseconds max, milliseconds stableAfter)
        : initial_(initial), max_(max), stableAfter_(stableAfter), backoff_(initial) {}

    /// The delay before the next start, for a worker that ran for uptime.
    milliseconds afterExit(Clock::duration uptime) {
        if (uptime >= stableAfter_) {
            backoff_ = initial_;
            return milliseconds(0);
        }
        return afterFailedStart();
    }
    /// The delay before the next start, for a worker that did not start.
    milliseconds afterFailedStart() {
        milliseconds delay = backoff_;
        backoff_ = std::min(backoff_ * 2, max_);
        return delay;
    }

private:
    const milliseconds initial_, max_, stableAfter_;
    milliseconds backoff_;
};

/// Keeps one plugin's worker process running, on a thread of its own: starts a
/// worker (spawnWorker, handshake, channels, the describe check), watches it,
/// collects late replies to calls that timed out and kills the worker as hung
/// when one has not come killGrace after its deadline, reaps it when it dies,
/// and starts the next one as RestartPolicy says. The same thread spawns every
/// worker, so the worker's PR_SET_PDEATHSIG follows a thread that lives as long
/// as the plugin. Nothing ends the thread early: a failure it does not expect
/// is logged, and the plugin then counts as stopped (its calls fail as
/// unavailable) until reloaded.
///
/// Calls ask it for the ready worker (awaitWorker), and hand it the channel of
/// a call that timed out (handOver). Restarts are the hub's own matter: the
/// answers it gives while one is under way carry CallResult::retryAfter, which
/// the circuit breaker does not count against the vendor system.
class WorkerSupervisor {
public:
    WorkerSupervisor(const Manifest& manifest, std::string library, PluginConfig config,
                     ProcessPlugin::Options options);
    /// Stops the worker (SIGTERM, then SIGKILL after stopTimeout) and the thread.
    ~WorkerSupervisor();

    /// Starts the thread and waits for the first worker; throws LoadError with the
    /// reason when it does not start (or does not match the manifest).
    void start();

    /// The worker's describe answer, from its first start.
    const std::string& describe() const { return describe_; }
    const ProcessPlugin::Options& options() const { return options_; }
    std::uint64_t nextId() { return nextId_.fetch_add(1, std::memory_order_relaxed); }

    /// The ready worker, waiting for a restart under way until deadline; null,
    /// with unavailable set (CH_ERR_UNAVAILABLE and the reason), when there is
    /// none to be had in time: the plugin is stopping, or the next start comes
    /// after the deadline.
    std::shared_ptr<WorkerGeneration> awaitWorker(Clock::time_point deadline, CallResult& unavailable);

    /// A call on channel of g got no reply by its deadline: the reply may still
    /// come (the channel is free again then), or the worker is hung and killed.
    void handOver(const std::shared_ptr<WorkerGeneration>& g, std::size_t channel, std::uint64_t id);

    /// The answer to a call whose worker died under it: CH_ERR_UNAVAILABLE with
    /// how it died, and retryAfter.
    CallResult crashed(WorkerGeneration& g, std::string_view operation);

    ProcessPlugin::Stats stats() const;

private:
    enum class State { Starting, Ready, Down, Failed, Stopped };

    /// A channel whose call timed out: its late reply is awaited until killAt.
    struct Stale {
        std::shared_ptr<WorkerGeneration> generation;
        std::size_t channel;
        std::uint64_t id;
        Clock::time_point killAt;
    };

    void run() noexcept;
    void supervise();
    std::shared_ptr<WorkerGeneration> startWorker();
    bool watch(const std::shared_ptr<WorkerGeneration>& g);
    void stop(WorkerGeneration& g);
    void poke();
    std::chrono::milliseconds restartHintLocked() const;

    const Manifest& manifest_;
    const std::string library_;
    const PluginConfig config_;
    ProcessPlugin::Options options_;
    Poco::Logger& log_;
    zmq::context_t context_;  // before every socket: destroyed after them
    std::string dir_;         // the private socket folder, 0700
    Fd wake_;                 // eventfd: wakes the thread for stop and new stale channels
    std::atomic<std::uint64_t> nextId_{1};

    mutable std::mutex mutex_;
    std::condition_variable changed_;  // state_, current_, stopping_
    State state_ = State::Starting;
    std::shared_ptr<WorkerGeneration> current_;
    Clock::time_point nextStart_;
    std::string lastError_;
    std::string describe_;  // written once, before start() returns
    std::vector<Stale> stale_;
    bool stopping_ = false;
    ProcessPlugin::Stats stats_;
    std::uint64_t generations_ = 0;
    std::thread thread_;  // last: started when all else exists
};

}  // namespace hub::host
