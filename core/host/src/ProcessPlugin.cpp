#include "hub/host/ProcessPlugin.h"

#include "hub/common/Exceptions.h"
#include "hub/common/JsonWriter.h"

#include "../worker/WorkerProtocol.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <zmq.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace hub::host {

namespace {

using std::chrono::milliseconds;

constexpr short kPollIn = ZMQ_POLLIN;

// Whole milliseconds until t, rounded up so a poll never wakes just before it.
long msUntil(Clock::time_point t) {
    auto left = t - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    return static_cast<long>(std::chrono::ceil<milliseconds>(left).count());
}

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

/// An owned file descriptor.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

std::string signalName(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

/// How a child ended, without reaping it (the supervisor reaps), or "" if it runs.
std::string exitText(pid_t pid) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0)
        return "";
    if (info.si_code == CLD_EXITED) return "exited with status " + std::to_string(info.si_status);
    return "was killed by " + signalName(info.si_status);
}

std::string jsonQuote(std::string_view s) {
    std::string out;
    hub::json::appendString(out, s);
    return out;
}

std::string callerJson(const Caller& caller) {
    std::string out = "{\"subject\":" + jsonQuote(caller.subject) + ",\"roles\":[";
    for (std::size_t i = 0; i < caller.roles.size(); ++i) {
        if (i) out += ',';
        out += jsonQuote(caller.roles[i]);
    }
    out += ']';
    if (!caller.actingFor.empty()) out += ",\"acting_for\":" + jsonQuote(caller.actingFor);
    out += '}';
    return out;
}

/// One incarnation of the worker: its process and the hub's channels to it.
/// Callers hold it by shared_ptr, so a generation that died stays valid (and its
/// sockets open) until the last call on it has returned.
struct Generation {
    std::uint64_t number = 0;
    pid_t pid = -1;
    Fd pidfd;  // readable once the process has exited
    std::string socketBase;  // <dir>/g<number>; channel i is <socketBase>.<i>
    std::vector<zmq::socket_t> sockets;
    Clock::time_point readyAt;

    std::mutex mutex;
    std::condition_variable freed;
    std::vector<std::size_t> idle;  // call channels no call is using
    // One more channel, for health and describe only, so that a health check
    // gets through while every call channel is busy.
    std::size_t controlChannel = 0;
    bool controlIdle = true;
    bool dead = false;
    std::string exitHow;  // set by the supervisor before it reaps
    std::atomic<bool> exited{false};  // seen to have exited, by anyone

    /// False once the process has exited, even before the supervisor noticed.
    bool alive() {
        if (exited.load(std::memory_order_relaxed)) return false;
        pollfd p{pidfd.get(), POLLIN, 0};
        if (::poll(&p, 1, 0) > 0) exited = true;
        return !exited;
    }

    ~Generation() {
        sockets.clear();
        // A worker that crashed leaves its socket files behind.
        for (std::size_t i = 0; !socketBase.empty() && i < 4096; ++i)
            if (::unlink((socketBase + "." + std::to_string(i)).c_str()) != 0 && errno == ENOENT) break;
    }

    void release(std::size_t channel) {
        {
            std::lock_guard lock(mutex);
            if (channel == controlChannel) controlIdle = true;
            else idle.push_back(channel);
        }
        freed.notify_all();
    }

    void markDead() {
        {
            std::lock_guard lock(mutex);
            dead = true;
        }
        freed.notify_all();
    }
};

/// A channel whose call timed out: the supervisor waits for the late reply, and
/// kills the worker as hung if it has not come by killAt.
struct Stale {
    std::shared_ptr<Generation> generation;
    std::size_t channel;
    std::uint64_t id;
    Clock::time_point killAt;
};

}  // namespace

struct ProcessPlugin::Impl {
    enum class State { Starting, Ready, Down, Failed, Stopped };

