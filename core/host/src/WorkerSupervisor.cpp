#include "WorkerSupervisor.h"

#include "WorkerHandshake.h"

#include "../worker/WorkerProtocol.h"

#include "hub/common/Exceptions.h"

#include <campushub/plugin.h>

#include <Poco/Logger.h>

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hub::host {

using std::chrono::milliseconds;

WorkerSupervisor::WorkerSupervisor(const Manifest& manifest, std::string library, PluginConfig config,
                                   ProcessPlugin::Options options)
    : manifest_(manifest),
      library_(std::move(library)),
      config_(std::move(config)),
      options_(std::move(options)),
      log_(Poco::Logger::get("hub.host.process")),
      context_(1) {
    if (options_.workerExecutable.empty()) options_.workerExecutable = ProcessPlugin::defaultWorkerExecutable();
    // The worker runs one thread more (health and describe) and at most 256.
    options_.concurrency = std::clamp<std::size_t>(options_.concurrency, 1, 255);
    std::string parent = options_.socketDir.empty() ? "/tmp" : options_.socketDir;
    std::string pattern = parent + "/campushub-" + manifest_.name.substr(0, 24) + "-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    // mkdtemp makes it 0700: only hubd's user can reach the worker's sockets.
    if (!::mkdtemp(buf.data()))
        throw LoadError(manifest_.name + ": cannot create " + pattern + ": " + std::strerror(errno));
    dir_ = buf.data();
    wake_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (wake_.get() < 0) throw LoadError(manifest_.name + ": eventfd: " + std::strerror(errno));
}

WorkerSupervisor::~WorkerSupervisor() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    poke();
    if (thread_.joinable()) thread_.join();
    stale_.clear();
    current_.reset();
    if (!dir_.empty()) {
        if (DIR* d = ::opendir(dir_.c_str())) {
            while (dirent* e = ::readdir(d))
                if (e->d_name[0] != '.') ::unlink((dir_ + "/" + e->d_name).c_str());
            ::closedir(d);
        }
        ::rmdir(dir_.c_str());
    }
}

void WorkerSupervisor::start() {
    thread_ = std::thread([this] { run(); });
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return state_ != State::Starting; });
    if (state_ == State::Failed) throw LoadError(lastError_);
}

void WorkerSupervisor::poke() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
}

// ---- for calls (any thread) ----

std::shared_ptr<WorkerGeneration> WorkerSupervisor::awaitWorker(Clock::time_point deadline, CallResult& unavailable) {
    std::unique_lock lock(mutex_);
    for (;;) {
        // A worker that died a moment ago is skipped: wait for its successor.
        if (state_ == State::Ready && current_ && current_->alive()) return current_;
        if (stopping_ || state_ == State::Stopped || state_ == State::Failed) {
            unavailable = {CH_ERR_UNAVAILABLE, "plugin " + manifest_.name + " is stopping"};
            return nullptr;
        }
        // Waiting for a restart that comes after the deadline helps nobody.
        if (state_ == State::Down && nextStart_ >= deadline) {
            unavailable = {CH_ERR_UNAVAILABLE,
                           "the worker of plugin " + manifest_.name + " is down and restarts in " +
                               std::to_string(msUntil(nextStart_)) + " ms",
                           std::max(milliseconds(msUntil(nextStart_)), milliseconds(1))};
            return nullptr;
        }
        if (changed_.wait_until(lock, deadline) == std::cv_status::timeout &&
            !(state_ == State::Ready && current_ && current_->alive())) {
            unavailable = {CH_ERR_UNAVAILABLE,
                           "the worker of plugin " + manifest_.name + " did not come back before the deadline",
                           restartHintLocked()};
            return nullptr;
        }
    }
}

void WorkerSupervisor::handOver(const std::shared_ptr<WorkerGeneration>& g, std::size_t channel, std::uint64_t id) {
    {
        std::lock_guard lock(mutex_);
        stale_.push_back({g, channel, id, Clock::now() + options_.killGrace});
    }
    poke();
}

CallResult WorkerSupervisor::crashed(WorkerGeneration& g, std::string_view operation) {
    std::string how = exitText(g.pid);
    if (how.empty()) {
        // The supervisor reaped it first; it notes how before it reaps.
        std::unique_lock lock(g.mutex);
        g.freed.wait_for(lock, milliseconds(500), [&] { return g.dead; });
        how = g.exitHow;
    }
    milliseconds retryAfter;
    {
        std::lock_guard lock(mutex_);
        retryAfter = restartHintLocked();
    }
    return {CH_ERR_UNAVAILABLE,
            "the worker of plugin " + manifest_.name + " (pid " + std::to_string(g.pid) + ") " +
                (how.empty() ? "died" : how) +
                (operation.empty() ? std::string() : " during " + std::string(operation)) + "; it is being restarted",
            retryAfter};
}

