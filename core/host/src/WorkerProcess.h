#pragma once
// Private to core/host.

#include "hub/host/PluginInstance.h"

#include <chrono>
#include <cstddef>
#include <string>
#include <sys/types.h>
#include <utility>

namespace Poco {
class Logger;
}

namespace hub::host {

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
    void reset();

private:
    int fd_ = -1;
};

/// What a hub-plugin-worker is started with (its command line, see
/// worker/WorkerMain.cpp); the config goes over the control socket instead.
struct WorkerLaunch {
    std::string executable;  ///< Looked up on PATH when it has no '/'.
    std::string library;
    std::string manifestFile;
    std::string name;
    std::string endpoint;  ///< ipc://<folder>/g<generation>; channel i is <endpoint>.<i>
    std::size_t threads = 1;
    std::string logLevel;
    bool coreDumps = false;
    std::string caFile;
};

/// One started hub-plugin-worker process.
///
/// spawnWorker starts it with posix_spawn: stdin from /dev/null, stderr onto
/// stdout (plugin chatter goes to the log stream), the hub's end of a
/// socketpair as fd 3 for the config and the start-up line (not argv: secrets
/// never show in `ps`), no blocked signals and default handlers, and a pidfd to
/// see it exit without reaping it. The worker itself asks to die with the
/// thread that started it (PR_SET_PDEATHSIG), closes every other inherited
/// descriptor and disables core dumps: spawn it from a thread that lives as
/// long as the plugin (the supervisor's).
struct WorkerProcess {
    pid_t pid = -1;
    Fd pidfd;    ///< Readable once the process has exited.
    Fd control;  ///< The hub's end of the control socketpair.
};

/// Starts a worker; throws std::runtime_error with the reason.
WorkerProcess spawnWorker(const WorkerLaunch& launch);

/// How a child ended, without reaping it (the supervisor reaps), or "" while
/// it runs: "exited with status 7", "was killed by SIGSEGV".
std::string exitText(pid_t pid);

/// SIGKILL, then reaps it.
void killWorker(pid_t pid) noexcept;

/// Asks a worker to stop (SIGTERM), SIGKILLs it if it has not after timeout,
/// and reaps it.
void stopWorker(pid_t pid, int pidfd, std::chrono::milliseconds timeout, Poco::Logger& log, const std::string& name);

/// Whole milliseconds until t, rounded up so a poll never wakes just before it.
long msUntil(Clock::time_point t);

}  // namespace hub::host