    Impl(const Manifest& m, std::string lib, PluginConfig cfg, Options o)
        : manifest(m), library(std::move(lib)), config(std::move(cfg)), options(std::move(o)),
          log(Poco::Logger::get("hub.host.process")), context(1) {
        if (options.workerExecutable.empty()) options.workerExecutable = defaultWorkerExecutable();
        // The worker runs one thread more (health and describe) and at most 256.
        options.concurrency = std::clamp<std::size_t>(options.concurrency, 1, 255);
        std::string parent = options.socketDir.empty() ? "/tmp" : options.socketDir;
        std::string pattern = parent + "/campushub-" + manifest.name.substr(0, 24) + "-XXXXXX";
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        // mkdtemp makes it 0700: only hubd's user can reach the worker's sockets.
        if (!::mkdtemp(buf.data())) throw LoadError(manifest.name + ": " + errnoText("cannot create " + pattern));
        dir = buf.data();
        wake = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (wake.get() < 0) throw LoadError(manifest.name + ": " + errnoText("eventfd"));
    }

    ~Impl() {
        {
            std::lock_guard lock(mutex);
            stopping = true;
        }
        changed.notify_all();
        poke();
        if (supervisor.joinable()) supervisor.join();
        stale.clear();
        current.reset();
        if (!dir.empty()) {
            if (DIR* d = ::opendir(dir.c_str())) {
                while (dirent* e = ::readdir(d))
                    if (e->d_name[0] != '.') ::unlink((dir + "/" + e->d_name).c_str());
                ::closedir(d);
            }
            ::rmdir(dir.c_str());
        }
    }

    void poke() {
        std::uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(wake.get(), &one, sizeof one);
    }

    // ---- calls (any thread) ----

    CallResult call(std::string_view kind, std::string_view operation, std::string_view input,
                    std::string_view caller, Clock::time_point deadline) {
        if (Clock::now() >= deadline)
            return {CH_ERR_TIMEOUT, "the call reached plugin " + manifest.name + " after its deadline"};
        std::shared_ptr<Generation> generation;
        {
            std::unique_lock lock(mutex);
            for (;;) {
                // A worker that died a moment ago is skipped: wait for its successor.
                if (state == State::Ready && current && current->alive()) {
                    generation = current;
                    break;
                }
                if (stopping || state == State::Stopped || state == State::Failed)
                    return {CH_ERR_UNAVAILABLE, "plugin " + manifest.name + " is stopping"};
                // Waiting for a restart that comes after the deadline helps nobody.
                if (state == State::Down && nextStart >= deadline)
                    return {CH_ERR_UNAVAILABLE,
                            "the worker of plugin " + manifest.name + " is down and restarts in " +
                                std::to_string(msUntil(nextStart)) + " ms",
                            std::max(milliseconds(msUntil(nextStart)), milliseconds(1))};
                if (changed.wait_until(lock, deadline) == std::cv_status::timeout &&
                    !(state == State::Ready && current && current->alive()))
                    return {CH_ERR_UNAVAILABLE,
                            "the worker of plugin " + manifest.name + " did not come back before the deadline",
                            restartHintLocked()};
            }
        }
        return callOn(generation, kind, operation, input, caller, deadline);
    }

