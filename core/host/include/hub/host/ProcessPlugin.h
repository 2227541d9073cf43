#pragma once

#include "hub/host/PluginConfig.h"
#include "hub/host/PluginInstance.h"
#include "hub/host/PluginServices.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace hub::host {

/// A plugin run in a worker process of its own (isolation "process"), so that a
/// crash or a hang in vendor code costs only that plugin's calls in flight.
///
/// The worker is `hub-plugin-worker`: it loads the library with LoadedPlugin and
/// serves calls over ZeroMQ ipc:// sockets in a private folder (mode 0700). Host
/// services work inside it: config_get answers from the PluginConfig given here,
/// http_request and soap_call go through the worker's own hub::http::Client and
/// hub::soap::Client, and log lines go to the worker's stderr (inherited from
/// hubd) under the plugin's name. emit_event and kv_get/kv_put/kv_delete are NULL
/// in a worker: it has no database and no outbox (a plugin tests for NULL).
/// Events reach the plugin's on_event through the worker like calls do.
///
/// When the worker dies, every call in flight returns CH_ERR_UNAVAILABLE with
/// CallResult::retryAfter set (a restart, not the vendor system's failure); when
/// a call passes its deadline it returns CH_ERR_TIMEOUT, and if its reply has
/// not come killGrace later the worker is killed (SIGKILL) as hung. Either way
/// the worker is restarted: at once if it had been up for stableAfter, else (a
/// crash loop) after a backoff that doubles from backoffInitial up to
/// backoffMax with each worker that dies sooner. Calls that arrive while the
/// worker is down wait for it up to their deadline, and fail at once with
/// CH_ERR_UNAVAILABLE (and retryAfter) when the next start is later than that.
///
/// Construction starts the first worker and waits for it: a library that does not
/// load, or whose describe() does not match the manifest, throws LoadError with
/// the worker's reason. Thread-safe; invoke() may run on up to
/// Options::concurrency threads at once (more wait for a free channel).
class ProcessPlugin final : public PluginInstance {
public:
    struct Options {
        /// Path of hub-plugin-worker; empty: defaultWorkerExecutable().
        std::string workerExecutable;
        /// Calls the worker runs at once: its threads and the hub's channels to it
        /// (plus one more of each for health and describe). Set it to the
        /// plugin's bulkhead (PluginLimits::concurrency).
        std::size_t concurrency = 8;
        /// Largest reply accepted from the worker; a bigger one is dropped and the
        /// call times out.
        std::size_t maxReplyBytes = 64 * 1024 * 1024;
        /// From spawn to ready, library load and describe included.
        std::chrono::milliseconds startTimeout{10000};
        /// How long past a call's deadline its reply may still come before the
        /// worker is considered hung and killed.
        std::chrono::milliseconds killGrace{250};
        /// SIGTERM to SIGKILL when the plugin is unloaded.
        std::chrono::milliseconds stopTimeout{3000};
        /// Deadline of a health() call.
        std::chrono::milliseconds healthTimeout{2000};
        /// Deadline of an onEvent() call (PluginHost sets the plugin's call timeout).
        std::chrono::milliseconds eventTimeout{30000};
        /// Delay before the next start after a worker that died within
        /// stableAfter of its start, doubling up to backoffMax while that repeats.
        std::chrono::milliseconds backoffInitial{100};
        std::chrono::milliseconds backoffMax{10000};
        /// A worker up this long was not crash-looping: when it dies, the next
        /// one starts at once and the backoff is back to backoffInitial.
        std::chrono::milliseconds stableAfter{1000};
        /// Where the private socket folder is made; empty: /tmp (ipc paths are
        /// limited to about 100 bytes, so keep it short).
        std::string socketDir;
        /// Poco priority name for the worker's log: "error", "warning",
        /// "information", "debug".
        std::string logLevel = "information";
        /// A crashing vendor library should not fill the disk: workers run with
        /// RLIMIT_CORE 0 unless this is set.
        bool coreDumps = false;
        /// CA file for the worker's https calls (hub::http::Client::Options::caFile).
        std::string httpCaFile;
        /// The data sources this plugin may use, with their secrets
        /// (hub::sql::Sources::toJson), sent with its config over the control
        /// socket; empty: none.
        std::string sqlSources;
        /// identity_submit for the plugin in its worker (ABI 1.2): the worker asks
        /// hubd over the call's channel, hubd runs this. Offered to the plugin only
        /// when set and its manifest owns a person field.
        SubmitIdentity submitIdentity;
    };

    /// Counters for status pages and tests.
    struct Stats {
        std::uint64_t starts = 0;     ///< Workers that became ready.
        std::uint64_t exits = 0;      ///< Workers that died without being asked to.
        std::uint64_t hangKills = 0;  ///< Workers killed because a call hung.
        std::uint64_t lateReplies = 0;  ///< Replies that came after their call's deadline, within killGrace.
        std::size_t callsInFlight = 0;  ///< Calls holding a channel to the current worker now.
        int pid = 0;                  ///< Of the current worker; 0 while none is ready.
        bool ready = false;
    };

    /// Starts the worker; throws LoadError when it cannot. The worker's plugin
    /// sees config exactly as an in-process one would (PluginConfig).
    ProcessPlugin(Manifest manifest, std::string libraryPath, PluginConfig config, Options options);
    /// Stops the worker: SIGTERM, then SIGKILL after stopTimeout. The owner makes
    /// sure no call is in flight (PluginHost holds a shared_ptr per call).
    ~ProcessPlugin() override;

    ProcessPlugin(const ProcessPlugin&) = delete;
    ProcessPlugin& operator=(const ProcessPlugin&) = delete;

    const Manifest& manifest() const override { return manifest_; }
    const std::string& describeJson() const override { return describe_; }
    using PluginInstance::invoke;
    CallResult invoke(std::string_view operation, std::string_view input, const Caller& caller,
                      const CallContext& context, Clock::time_point deadline) noexcept override;
    /// The plugin's health JSON, or {"status":"down",...} (status CH_OK) while the
    /// worker is down or does not answer within healthTimeout.
    CallResult health() noexcept override;
    /// Forwards the event to the worker; CH_ERR_UNAVAILABLE or CH_ERR_TIMEOUT when
    /// the worker is down or does not answer within Options::eventTimeout.
    CallResult onEvent(std::string_view eventJson) noexcept override;

    Stats stats() const;

    /// $HUB_PLUGIN_WORKER if set, else hub-plugin-worker beside the running
    /// executable (where the build puts it, beside hubd), else in
    /// ../lib/campushub/ from it (where `cmake --install` and the .deb put it:
    /// /usr/lib/campushub/ for /usr/sbin/hubd), else "hub-plugin-worker"
    /// looked up on PATH.
    static std::string defaultWorkerExecutable();

private:
    struct Impl;
    Manifest manifest_;
    std::string describe_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hub::host