// How soon a caller may try again while the worker is being restarted: until
// the next start if one is scheduled, else a moment (it is starting now).
// Never zero: a call that carries it failed for the restart's sake.
milliseconds WorkerSupervisor::restartHintLocked() const {
    long left = state_ == State::Down ? msUntil(nextStart_) : 0;
    return std::max(milliseconds(left), milliseconds(1));
}

ProcessPlugin::Stats WorkerSupervisor::stats() const {
    ProcessPlugin::Stats s;
    std::shared_ptr<WorkerGeneration> g;
    {
        std::lock_guard lock(mutex_);
        s = stats_;
        s.ready = state_ == State::Ready;
        g = current_;
    }
    if (g && !g->sockets.empty()) {
        std::lock_guard lock(g->mutex);
        s.callsInFlight = g->sockets.size() - 1 - g->idle.size() + (g->controlIdle ? 0 : 1);
    }
    return s;
}

// ---- the supervisor's thread ----

void WorkerSupervisor::run() noexcept {
    try {
        supervise();
    } catch (...) {
        std::string what = currentExceptionText();
        try {
            log_.critical("plugin %s: the worker supervisor failed: %s; the plugin stays down until reloaded",
                          manifest_.name, what);
        } catch (...) {
        }
        std::lock_guard lock(mutex_);
        if (state_ == State::Starting) {
            state_ = State::Failed;
            lastError_ = manifest_.name + ": " + what;
        } else {
            state_ = State::Stopped;
        }
        current_.reset();
        stale_.clear();
        stats_.pid = 0;
        changed_.notify_all();
    }
}

void WorkerSupervisor::supervise() {
    RestartPolicy restarts(options_.backoffInitial, options_.backoffMax, options_.stableAfter);
    bool first = true;
    for (;;) {
        std::shared_ptr<WorkerGeneration> g;
        std::string error;
        try {
            g = startWorker();
        } catch (...) {
            error = currentExceptionText();
        }
        if (!g) {
            std::unique_lock lock(mutex_);
            if (first) {
                state_ = State::Failed;
                lastError_ = error;
                changed_.notify_all();
                return;
            }
            milliseconds delay = restarts.afterFailedStart();
            log_.error("plugin %s: worker did not start: %s; next try in %s ms", manifest_.name, error,
                       std::to_string(delay.count()));
            state_ = State::Down;
            nextStart_ = Clock::now() + delay;
            changed_.notify_all();
            if (changed_.wait_until(lock, nextStart_, [&] { return stopping_; })) break;
            continue;
        }
        first = false;
        {
            std::lock_guard lock(mutex_);
            if (stopping_) {
                stop(*g);
                break;
            }
            current_ = g;
            state_ = State::Ready;
            ++stats_.starts;
            stats_.pid = g->pid;
        }
        changed_.notify_all();

        bool stopRequested = false;
        try {
            stopRequested = watch(g);
        } catch (...) {
            // Watching failed (sockets, memory): this worker cannot be looked
            // after any more, so it goes, and another one starts.
            log_.error("plugin %s: lost track of worker pid %d (%s); killing it", manifest_.name,
                       static_cast<int>(g->pid), currentExceptionText());
            ::kill(g->pid, SIGKILL);
        }
        if (stopRequested) {
            stop(*g);
            break;
        }
        std::string how = exitText(g->pid);
        {
            std::lock_guard lock(g->mutex);
            g->exitHow = how;
        }
        int status = 0;
        ::waitpid(g->pid, &status, 0);
        g->markDead();
        auto uptime = Clock::now() - g->readyAt;
        milliseconds delay = restarts.afterExit(uptime);
        std::unique_lock lock(mutex_);
        current_.reset();
        std::erase_if(stale_, [&](const Stale& st) { return st.generation == g; });
        ++stats_.exits;
        stats_.pid = 0;
        state_ = State::Down;
        nextStart_ = Clock::now() + delay;
        log_.error("plugin %s: worker pid %d %s after %s ms; restarting in %s ms", manifest_.name,
                   static_cast<int>(g->pid), how.empty() ? std::string("died") : how,
                   std::to_string(std::chrono::duration_cast<milliseconds>(uptime).count()),
                   std::to_string(delay.count()));
        changed_.notify_all();
        if (changed_.wait_until(lock, nextStart_, [&] { return stopping_; })) break;
    }
    std::lock_guard lock(mutex_);
    state_ = State::Stopped;
    current_.reset();
    stale_.clear();
    stats_.pid = 0;
    changed_.notify_all();
}