    CallResult callOn(const std::shared_ptr<Generation>& g, std::string_view kind, std::string_view operation,
                      std::string_view input, std::string_view caller, Clock::time_point deadline) {
        std::size_t channel;
        // Health and describe have a channel of their own; invokes and events share the rest.
        const bool control = kind == worker::kHealth || kind == worker::kDescribe;
        {
            std::unique_lock lock(g->mutex);
            auto free = [&] { return control ? g->controlIdle : !g->idle.empty(); };
            if (!g->freed.wait_until(lock, deadline, [&] { return g->dead || free(); }))
                return {CH_ERR_TIMEOUT, "every channel to the worker of " + manifest.name +
                                            " stayed busy until the deadline"};
            if (g->dead) {
                lock.unlock();  // crashed() waits on this mutex for how the worker ended
                return crashed(*g, operation);
            }
            if (control) {
                channel = g->controlChannel;
                g->controlIdle = false;
            } else {
                channel = g->idle.back();
                g->idle.pop_back();
            }
        }
        zmq::socket_t& socket = g->sockets[channel];
        const std::uint64_t id = nextId.fetch_add(1, std::memory_order_relaxed);
        long left = msUntil(deadline);
        std::uint32_t remaining = static_cast<std::uint32_t>(std::min<long>(left, UINT32_MAX));
        try {
            constexpr auto more = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
            bool sent = socket.send(zmq::const_buffer(&id, sizeof id), more) &&
                        socket.send(zmq::const_buffer(kind.data(), kind.size()), more) &&
                        socket.send(zmq::const_buffer(operation.data(), operation.size()), more) &&
                        socket.send(zmq::const_buffer(input.data(), input.size()), more) &&
                        socket.send(zmq::const_buffer(caller.data(), caller.size()), more) &&
                        socket.send(zmq::const_buffer(&remaining, sizeof remaining), zmq::send_flags::dontwait);
            // A multipart message is queued whole or not at all, so a refusal
            // leaves the channel clean.
            if (!sent) {
                g->release(channel);
                return {CH_ERR_UNAVAILABLE, "the worker of " + manifest.name + " is not accepting calls"};
            }
        } catch (const zmq::error_t& e) {
            g->release(channel);
            return {CH_ERR_UNAVAILABLE, std::string("cannot send to the worker: ") + e.what()};
        }

        std::vector<zmq::message_t> parts;
        for (;;) {
            long wait = msUntil(deadline);
            if (wait <= 0) {
                handOver(g, channel, id);
                return {CH_ERR_TIMEOUT, "plugin " + manifest.name + " did not answer " +
                                            (operation.empty() ? std::string(kind) : std::string(operation)) +
                                            " before the deadline"};
            }
            zmq::pollitem_t items[] = {{socket.handle(), 0, kPollIn, 0}, {nullptr, g->pidfd.get(), kPollIn, 0}};
            try {
                zmq::poll(items, 2, milliseconds(wait));
            } catch (const zmq::error_t& e) {
                if (e.num() == EINTR) continue;
                handOver(g, channel, id);
                return {CH_ERR_UNAVAILABLE, std::string("polling the worker failed: ") + e.what()};
            }
            if (items[0].revents & ZMQ_POLLIN) {
                while (receive(socket, parts)) {
                    if (parts.size() < 1 || worker::readScalar<std::uint64_t>(parts[0].data(), parts[0].size(), 0) != id)
                        continue;  // the late reply to an earlier call on this channel
                    g->release(channel);
                    return reply(parts);
                }
                continue;
            }
            if (items[1].revents & ZMQ_POLLIN) {
                g->exited = true;
                g->release(channel);
                return crashed(*g, operation);
            }
        }
    }

    /// Reads one whole message if there is one.
    static bool receive(zmq::socket_t& socket, std::vector<zmq::message_t>& parts) {
        parts.clear();
        for (;;) {
            zmq::message_t part;
            if (!socket.recv(part, zmq::recv_flags::dontwait)) return !parts.empty();
            bool more = part.more();
            parts.push_back(std::move(part));
            if (!more) return true;
        }
    }

    CallResult reply(std::vector<zmq::message_t>& parts) const {
        if (parts.size() != worker::kReplyFrames)
            return {CH_ERR_INTERNAL, "the worker of " + manifest.name + " sent a malformed reply"};
        int status = worker::readScalar<std::int32_t>(parts[1].data(), parts[1].size(), -1);
        // The plugin's status is data from vendor code: only known statuses pass.
        if (status < CH_OK || status > CH_ERR_INTERNAL)
            return {CH_ERR_INTERNAL, "plugin " + manifest.name + " answered with unknown status " +
                                         std::to_string(status)};
        return {status, parts[2].to_string()};
    }

