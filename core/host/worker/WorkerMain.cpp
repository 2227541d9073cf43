// hub-plugin-worker: runs one plugin library on behalf of hubd (isolation
// "process"), so that vendor code that crashes or hangs takes down only this
// process. hubd starts it (see hub::host::ProcessPlugin); it is not meant to be
// started by hand. The protocol is described in WorkerProtocol.h.
//
// The plugin is loaded with the same LoadedPlugin class hubd uses in process,
// with host services of the worker's own: config_get answers from the config
// hubd sent at start (the same PluginConfig as in hubd), http_request and
// soap_call use a hub::http::Client and hub::soap::Client here, sql_query a
// pool of its own on the data sources hubd sent for this plugin, and log lines
// go to stderr (inherited from hubd) under the plugin's name. emit_event and
// kv_* stay NULL: the worker has no database and no outbox, and must not open
// hubd's (SQLite in WAL mode is one writer's).
#include "WorkerProtocol.h"

#include "hub/common/Exceptions.h"
#include "hub/common/LogContext.h"
#include "hub/common/LineChannel.h"
#include "hub/common/LogFormatter.h"
#include "hub/common/Version.h"
#include "hub/host/LoadedPlugin.h"
#include "hub/host/Manifest.h"
#include "hub/host/PluginConfig.h"
#include "hub/http/Client.h"
#include "hub/soap/Client.h"
#include "hub/sql/Sources.h"

#include <campushub/plugin.h>

#include <Poco/AutoPtr.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>

#include <zmq.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using hub::host::CallContext;
using hub::host::CallResult;
using hub::host::Caller;
using hub::host::Clock;
using hub::host::LoadedPlugin;
namespace worker = hub::host::worker;

constexpr std::size_t kMaxConfigBytes = 16 * 1024 * 1024;
constexpr std::size_t kMaxThreads = 256;

struct Arguments {
    std::string library;
    std::string manifest;
    std::string name;
    std::string endpoint;
    std::size_t threads = 1;
    int controlFd = -1;
    pid_t parentPid = 0;
    std::string logLevel = "information";
    bool coreDumps = false;
    std::string caFile;  // for https calls; empty: the system CAs
};

bool parseArguments(int argc, char** argv, Arguments& a, std::string& error) {
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--core-dumps") {
            a.coreDumps = true;
            continue;
        }
        if (i + 1 >= argc) {
            error = "missing value after " + arg;
            return false;
        }
        std::string value = argv[++i];
        try {
            if (arg == "--library") a.library = value;
            else if (arg == "--manifest") a.manifest = value;
            else if (arg == "--name") a.name = value;
            else if (arg == "--endpoint") a.endpoint = value;
            else if (arg == "--threads") a.threads = std::stoul(value);
            else if (arg == "--control-fd") a.controlFd = std::stoi(value);
            else if (arg == "--parent-pid") a.parentPid = static_cast<pid_t>(std::stol(value));
            else if (arg == "--log-level") a.logLevel = value;
            else if (arg == "--ca-file") a.caFile = value;
            else {
                error = "unknown option " + arg;
                return false;
            }
        } catch (const std::exception&) {
            error = "bad value for " + arg + ": " + value;
            return false;
        }
    }
    if (a.library.empty() || a.manifest.empty() || a.name.empty() || a.endpoint.empty() || a.controlFd < 0) {
        error = "--library, --manifest, --name, --endpoint and --control-fd are required";
        return false;
    }
    if (a.threads == 0 || a.threads > kMaxThreads) {
        error = "--threads must be 1.." + std::to_string(kMaxThreads);
        return false;
    }
    return true;
}

// hubd's listening sockets, database files and the like must not live on in a
// worker (nor keep a port open after hubd is gone).
void closeInheritedFds(int keep) {
    if (keep > 3) ::syscall(SYS_close_range, 3U, static_cast<unsigned>(keep - 1), 0U);
    ::syscall(SYS_close_range, static_cast<unsigned>(std::max(keep + 1, 3)), ~0U, 0U);
}