std::shared_ptr<WorkerGeneration> WorkerSupervisor::startWorker() {
    auto g = std::make_shared<WorkerGeneration>();
    g->number = ++generations_;
    g->socketBase = dir_ + "/g" + std::to_string(g->number);
    const Clock::time_point until = Clock::now() + options_.startTimeout;
    WorkerProcess process =
        spawnWorker({options_.workerExecutable, library_, manifest_.file, manifest_.name, "ipc://" + g->socketBase,
                     options_.concurrency + 1, options_.logLevel, options_.coreDumps, options_.httpCaFile});
    g->pid = process.pid;
    try {
        // The config's JSON is one line: the data sources follow it after a newline.
        handshake(process, options_.sqlSources.empty() ? config_.json() : config_.json() + "\n" + options_.sqlSources,
                  until, options_.startTimeout);
        g->pidfd = std::move(process.pidfd);
        g->connect(context_, options_.concurrency, options_.maxReplyBytes);
        g->readyAt = Clock::now();
        // The worker checked describe against the manifest file it read; this is
        // the manifest the hub routes by.
        auto described = g->exchange(nextId(), worker::kDescribe, "", "", "{}", CallContext{}, until);
        if (described.outcome != WorkerGeneration::Exchange::Outcome::Replied || described.status != CH_OK)
            throw std::runtime_error("describe failed: " +
                                     (described.body.empty() ? std::string("no answer in time") : described.body));
        if (std::string wrong = describeMismatch(manifest_, described.body); !wrong.empty())
            throw std::runtime_error(wrong);
        std::lock_guard lock(mutex_);
        if (describe_.empty()) describe_ = std::move(described.body);
    } catch (const std::exception& e) {
        killWorker(g->pid);
        g->markDead();
        // The worker's own reasons come from LoadedPlugin, which names the
        // plugin already: the name once, not once per layer.
        std::string why = e.what();
        throw std::runtime_error(why.rfind(manifest_.name + ": ", 0) == 0 ? why : manifest_.name + ": " + why);
    }
    return g;
}

bool WorkerSupervisor::watch(const std::shared_ptr<WorkerGeneration>& g) {
    std::vector<Stale> mine;
    std::vector<zmq::pollitem_t> items;
    worker::Message parts;
    for (;;) {
        Clock::time_point killAt = Clock::time_point::max();
        {
            std::lock_guard lock(mutex_);
            if (stopping_) return true;
            // Channels of generations already gone are closed with them.
            std::erase_if(stale_, [&](const Stale& s) { return s.generation != g; });
            mine = stale_;
        }
        items.clear();
        items.push_back({nullptr, g->pidfd.get(), ZMQ_POLLIN, 0});
        items.push_back({nullptr, wake_.get(), ZMQ_POLLIN, 0});
        for (const auto& s : mine) {
            items.push_back({g->sockets[s.channel].handle(), 0, ZMQ_POLLIN, 0});
            killAt = std::min(killAt, s.killAt);
        }
        long timeout = killAt == Clock::time_point::max() ? -1 : msUntil(killAt);
        try {
            zmq::poll(items, milliseconds(timeout));
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) log_.error("plugin %s: poll failed: %s", manifest_.name, std::string(e.what()));
            continue;
        }
        if (items[0].revents & ZMQ_POLLIN) return false;
        if (items[1].revents & ZMQ_POLLIN) {
            std::uint64_t n;
            [[maybe_unused]] auto r = ::read(wake_.get(), &n, sizeof n);
        }
        for (std::size_t i = 0; i < mine.size(); ++i) {
            if (!(items[i + 2].revents & ZMQ_POLLIN)) continue;
            bool answered = false;
            while (worker::receiveNow(g->sockets[mine[i].channel], parts))
                if (worker::idOf(parts) == mine[i].id) answered = true;
            if (!answered) continue;
            {
                std::lock_guard lock(mutex_);
                std::erase_if(stale_,
                              [&](const Stale& s) { return s.generation == g && s.channel == mine[i].channel; });
                ++stats_.lateReplies;
            }
            g->release(mine[i].channel);
            mine[i].killAt = Clock::time_point::max();
        }
        auto now = Clock::now();
        for (const auto& s : mine) {
            if (s.killAt > now) continue;
            log_.error("plugin %s: a call did not return within %s ms after its deadline; killing worker pid %d",
                       manifest_.name, std::to_string(options_.killGrace.count()), static_cast<int>(g->pid));
            ::kill(g->pid, SIGKILL);
            {
                std::lock_guard lock(mutex_);
                ++stats_.hangKills;
                stale_.clear();
            }
            break;  // the pidfd reports the death next
        }
    }
}

void WorkerSupervisor::stop(WorkerGeneration& g) {
    g.markDead();
    stopWorker(g.pid, g.pidfd.get(), options_.stopTimeout, log_, manifest_.name);
}

}  // namespace hub::host