    CallResult crashed(Generation& g, std::string_view operation) {
        std::string how = exitText(g.pid);
        if (how.empty()) {
            // The supervisor reaped it first; it notes how before it reaps.
            std::unique_lock lock(g.mutex);
            g.freed.wait_for(lock, milliseconds(500), [&] { return g.dead; });
            how = g.exitHow;
        }
        return {CH_ERR_UNAVAILABLE,
                "the worker of plugin " + manifest.name + " (pid " + std::to_string(g.pid) + ") " +
                    (how.empty() ? "died" : how) +
                    (operation.empty() ? std::string() : " during " + std::string(operation)) +
                    "; it is being restarted",
                restartHint()};
    }

    /// How soon a caller may try again while the worker is being restarted: until
    /// the next start if one is scheduled, else a moment (it is starting now).
    /// Never zero: a call that carries it failed for the restart's sake.
    milliseconds restartHint() {
        std::lock_guard lock(mutex);
        return restartHintLocked();
    }
    milliseconds restartHintLocked() const {
        long left = state == State::Down ? msUntil(nextStart) : 0;
        return std::max(milliseconds(left), milliseconds(1));
    }

    void handOver(const std::shared_ptr<Generation>& g, std::size_t channel, std::uint64_t id) {
        {
            std::lock_guard lock(mutex);
            stale.push_back({g, channel, id, Clock::now() + options.killGrace});
        }
        poke();
    }

    // ---- the supervisor (one thread, which also spawns every worker so that
    // PR_SET_PDEATHSIG in the worker follows a thread that lives as long as we do) ----

    // The supervisor's thread. Nothing may end it early (std::terminate would
    // take hubd along): a failure it does not expect is logged, and the plugin
    // then counts as stopped, its calls failing as unavailable.
    void run() noexcept {
        try {
            supervise();
        } catch (...) {
            std::string what = currentExceptionText();
            try {
                log.critical("plugin %s: the worker supervisor failed: %s; the plugin stays down until reloaded",
                             manifest.name, what);
            } catch (...) {
            }
            std::lock_guard lock(mutex);
            if (state == State::Starting) {
                state = State::Failed;
                lastError = manifest.name + ": " + what;
            } else {
                state = State::Stopped;
            }
            current.reset();
            stale.clear();
            stats.pid = 0;
            changed.notify_all();
        }
    }

