#pragma once

// What every hubctl command group shares: the global options, the exit codes,
// the admin API client, table and JSON output, the progress indicator, and the
// registry through which each group (one file in src/) adds its subcommands.

#include <CLI/CLI.hpp>

#include <Poco/JSON/Object.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace hubctl {

/// The exit codes, documented in docs/operator.md ("hubctl"). Scripts rely on them.
enum ExitCode : int {
    exitOk = 0,           ///< Done.
    exitFailure = 1,      ///< The hub answered with an error, or a check found errors.
    exitUsage = 2,        ///< Wrong command line (unknown command, missing argument).
    exitUnreachable = 3,  ///< Cannot reach the hub, no token, or the token was refused (401/403).
};

/// Ends a command with an exit code and a one-line message for stderr.
class Failure : public std::runtime_error {
public:
    Failure(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
    int code() const noexcept { return code_; }

private:
    int code_;
};

/// The options every subcommand takes (before or after its name).
struct GlobalOptions {
    std::string url;          ///< --url, HUBCTL_URL, else from the config file's http section.
    std::string config;       ///< --config, HUBCTL_CONFIG, else /etc/campushub/hub.xml when present.
    std::string tokenFile;    ///< --token-file, HUBCTL_TOKEN_FILE.
    bool json = false;        ///< --json: machine-readable output on stdout.
    bool quiet = false;       ///< --quiet: no progress indicator.
    int timeoutSeconds = 0;   ///< --timeout; 0 = the command's own default.
};

/// One answer of the hub.
struct Answer {
    int status = 0;
    std::string body;
    /// The body as a JSON object; throws Failure(exitFailure) when it is not one.
    Poco::JSON::Object::Ptr object() const;
};

/// The admin API over HTTP/1.1 (Poco::Net, one connection per call: hubctl
/// makes a handful of calls). Maps transport errors and 401/403 to
/// exitUnreachable, other 4xx/5xx to exitFailure with the problem's detail.
class HubClient {
public:
    explicit HubClient(const GlobalOptions& options);

    Answer get(const std::string& pathAndQuery, int timeoutSeconds = 30) const;
    Answer post(const std::string& pathAndQuery, const std::string& body = "", int timeoutSeconds = 30) const;
    Answer put(const std::string& pathAndQuery, const std::string& body, int timeoutSeconds = 30) const;
    Answer remove(const std::string& pathAndQuery, int timeoutSeconds = 30) const;

    /// The base URL in use ("http://127.0.0.1:8080").
    const std::string& url() const noexcept { return url_; }

private:
    Answer call(const std::string& method, const std::string& pathAndQuery, const std::string& body,
                int timeoutSeconds) const;

    std::string url_;
    std::string token_;
    int timeoutOverride_;
};

/// Percent-encodes a query parameter's value.
std::string queryValue(const std::string& value);

/// A table for people: a header row, columns as wide as their widest cell
/// (counted in terminal columns, so Chinese names line up).
class Table {
public:
    explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    bool empty() const noexcept { return rows_.empty(); }
    void print(std::ostream& out) const;

private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

/// Prints JSON as hubctl's --json output: one document, then a newline.
void printJson(const std::string& json);

/// A value of a JSON object as text for a table ("" when absent or null).
std::string text(const Poco::JSON::Object::Ptr& object, const std::string& key);

/// A progress indicator on stderr, drawn only when stdout is a terminal (so a
/// script piping the output never sees it) and not --quiet or --json. With a
/// total it is a bar; without, a spinner with the elapsed time (and the count
/// done so far, with `unit`, once there is one). Cleared when destroyed.
class Progress {
public:
    Progress(const GlobalOptions& options, std::string label, long long total = 0, std::string unit = "");
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    /// Sets the work done so far.
    void update(long long done);
    /// Sets the total (0: unknown, a spinner).
    void setTotal(long long total) { total_ = total; }
    /// Runs work() and keeps the spinner turning while it runs.
    template <class Work>
    auto whileRunning(Work work) {
        if (!enabled_) return work();
        startTicker();
        struct Stop {
            Progress* p;
            ~Stop() { p->stopTicker(); }
        } stop{this};
        return work();
    }
    /// Runs work() on a thread of its own and, while it runs, draws the count
    /// poll() returns (the hub's own figure of the work done) four times a
    /// second. A failing poll only skips that look: work()'s answer is what counts.
    template <class Work, class Poll>
    auto whilePolling(Work work, Poll poll) {
        if (!enabled_) return work();
        auto result = std::async(std::launch::async, std::move(work));
        while (result.wait_for(std::chrono::milliseconds(250)) != std::future_status::ready) {
            try {
                update(poll());
            } catch (...) {
                draw();
            }
        }
        return result.get();
    }

private:
    void draw();
    void startTicker();
    void stopTicker();

    struct Ticker;
    bool enabled_;
    std::string label_;
    std::atomic<long long> total_;
    std::string unit_;
    std::atomic<long long> done_ = 0;
    std::chrono::steady_clock::time_point started_;
    std::unique_ptr<Ticker> ticker_;
};

/// What a command group gets to add its subcommands: the parser's node for the
/// group and the shared options. leaf() adds a subcommand with the function it runs.
class Commands {
public:
    using Action = std::function<int()>;

    Commands(CLI::App& app, GlobalOptions& options) : app_(app), options_(options) {}

    /// A subcommand under `parent` that runs `action` when it is the one given.
    CLI::App* leaf(CLI::App& parent, const std::string& name, const std::string& description, Action action);
    /// A subcommand grouping others (requires one of them).
    CLI::App* group(CLI::App& parent, const std::string& name, const std::string& description);

    CLI::App& root() noexcept { return app_; }
    GlobalOptions& options() noexcept { return options_; }
    /// The action of the deepest subcommand given; null if none has one.
    Action selected() const;

private:
    CLI::App& app_;
    GlobalOptions& options_;
    std::map<const CLI::App*, Action> actions_;
};

/// A command group registers itself from its own file:
///     static const hubctl::Registration plugins(30, [](hubctl::Commands& c) { ... });
/// `order` sets where it appears in --help (and in the completion script).
class Registration {
public:
    using Define = void (*)(Commands&);
    Registration(int order, Define define);
    static std::vector<Define> all();  ///< In order.
};

}  // namespace hubctl
