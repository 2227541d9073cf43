#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hub::test {

/// A program started for a test (a simulated vendor system, hubd, slapd, ...),
/// stopped for sure when the object goes away: SIGTERM, then SIGKILL after
/// stopTimeout. Its stdout and stderr are collected (see output()) so a
/// failing test can show what the child said.
///
///     hub::test::TempDir dir;
///     hub::test::ChildProcess sim(HUB_SIM_STUDENT_AFFAIRS,
///         {.args = {"--port", "0", "--port-file", dir.file("port")}, .portFile = dir.file("port")});
///     auto r = hub::test::httpRequest("GET", sim.url("/health"));
class ChildProcess
{
public:
    struct Options
    {
        std::vector<std::string> args;
        std::string workingDirectory;              ///< Empty: the test's own.
        std::map<std::string, std::string> env;    ///< Added to the inherited environment.
        std::string portFile;                      ///< If set, wait until the child writes its port there.
        std::string readyLine;                     ///< If set, wait until the child prints a line containing it.
        std::chrono::milliseconds startTimeout{15000};
        std::chrono::milliseconds stopTimeout{5000};
    };

    /// Starts `executable` and waits for the port file and/or ready line. Throws
    /// Poco::TimeoutException (child killed) or Poco::RuntimeException (child exited),
    /// both with the child's output in the message.
    ChildProcess(const std::string& executable, Options options);

    /// stop(), never throws.
    ~ChildProcess();

    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    int pid() const;

    /// The port read from Options::portFile; 0 if none was asked for.
    int port() const;

    /// "http://127.0.0.1:<port><path>".
    std::string url(const std::string& path = "/") const;

    /// True while the child has not exited.
    bool running();

    /// Sends `signal` (e.g. SIGTERM, SIGSTOP) without waiting.
    void signal(int signal);

    /// Waits up to `timeout` for the child to exit; its exit code, or 256 + signal number
    /// if a signal ended it; nullopt if it is still running.
    std::optional<int> wait(std::chrono::milliseconds timeout);

    /// SIGTERM, wait stopTimeout, then SIGKILL; returns the exit status as wait() does.
    /// Idempotent.
    int stop();

    /// Everything the child wrote to stdout and stderr so far.
    std::string output() const;

private:
    struct Impl;
    std::unique_ptr<Impl> _impl;
};

} // namespace hub::test