    void supervise() {
        // Restarts wait only in a crash loop: a worker that ran for stableAfter
        // comes back at once; each one that dies sooner makes the next start wait
        // twice as long (backoffInitial up to backoffMax).
        milliseconds backoff = options.backoffInitial;
        bool first = true;
        for (;;) {
            std::shared_ptr<Generation> g;
            std::string error;
            try {
                g = spawn();
            } catch (...) {
                error = currentExceptionText();
            }
            if (!g) {
                std::unique_lock lock(mutex);
                if (first) {
                    state = State::Failed;
                    lastError = error;
                    changed.notify_all();
                    return;
                }
                log.error("plugin %s: worker did not start: %s; next try in %s ms", manifest.name, error,
                          std::to_string(backoff.count()));
                state = State::Down;
                nextStart = Clock::now() + backoff;
                backoff = std::min(backoff * 2, options.backoffMax);
                changed.notify_all();
                if (changed.wait_until(lock, nextStart, [&] { return stopping; })) break;
                continue;
            }
            first = false;
            {
                std::lock_guard lock(mutex);
                if (stopping) {
                    stopWorker(*g);
                    break;
                }
                current = g;
                state = State::Ready;
                ++stats.starts;
                stats.pid = g->pid;
            }
            changed.notify_all();

            bool stopRequested = false;
            try {
                stopRequested = watch(g);
            } catch (...) {
                // Watching failed (sockets, memory): this worker cannot be looked
                // after any more, so it goes, and another one starts.
                log.error("plugin %s: lost track of worker pid %d (%s); killing it", manifest.name,
                          static_cast<int>(g->pid), currentExceptionText());
                ::kill(g->pid, SIGKILL);
            }
            if (stopRequested) {
                stopWorker(*g);
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
            milliseconds delay{0};
            if (uptime >= options.stableAfter) {
                backoff = options.backoffInitial;
            } else {
                delay = backoff;
                backoff = std::min(backoff * 2, options.backoffMax);
            }
            std::unique_lock lock(mutex);
            current.reset();
            std::erase_if(stale, [&](const Stale& st) { return st.generation == g; });
            ++stats.exits;
            stats.pid = 0;
            state = State::Down;
            nextStart = Clock::now() + delay;
            log.error("plugin %s: worker pid %d %s after %s ms; restarting in %s ms", manifest.name,
                      static_cast<int>(g->pid), how.empty() ? std::string("died") : how,
                      std::to_string(std::chrono::duration_cast<milliseconds>(uptime).count()),
                      std::to_string(delay.count()));
            changed.notify_all();
            if (changed.wait_until(lock, nextStart, [&] { return stopping; })) break;
        }
        std::lock_guard lock(mutex);
        state = State::Stopped;
        current.reset();
        stale.clear();
        stats.pid = 0;
        changed.notify_all();
    }

    /// Waits until the worker dies (false) or we are asked to stop (true), meanwhile
    /// collecting late replies on stale channels and killing a worker that hangs.
    bool watch(const std::shared_ptr<Generation>& g) {
        std::vector<Stale> mine;
        std::vector<zmq::pollitem_t> items;
        std::vector<zmq::message_t> parts;
        for (;;) {
            Clock::time_point killAt = Clock::time_point::max();
            {
                std::lock_guard lock(mutex);
                if (stopping) return true;
                // Channels of generations already gone are closed with them.
                std::erase_if(stale, [&](const Stale& s) { return s.generation != g; });
                mine = stale;
            }
            items.clear();
            items.push_back({nullptr, g->pidfd.get(), kPollIn, 0});
            items.push_back({nullptr, wake.get(), kPollIn, 0});
            for (const auto& s : mine) {
                items.push_back({g->sockets[s.channel].handle(), 0, kPollIn, 0});
                killAt = std::min(killAt, s.killAt);
            }
            long timeout = killAt == Clock::time_point::max() ? -1 : msUntil(killAt);
            try {
                zmq::poll(items, milliseconds(timeout));
            } catch (const zmq::error_t& e) {
                if (e.num() != EINTR) log.error("plugin %s: poll failed: %s", manifest.name, std::string(e.what()));
                continue;
            }
            if (items[0].revents & ZMQ_POLLIN) return false;
            if (items[1].revents & ZMQ_POLLIN) {
                std::uint64_t n;
                [[maybe_unused]] auto r = ::read(wake.get(), &n, sizeof n);
            }
            for (std::size_t i = 0; i < mine.size(); ++i) {
                if (!(items[i + 2].revents & ZMQ_POLLIN)) continue;
                bool answered = false;
                while (receive(g->sockets[mine[i].channel], parts))
                    if (!parts.empty() &&
                        worker::readScalar<std::uint64_t>(parts[0].data(), parts[0].size(), 0) == mine[i].id)
                        answered = true;
                if (answered) {
                    {
                        std::lock_guard lock(mutex);
                        std::erase_if(stale, [&](const Stale& s) {
                            return s.generation == g && s.channel == mine[i].channel;
                        });
                    }
                    g->release(mine[i].channel);
                    mine[i].killAt = Clock::time_point::max();
                }
            }
            auto now = Clock::now();
            for (const auto& s : mine) {
                if (s.killAt > now) continue;
                log.error("plugin %s: a call did not return within %s ms after its deadline; killing worker pid %d",
                          manifest.name, std::to_string(options.killGrace.count()), static_cast<int>(g->pid));
                ::kill(g->pid, SIGKILL);
                {
                    std::lock_guard lock(mutex);
                    ++stats.hangKills;
                    stale.clear();
                }
                break;  // the pidfd reports the death next
            }
        }
    }

    void stopWorker(Generation& g) {
        g.markDead();
        ::kill(g.pid, SIGTERM);
        pollfd p{g.pidfd.get(), POLLIN, 0};
        auto until = Clock::now() + options.stopTimeout;
        while (::poll(&p, 1, static_cast<int>(std::min<long>(msUntil(until), INT_MAX))) < 0 && errno == EINTR) {
        }
        if (!(p.revents & POLLIN)) {
            log.warning("plugin %s: worker pid %d did not stop within %s ms; killing it", manifest.name,
                        static_cast<int>(g.pid), std::to_string(options.stopTimeout.count()));
            ::kill(g.pid, SIGKILL);
        }
        int status = 0;
        ::waitpid(g.pid, &status, 0);
    }

    std::shared_ptr<Generation> spawn() {
        auto g = std::make_shared<Generation>();
        g->number = ++generations;
        g->socketBase = dir + "/g" + std::to_string(g->number);
        const std::string endpoint = "ipc://" + g->socketBase;
        const Clock::time_point until = Clock::now() + options.startTimeout;

        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) throw std::runtime_error(errnoText("socketpair"));
        Fd control(pair[0]), childEnd(pair[1]);
        constexpr int kChildControlFd = 3;
        if (childEnd.get() == kChildControlFd)  // dup2 onto itself would keep FD_CLOEXEC
            childEnd = Fd(::fcntl(childEnd.get(), F_DUPFD_CLOEXEC, kChildControlFd + 1));

        std::vector<std::string> args = {options.workerExecutable,
                                         "--library", library,
                                         "--manifest", manifest.file,
                                         "--name", manifest.name,
                                         "--endpoint", endpoint,
                                         "--threads", std::to_string(options.concurrency + 1),
                                         "--control-fd", std::to_string(kChildControlFd),
                                         "--parent-pid", std::to_string(::getpid()),
                                         "--log-level", options.logLevel};
        if (options.coreDumps) args.push_back("--core-dumps");
        if (!options.httpCaFile.empty()) {
            args.push_back("--ca-file");
            args.push_back(options.httpCaFile);
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);

        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawnattr_init(&attr);
        ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        ::posix_spawn_file_actions_adddup2(&actions, 2, 1);  // plugin chatter goes to the log stream
        ::posix_spawn_file_actions_adddup2(&actions, childEnd.get(), kChildControlFd);
        // The spawning thread's blocked signals and hubd's handlers are not the worker's.
        sigset_t none, defaults;
        sigemptyset(&none);
        sigemptyset(&defaults);
        for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) sigaddset(&defaults, sig);
        ::posix_spawnattr_setsigmask(&attr, &none);
        ::posix_spawnattr_setsigdefault(&attr, &defaults);
        ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        pid_t pid = -1;
        int rc = options.workerExecutable.find('/') == std::string::npos
                     ? ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ)
                     : ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
        ::posix_spawn_file_actions_destroy(&actions);
        ::posix_spawnattr_destroy(&attr);
        if (rc != 0)
            throw std::runtime_error("cannot start " + options.workerExecutable + ": " + std::strerror(rc));
        childEnd.reset();
        g->pid = pid;
        g->pidfd = Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
        if (g->pidfd.get() < 0) {
            std::string why = errnoText("pidfd_open");
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            throw std::runtime_error(why);
        }
        try {
            handshake(*g, control, until);
            for (std::size_t i = 0; i <= options.concurrency; ++i) {
                zmq::socket_t socket(context, zmq::socket_type::dealer);
                socket.set(zmq::sockopt::linger, 0);
                // A runaway plugin cannot make hubd buffer without bound: a bigger
                // reply drops the connection, and the call times out.
                socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(options.maxReplyBytes));
                socket.connect(endpoint + "." + std::to_string(i));
                g->sockets.push_back(std::move(socket));
                if (i < options.concurrency) g->idle.push_back(i);
            }
            g->controlChannel = options.concurrency;
            g->readyAt = Clock::now();
            CallResult described = callOn(g, worker::kDescribe, "", "", "{}", until);
            if (described.status != CH_OK) throw std::runtime_error("describe failed: " + described.body);
            // The worker checked describe against the manifest file it read;
            // this is the manifest the hub routes by.
            if (std::string wrong = describeMismatch(manifest, described.body); !wrong.empty())
                throw std::runtime_error(wrong);
            std::lock_guard lock(mutex);
            if (describe.empty()) describe = described.body;
        } catch (const std::exception& e) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
            g->markDead();
            // The worker's own reasons come from LoadedPlugin, which names the
            // plugin already: the name once, not once per layer.
            std::string why = e.what();
            throw std::runtime_error(why.rfind(manifest.name + ": ", 0) == 0 ? why : manifest.name + ": " + why);
        }
        return g;
    }

    /// Sends the config, then reads the worker's "ready" or "error ..." line.
    void handshake(Generation& g, Fd& control, Clock::time_point until) {
        ::fcntl(control.get(), F_SETFL, O_NONBLOCK);
        std::size_t sent = 0;
        std::string line;
        const std::string& text = config.json();
        bool configDone = text.empty();
        if (configDone) ::shutdown(control.get(), SHUT_WR);
        for (;;) {
            pollfd fds[2] = {{control.get(), static_cast<short>(configDone ? POLLIN : POLLIN | POLLOUT), 0},
                             {g.pidfd.get(), POLLIN, 0}};
            long wait = msUntil(until);
            if (wait <= 0) throw std::runtime_error("worker did not get ready within " +
                                                    std::to_string(options.startTimeout.count()) + " ms");
            if (::poll(fds, 2, static_cast<int>(std::min<long>(wait, INT_MAX))) < 0) {
                if (errno == EINTR) continue;
                throw std::runtime_error(errnoText("poll"));
            }
            if (!configDone && (fds[0].revents & POLLOUT)) {
                ssize_t n = ::send(control.get(), text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
                if (n > 0) sent += static_cast<std::size_t>(n);
                if (n < 0 && errno != EAGAIN && errno != EINTR) configDone = true;  // the worker went away: read why
                if (sent == text.size()) configDone = true;
                if (configDone) ::shutdown(control.get(), SHUT_WR);
            }
            if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                char buf[512];
                ssize_t n = ::recv(control.get(), buf, sizeof buf, 0);
                if (n > 0) {
                    line.append(buf, static_cast<std::size_t>(n));
                    if (line.size() > 65536) throw std::runtime_error("worker sent an overlong start-up line");
                    auto eol = line.find('\n');
                    if (eol == std::string::npos) continue;
                    line.resize(eol);
                    if (line == "ready") return;
                    if (line.rfind("error ", 0) == 0) throw std::runtime_error(line.substr(6));
                    throw std::runtime_error("worker sent an unexpected start-up line");
                }
                if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                    // Closed without a word: wait for its exit status to say why.
                    pollfd p{g.pidfd.get(), POLLIN, 0};
                    ::poll(&p, 1, static_cast<int>(std::min<long>(msUntil(until), 1000)));
                    std::string how = exitText(g.pid);
                    throw std::runtime_error("worker " + (how.empty() ? "closed its control socket" : how) +
                                             " before it was ready");
                }
            }
            if ((fds[1].revents & POLLIN) && !(fds[0].revents & POLLIN)) {
                // Exited: its last words may still be in the socket buffer.
                char buf[512];
                ssize_t n;
                while ((n = ::recv(control.get(), buf, sizeof buf, 0)) > 0) line.append(buf, static_cast<std::size_t>(n));
                if (line.rfind("error ", 0) == 0) throw std::runtime_error(line.substr(6, line.find('\n') - 6));
                throw std::runtime_error("worker " + exitText(g.pid) + " before it was ready");
            }
        }
    }

    const Manifest& manifest;
    std::string library;
    PluginConfig config;
    Options options;
    Poco::Logger& log;
    zmq::context_t context;  // before every socket: destroyed after them
    std::string dir;
    Fd wake;  // eventfd: wakes the supervisor for stop and new stale channels

    std::mutex mutex;
    std::condition_variable changed;  // state, current, stopping
    State state = State::Starting;
    std::shared_ptr<Generation> current;
    Clock::time_point nextStart;
    std::string lastError;
    std::string describe;
    std::vector<Stale> stale;
    bool stopping = false;
    Stats stats;
    std::uint64_t generations = 0;
    std::atomic<std::uint64_t> nextId{1};
    std::thread supervisor;  // last: started when all else exists
};

