// ProcessPlugin's parts, each in its own file: the wire protocol
// (worker/WorkerProtocol.h), starting a worker process (WorkerProcess) and its
// start-up handshake (WorkerHandshake), one incarnation of the worker with the
// pool of channels to it (WorkerGeneration), and the supervisor that keeps a
// worker running (WorkerSupervisor, with its RestartPolicy). What is here: a
// call's way through them, and the answers it gets.
#include "hub/host/ProcessPlugin.h"

#include "WorkerSupervisor.h"

#include "../worker/WorkerProtocol.h"

#include "hub/common/JsonWriter.h"

#include <campushub/plugin.h>

#include <Poco/Logger.h>

#include <climits>
#include <cstdlib>
#include <unistd.h>

namespace hub::host {

struct ProcessPlugin::Impl {
    Impl(const Manifest& manifest, std::string library, PluginConfig config, Options options)
        : services(hostServices(manifest, options.submitIdentity)),
          supervisor(manifest, std::move(library), std::move(config), std::move(options)),
          name(manifest.name) {}

    // The host services the worker asks hubd for during a call (identity_submit).
    static WorkerGeneration::ServiceHandler hostServices(const Manifest& manifest, SubmitIdentity submit) {
        std::vector<std::string> owned = ownedPersonFields(manifest.owns);
        if (!submit || owned.empty()) return {};
        return [submit = std::move(submit), owned = std::move(owned), plugin = manifest.name](
                   std::string_view service, std::string_view payload) -> std::pair<std::int32_t, std::string> {
            if (service != "identity_submit") return {CH_ERR_UNAVAILABLE, R"({"detail":"no such service here"})"};
            std::string answer;
            int status = CH_ERR_INTERNAL;
            try {
                status = submit(plugin, owned, payload, answer);
            } catch (const std::exception& e) {
                answer = e.what();
            }
            // The worker's identity_submit wraps an error text as the plugin sees it in process.
            return {status, std::move(answer)};
        };
    }

    /// One request to the worker, answered by its deadline at the latest.
    CallResult call(std::string_view kind, std::string_view operation, std::string_view input, std::string_view caller,
                    Clock::time_point deadline, const CallContext& context = {}) {
        if (Clock::now() >= deadline)
            return {CH_ERR_TIMEOUT, "the call reached plugin " + name + " after its deadline"};
        CallResult unavailable;
        auto g = supervisor.awaitWorker(deadline, unavailable);
        if (!g) return unavailable;
        using Outcome = WorkerGeneration::Exchange::Outcome;
        auto x = g->exchange(supervisor.nextId(), kind, operation, input, caller, context, deadline, services);
        switch (x.outcome) {
            case Outcome::Replied:
                // The plugin's status is data from vendor code: only known statuses pass.
                if (x.status < CH_OK || x.status > CH_ERR_INTERNAL)
                    return {CH_ERR_INTERNAL,
                            "plugin " + name + " answered with unknown status " + std::to_string(x.status)};
                return {x.status, std::move(x.body)};
            case Outcome::Malformed:
                return {CH_ERR_INTERNAL, "the worker of " + name + " sent a malformed reply"};
            case Outcome::Busy:
                return {CH_ERR_TIMEOUT, "every channel to the worker of " + name + " stayed busy until the deadline"};
            case Outcome::Dead:
            case Outcome::Died:
                return supervisor.crashed(*g, operation);
            case Outcome::Refused:
                return {CH_ERR_UNAVAILABLE, "the worker of " + name + " is not accepting calls"};
            case Outcome::SendFailed:
                return {CH_ERR_UNAVAILABLE, "cannot send to the worker: " + x.body};
            case Outcome::TimedOut:
                supervisor.handOver(g, x.channel, x.id);
                return {CH_ERR_TIMEOUT, "plugin " + name + " did not answer " +
                                            std::string(operation.empty() ? kind : operation) + " before the deadline"};
            case Outcome::PollFailed:
                supervisor.handOver(g, x.channel, x.id);
                return {CH_ERR_UNAVAILABLE, "polling the worker failed: " + x.body};
        }
        return {CH_ERR_INTERNAL, "unexpected outcome of a call to the worker of " + name};
    }

    const WorkerGeneration::ServiceHandler services;
    WorkerSupervisor supervisor;
    const std::string name;
};

ProcessPlugin::ProcessPlugin(Manifest manifest, std::string libraryPath, PluginConfig config, Options options)
    : manifest_(std::move(manifest)),
      impl_(std::make_unique<Impl>(manifest_, std::move(libraryPath), std::move(config), std::move(options))) {
    impl_->supervisor.start();
    describe_ = impl_->supervisor.describe();
    Poco::Logger::get("hub.host.process")
        .information("plugin %s %s runs in worker pid %d", manifest_.name, manifest_.version, stats().pid);
}

ProcessPlugin::~ProcessPlugin() = default;

CallResult ProcessPlugin::invoke(std::string_view operation, std::string_view input, const Caller& caller,
                                 const CallContext& context, Clock::time_point deadline) noexcept {
    try {
        return impl_->call(worker::kInvoke, operation, input, worker::encodeCaller(caller), deadline, context);
    } catch (const std::exception& e) {
        return {CH_ERR_INTERNAL, std::string("failure while calling the worker: ") + e.what()};
    } catch (...) {
        return {CH_ERR_INTERNAL, "failure while calling the worker"};
    }
}

CallResult ProcessPlugin::health() noexcept {
    try {
        CallResult r =
            impl_->call(worker::kHealth, "", "", "{}", Clock::now() + impl_->supervisor.options().healthTimeout);
        if (r.status == CH_ERR_UNAVAILABLE || r.status == CH_ERR_TIMEOUT) {
            std::string body = "{\"status\":\"down\",\"detail\":";
            json::appendString(body, r.body);
            return {CH_OK, body + "}"};
        }
        return r;
    } catch (...) {
        return {CH_OK, R"({"status":"down","detail":"failure while asking the worker"})"};
    }
}

CallResult ProcessPlugin::onEvent(std::string_view eventJson) noexcept {
    try {
        return impl_->call(worker::kEvent, "", eventJson, "{}",
                           Clock::now() + impl_->supervisor.options().eventTimeout);
    } catch (const std::exception& e) {
        return {CH_ERR_INTERNAL, std::string("failure while passing the event to the worker: ") + e.what()};
    } catch (...) {
        return {CH_ERR_INTERNAL, "failure while passing the event to the worker"};
    }
}

ProcessPlugin::Stats ProcessPlugin::stats() const {
    return impl_->supervisor.stats();
}

std::string ProcessPlugin::defaultWorkerExecutable() {
    if (const char* env = std::getenv("HUB_PLUGIN_WORKER"); env && *env) return env;
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        std::string dir(self, static_cast<std::size_t>(n));
        dir = dir.substr(0, dir.find_last_of('/') + 1);
        // Beside hubd (the build tree), else where `cmake --install` and the
        // .deb put it: PREFIX/lib/campushub/ for PREFIX/sbin/hubd.
        for (const std::string& path : {dir + "hub-plugin-worker", dir + "../lib/campushub/hub-plugin-worker"})
            if (::access(path.c_str(), X_OK) == 0) return path;
    }
    return "hub-plugin-worker";
}

}  // namespace hub::host
