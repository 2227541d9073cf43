#include "WorkerProcess.h"

#include <Poco/Logger.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace hub::host {

namespace {

std::string errnoText(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

std::string signalName(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

constexpr int kChildControlFd = 3;

std::vector<std::string> arguments(const WorkerLaunch& l) {
    std::vector<std::string> args = {l.executable,
                                     "--library",
                                     l.library,
                                     "--manifest",
                                     l.manifestFile,
                                     "--name",
                                     l.name,
                                     "--endpoint",
                                     l.endpoint,
                                     "--threads",
                                     std::to_string(l.threads),
                                     "--control-fd",
                                     std::to_string(kChildControlFd),
                                     "--parent-pid",
                                     std::to_string(::getpid()),
                                     "--log-level",
                                     l.logLevel};
    if (l.coreDumps) args.push_back("--core-dumps");
    if (!l.caFile.empty()) {
        args.push_back("--ca-file");
        args.push_back(l.caFile);
    }
    return args;
}

}  // namespace

void Fd::reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

long msUntil(Clock::time_point t) {
    auto left = t - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    return static_cast<long>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

WorkerProcess spawnWorker(const WorkerLaunch& launch) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
        throw std::runtime_error(errnoText("socketpair"));
    Fd control(pair[0]), childEnd(pair[1]);
    if (childEnd.get() == kChildControlFd)  // dup2 onto itself would keep FD_CLOEXEC
        childEnd = Fd(::fcntl(childEnd.get(), F_DUPFD_CLOEXEC, kChildControlFd + 1));

    std::vector<std::string> args = arguments(launch);
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
    int rc = launch.executable.find('/') == std::string::npos
                 ? ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ)
                 : ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
    if (rc != 0) throw std::runtime_error("cannot start " + launch.executable + ": " + std::strerror(rc));

    WorkerProcess w;
    w.pid = pid;
    w.control = std::move(control);
    w.pidfd = Fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (w.pidfd.get() < 0) {
        std::string why = errnoText("pidfd_open");
        killWorker(pid);
        throw std::runtime_error(why);
    }
    return w;
}

std::string exitText(pid_t pid) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return "";
    if (info.si_code == CLD_EXITED) return "exited with status " + std::to_string(info.si_status);
    return "was killed by " + signalName(info.si_status);
}

void killWorker(pid_t pid) noexcept {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
}

void stopWorker(pid_t pid, int pidfd, std::chrono::milliseconds timeout, Poco::Logger& log, const std::string& name) {
    ::kill(pid, SIGTERM);
    pollfd p{pidfd, POLLIN, 0};
    auto until = Clock::now() + timeout;
    while (::poll(&p, 1, static_cast<int>(std::min<long>(msUntil(until), INT_MAX))) < 0 && errno == EINTR) {
    }
    if (!(p.revents & POLLIN)) {
        log.warning("plugin %s: worker pid %d did not stop within %s ms; killing it", name, static_cast<int>(pid),
                    std::to_string(timeout.count()));
        ::kill(pid, SIGKILL);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
}

}  // namespace hub::host