ProcessPlugin::ProcessPlugin(Manifest manifest, std::string libraryPath, PluginConfig config, Options options)
    : manifest_(std::move(manifest)) {
    try {
        impl_ = std::make_unique<Impl>(manifest_, std::move(libraryPath), std::move(config), std::move(options));
    } catch (const std::exception& e) {
        throw LoadError(e.what());
    }
    impl_->supervisor = std::thread([this] { impl_->run(); });
    std::unique_lock lock(impl_->mutex);
    impl_->changed.wait(lock, [&] { return impl_->state != Impl::State::Starting; });
    if (impl_->state == Impl::State::Failed) {
        std::string reason = impl_->lastError;
        lock.unlock();
        impl_.reset();
        throw LoadError(reason);
    }
    describe_ = impl_->describe;
    impl_->log.information("plugin %s %s runs in worker pid %d", manifest_.name, manifest_.version, impl_->stats.pid);
}

ProcessPlugin::~ProcessPlugin() = default;

CallResult ProcessPlugin::invoke(std::string_view operation, std::string_view input, const Caller& caller,
                                 Clock::time_point deadline) noexcept {
    try {
        return impl_->call(worker::kInvoke, operation, input, callerJson(caller), deadline);
    } catch (const std::exception& e) {
        return {CH_ERR_INTERNAL, std::string("failure while calling the worker: ") + e.what()};
    } catch (...) {
        return {CH_ERR_INTERNAL, "failure while calling the worker"};
    }
}