bool readAll(int fd, std::string& out) {
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n == 0) return true;
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > kMaxConfigBytes) return false;
    }
}

void writeLine(int fd, std::string line) {
    for (char& c : line)
        if (c == '\n' || c == '\r') c = ' ';
    line += '\n';
    std::size_t done = 0;
    while (done < line.size()) {
        ssize_t n = ::write(fd, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

void setUpLogging(const std::string& name, const std::string& level) {
    // hubd's own line (text or JSON, masked or not), as hubd chose it (its environment).
    Poco::AutoPtr<hub::log::LogFormatter> formatter(new hub::log::LogFormatter(hub::log::LogFormatter::fromEnvironment()));
    // One write(2) a line: the worker shares stderr with hubd.
    Poco::AutoPtr<Poco::Channel> console(new hub::log::LineChannel);
    Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(formatter, console));
    Poco::Logger::root().setChannel(channel);
    try {
        Poco::Logger::root().setLevel(level);
    } catch (const std::exception&) {
        Poco::Logger::root().setLevel(Poco::Message::PRIO_INFORMATION);
    }
    Poco::Logger::get("hub.plugin." + name);
}

/// Reads the caller JSON hubd sends; the last one is kept, as consecutive calls
/// usually come from the same caller.
class CallerCache {
public:
    const Caller& get(std::string_view json) {
        if (json == json_) return caller_;
        caller_ = worker::decodeCaller(json);
        json_ = json;
        return caller_;
    }

private:
    std::string json_;
    Caller caller_;
};

void logQuietly(Poco::Logger& log, const std::string& message) noexcept {
    try {
        log.error(message);
    } catch (...) {
    }
}

/// A call's log tag, owning the text its views point into.
struct TraceTag {
    std::string traceparent;
    std::string requestId;
    hub::log::RequestTag tag;
};

// The call this thread serves, for the host services only hubd can run
// (identity_submit): the plugin calls them during its invoke, and they travel
// on the call's channel (worker/WorkerProtocol.h).
struct CurrentCall {
    zmq::socket_t* socket = nullptr;
    const zmq::message_t* id = nullptr;
    Clock::time_point deadline;
};
thread_local CurrentCall currentCall;

struct CurrentCallScope {
    CurrentCallScope(zmq::socket_t& socket, const zmq::message_t& id, Clock::time_point deadline) {
        currentCall = {&socket, &id, deadline};
    }
    ~CurrentCallScope() { currentCall = {}; }
};

// PluginServices::submitIdentity in a worker: asks hubd, waits for its answer
// (a little past the call's deadline at most: hubd answers while it waits for
// the call, and gives up on the call at its deadline).
int forwardIdentitySubmit(const std::string&, const std::vector<std::string>&, std::string_view records,
                          std::string& answer) {
    const CurrentCall call = currentCall;
    if (!call.socket) {
        answer = "identity_submit works only during a call (invoke) in a worker process";
        return CH_ERR_UNAVAILABLE;
    }
    const std::uint64_t id = worker::readScalar<std::uint64_t>(call.id->data(), call.id->size(), 0);
    worker::sendServiceRequest(*call.socket, *call.id, "identity_submit", records);
    worker::Message parts;
    for (;;) {
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(call.deadline + std::chrono::seconds(1) -
                                                                          Clock::now());
        if (wait.count() <= 0) {
            answer = "hubd did not answer identity_submit before the call's deadline";
            return CH_ERR_TIMEOUT;
        }
        zmq::pollitem_t item{call.socket->handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&item, 1, wait);
        if (!(item.revents & ZMQ_POLLIN)) continue;
        worker::receive(*call.socket, parts);
        if (worker::idOf(parts) != id || parts.size() != worker::kReplyFrames) continue;  // not the answer
        std::int32_t status = CH_ERR_INTERNAL;
        if (!worker::readReply(parts, status, answer)) answer = "hubd's answer to identity_submit was malformed";
        return status;
    }
}

CallResult handle(zmq::socket_t& socket, LoadedPlugin& plugin, const worker::Message& parts, CallerCache& callers) {
    if (parts.size() != worker::kRequestFrames)
        return {CH_ERR_INVALID_ARGUMENT, "malformed request: " + std::to_string(parts.size()) + " frames"};
    std::string_view kind = parts[1].to_string_view();
    if (kind == worker::kInvoke) {
        const Caller* caller;
        try {
            caller = &callers.get(parts[4].to_string_view());
        } catch (const std::exception&) {
            return {CH_ERR_INVALID_ARGUMENT, "malformed caller"};
        }
        auto remaining = worker::readScalar<std::uint32_t>(parts[5].data(), parts[5].size(), 0);
        Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(remaining);
        // hubd checked both before sending them (PluginHost::submit).
        CallContext context{parts[6].to_string(), parts[7].to_string()};
        // The lines this call causes carry hubd's request id and the trace id,
        // as hubd's own do.
        auto tag = std::make_shared<TraceTag>();
        tag->traceparent = context.traceparent;
        tag->requestId = parts[8].to_string();
        tag->tag.traceId = hub::log::traceIdFromTraceparent(tag->traceparent);
        tag->tag.requestId = tag->requestId;
        hub::log::RequestScope scope(tag->tag.traceId.empty() && tag->requestId.empty()
                                         ? nullptr
                                         : hub::log::RequestTagPtr(tag, &tag->tag));
        CurrentCallScope current(socket, parts[0], deadline);
        return plugin.invoke(parts[2].to_string_view(), parts[3].to_string_view(), *caller, context, deadline);
    }
    if (kind == worker::kHealth) return plugin.health();
    if (kind == worker::kDescribe) return {CH_OK, plugin.describeJson()};
    if (kind == worker::kEvent) return plugin.onEvent(parts[3].to_string_view());
    return {CH_ERR_INVALID_ARGUMENT, "unknown request kind"};
}

/// Serves one channel: one call at a time, answered on this thread. A request
/// whose handling fails here (not in the plugin: LoadedPlugin catches those)
/// gets CH_ERR_INTERNAL and the channel goes on; a channel that cannot go on
/// ends the worker, which hubd then restarts.
void serve(zmq::socket_t& socket, LoadedPlugin& plugin, Poco::Logger& log) noexcept {
    CallerCache callers;
    worker::Message parts;
    try {
        for (;;) {
            worker::receive(socket, parts);
            if (parts.empty() || parts[0].size() != sizeof(std::uint64_t)) {
                log.warning("dropped a request without an id");
                continue;
            }
            CallResult r;
            try {
                r = handle(socket, plugin, parts, callers);
            } catch (...) {
                r = {CH_ERR_INTERNAL, "the plugin's worker failed while handling the request: " +
                                          hub::currentExceptionText()};
            }
            worker::sendReply(socket, parts[0], r.status, r.body);
        }
    } catch (const zmq::error_t& e) {
        if (e.num() == ETERM) return;  // stopping
        logQuietly(log, "channel failed: " + std::string(e.what()));
    } catch (...) {
        logQuietly(log, "channel failed: " + hub::currentExceptionText());
    }
    // A channel that no longer answers would leave its calls to time out one by
    // one: better that hubd sees this worker die and starts another.
    std::_Exit(worker::kExitChannelFailed);
}

}  // namespace

int main(int argc, char** argv) {
    // For a person at a terminal: hubd never passes these, and they are looked at
    // only as the sole argument, so the normal start-up (config over the control
    // socketpair) is untouched.
    if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        std::cout << "usage: hub-plugin-worker --library PATH --manifest PATH --name NAME --endpoint ipc://PATH\n"
                     "                         --control-fd FD [--threads N] [--parent-pid PID] [--log-level LEVEL]\n"
                     "                         [--ca-file PEM] [--core-dumps]\n"
                     "\n"
                     "Runs one plugin library for hubd (isolation=\"process\"); hubd starts it and sends its\n"
                     "configuration over the control socket. It is not meant to be started by hand.\n";
        return 0;
    }
    if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
        std::cout << "hub-plugin-worker (CampusHub) " << hub::projectVersion << "\n";
        return 0;
    }
    Arguments args;
    std::string error;
    if (!parseArguments(argc, argv, args, error)) {
        std::cerr << "hub-plugin-worker: " << error
                  << "\nusage: hub-plugin-worker --library PATH --manifest PATH --name NAME --endpoint ipc://PATH"
                     " --control-fd FD [--threads N] [--parent-pid PID] [--log-level LEVEL] [--ca-file PEM] [--core-dumps]\n";
        return worker::kExitUsage;
    }
    // Die with hubd (with the thread that started us, to be exact: hubd starts
    // workers from a thread that lives as long as the plugin).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (args.parentPid && ::getppid() != args.parentPid) return 1;  // hubd is already gone
    closeInheritedFds(args.controlFd);
    if (!args.coreDumps) {
        rlimit none{0, 0};
        ::setrlimit(RLIMIT_CORE, &none);
    }
    std::signal(SIGPIPE, SIG_IGN);
    // Stop signals are taken by sigwait() on the main thread only.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGTERM);
    sigaddset(&stopSignals, SIGINT);
    ::pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

    std::string configText;
    if (!readAll(args.controlFd, configText)) {
        writeLine(args.controlFd, "error cannot read the config from hubd");
        return worker::kExitLoadFailed;
    }
    setUpLogging(args.name, args.logLevel);
    Poco::Logger& log = Poco::Logger::get("hub.plugin." + args.name);

    zmq::context_t context(1);
    std::vector<zmq::socket_t> sockets;
    hub::http::Client::Options httpOptions;
    httpOptions.caFile = args.caFile;
    hub::http::Client http(httpOptions);
    hub::soap::Client soap(http);
    std::unique_ptr<hub::sql::Sources> sources;
    std::unique_ptr<LoadedPlugin> plugin;  // after http and sources: destroyed before them
    try {
        // The config's JSON, then (after a newline) the data sources this plugin may use.
        std::string sourcesText;
        if (auto newline = configText.find('\n'); newline != std::string::npos) {
            sourcesText = configText.substr(newline + 1);
            configText.resize(newline);
        }
        sources = hub::sql::Sources::fromJson(sourcesText);
        std::fill(sourcesText.begin(), sourcesText.end(), '\0');  // the secrets live on in the pool only
        hub::host::Manifest manifest = hub::host::readManifest(args.manifest);
        if (manifest.name != args.name)
            throw std::runtime_error(args.manifest + " names plugin " + manifest.name + ", not " + args.name);
        hub::host::PluginServices services;
        services.config = hub::host::PluginConfig::fromJson(configText);
        services.http = &http;
        services.logger = &log;
        services.soap = &soap;
        if (!sources->empty()) services.sql = sources.get();
        services.submitIdentity = &forwardIdentitySubmit;
        services.ownedPersonFields = hub::host::ownedPersonFields(manifest.owns);
        plugin = std::make_unique<LoadedPlugin>(std::move(manifest), args.library, services);
        for (std::size_t i = 0; i < args.threads; ++i) {
            zmq::socket_t socket(context, zmq::socket_type::dealer);
            socket.set(zmq::sockopt::linger, 0);
            socket.bind(args.endpoint + "." + std::to_string(i));
            sockets.push_back(std::move(socket));
        }
    } catch (...) {
        writeLine(args.controlFd, "error " + hub::currentExceptionText());
        return worker::kExitLoadFailed;
    }
    writeLine(args.controlFd, "ready");
    ::close(args.controlFd);

    std::vector<std::thread> threads;
    for (auto& socket : sockets) threads.emplace_back([&socket, &plugin, &log] { serve(socket, *plugin, log); });

    int sig = 0;
    while (::sigwait(&stopSignals, &sig) != 0) {
    }
    log.debug("stopping on %s", std::string(::sigabbrev_np(sig) ? ::sigabbrev_np(sig) : "a signal"));
    // Blocking receives return ETERM; a call still running in the plugin keeps its
    // thread, and hubd kills us if that takes too long.
    context.shutdown();
    for (auto& t : threads) t.join();
    sockets.clear();
    plugin.reset();
    return 0;
}