CallResult ProcessPlugin::health() noexcept {
    try {
        CallResult r = impl_->call(worker::kHealth, "", "", "{}", Clock::now() + impl_->options.healthTimeout);
        if (r.status == CH_ERR_UNAVAILABLE || r.status == CH_ERR_TIMEOUT)
            return {CH_OK, "{\"status\":\"down\",\"detail\":" + jsonQuote(r.body) + "}"};
        return r;
    } catch (...) {
        return {CH_OK, R"({"status":"down","detail":"failure while asking the worker"})"};
    }
}

CallResult ProcessPlugin::onEvent(std::string_view eventJson) noexcept {
    try {
        return impl_->call(worker::kEvent, "", eventJson, "{}", Clock::now() + impl_->options.eventTimeout);
    } catch (const std::exception& e) {
        return {CH_ERR_INTERNAL, std::string("failure while passing the event to the worker: ") + e.what()};
    } catch (...) {
        return {CH_ERR_INTERNAL, "failure while passing the event to the worker"};
    }
}

ProcessPlugin::Stats ProcessPlugin::stats() const {
    std::lock_guard lock(impl_->mutex);
    Stats s = impl_->stats;
    s.ready = impl_->state == Impl::State::Ready;
    return s;
}

std::string ProcessPlugin::defaultWorkerExecutable() {
    if (const char* env = std::getenv("HUB_PLUGIN_WORKER"); env && *env) return env;
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        std::string path(self, static_cast<std::size_t>(n));
        path = path.substr(0, path.find_last_of('/') + 1) + "hub-plugin-worker";
        if (::access(path.c_str(), X_OK) == 0) return path;
    }
    return "hub-plugin-worker";
}

}  // namespace hub::host
