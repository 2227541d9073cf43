#pragma once

#include "hub/host/LoadedPlugin.h"
#include "hub/host/PluginLimits.h"
#include "hub/host/ProcessPlugin.h"

#include <Poco/AutoPtr.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace hub::host {

class HostWatcher;
class PluginBuilder;
class PluginFolder;
class PluginRegistry;
class Refusals;

/// The plugin host: reads the plugins folder, validates each manifest, loads each
/// library, and runs calls on each plugin's own bounded worker pool.
///
/// A plugin that cannot be loaded is refused with a logged reason; the hub keeps
/// running without it. Plugins are loaded, reloaded and unloaded while calls run:
/// a reload builds the new instance beside the old one and switches new calls to
/// it; every call in flight holds the instance it started on, so the old library
/// is unloaded only when its last call has finished. Thread-safe.
class PluginHost {
public:
    /// Health as the portal sees it: the plugin's own health answer, the circuit
    /// breaker and the recent error rate combined.
    enum class Health { Up, Degraded, Down };
    static const char* toString(Health h);

    struct Options {
        std::string pluginsDir;
        /// The hub config's "plugins" subtree: plugin[@name=X].{timeoutMs,
        /// concurrency,queue,failureThreshold,openMs,isolation,config.*}. May be null.
        Poco::AutoPtr<Poco::Util::AbstractConfiguration> config;
        http::Client* http = nullptr;
        PluginLimits defaults;
        ProcessPlugin::Options process;  ///< For plugins with isolation "process".
        /// Rescan the folder (new, changed, removed plugins) this often; 0 = never.
        std::chrono::milliseconds watchInterval{0};
        /// Ask each plugin's health this often; 0 = never (the breaker still works).
        std::chrono::milliseconds healthInterval{0};
        /// Called (from the host's watcher thread) when a plugin's health changes.
        std::function<void(const std::string& plugin, Health previous, Health current, const std::string& detail)>
            onHealthChanged;

        // Host services beyond log, config and HTTP (see PluginServices). Each one
        // left unset is NULL in the plugins' ch_host_api. In process isolation
        // soap and submitIdentity work (the worker asks hubd for identity_submit over
        // the call's channel); emitEvent and database cannot reach a worker.
        /// emit_event: typically writes the event to the transactional outbox.
        EmitEvent emitEvent;
        /// kv_get / kv_put / kv_delete, in table host_plugin_kv (migrated here).
        store::Database* database = nullptr;
        /// soap_call, for in-process plugins (workers build their own on their own
        /// hub::http::Client).
        soap::Client* soap = nullptr;
        /// sql_query: the data sources of hub.xml's sql/sources. A process plugin's
        /// worker gets the definitions of the sources it may use (secrets too) over
        /// its control socket and opens its own pool.
        sql::Sources* sql = nullptr;
        /// identity_submit (ABI 1.2), for plugins whose manifest owns an
        /// identity.person field, in process or in a worker: typically
        /// identity::SourcedFields::submit.
        SubmitIdentity submitIdentity;
        /// Called with each manifest the host loads (or reloads), before the
        /// plugin's code runs: hubd registers the event types it declares
        /// (<emits>), so its events pass the outbox's check.
        std::function<void(const Manifest&)> onManifest;
        /// Called (from the plugin's worker thread) for each event a plugin did not
        /// accept: its error, a full queue, or no answer. Each is also logged as an
        /// error. deliverEvent is best effort: nothing retries (deliverEventTo is
        /// the step of a durable delivery).
        std::function<void(const std::string& plugin, const std::string& type, const CallResult& result)>
            onEventFailed;
    };

    struct Refusal {
        std::string path;
        std::string reason;
    };

    struct Status {
        std::string name;
        std::string version;
        std::string vendor;
        std::string description;
        std::string isolation;
        std::string execution;  ///< "workers" or "loop"
        std::string status;  ///< "up", "degraded" or "down"
        std::vector<Manifest::Operation> operations;
        std::size_t active = 0;
        std::size_t queued = 0;
        std::string circuit;       ///< "closed", "open" or "half_open"
        std::string healthDetail;  ///< From the plugin's health answer or the breaker.
        std::uint64_t calls = 0;   ///< Since load.
        std::uint64_t failures = 0;
        double recentErrorRate = 0;  ///< Over the last health interval.
        std::uint64_t generation = 1;  ///< Grows with each reload.
    };

    /// Forbidden: the operation's access policy (AccessPolicy) refuses this caller
    /// or input; the plugin is not called. InvalidContext: the CallContext's key or
    /// traceparent is not well formed (isValidIdempotencyKey, isValidTraceparent).
    enum class Submit { Accepted, UnknownSystem, UnknownOperation, Overloaded, CircuitOpen, Forbidden, InvalidContext };
    using Completion = std::function<void(CallResult)>;

    explicit PluginHost(Options options);
    ~PluginHost();  ///< Waits for calls in flight, then unloads everything.

    /// Scans the plugins folder: each subfolder with a plugin.xml is one plugin.
    void loadAll();

    /// Loads the plugin whose manifest is at manifestPath; throws LoadError or
    /// ManifestError with the reason. Also records the refusal (one per manifest
    /// path, the latest reason), and drops it once the plugin loads.
    void load(const std::string& manifestPath);

    /// Loads the plugin's folder again beside the running instance and switches
    /// new calls to it. On failure the running instance stays and this throws.
    /// Returns the new version.
    std::string reload(std::string_view system);

    /// Stops new calls to the plugin and unloads it once its calls in flight have
    /// finished (this waits for them). False if no such plugin.
    bool unload(std::string_view system);

    /// Compares the folder with what is loaded: loads new plugins, reloads changed
    /// ones (manifest or library replaced), unloads removed ones. A refused plugin
    /// is tried again once its manifest or library changes; the refusals of
    /// folders that are gone are dropped. Returns a line per change, for the log
    /// and the admin API.
    std::vector<std::string> rescan();

    /// Plugins that could not be loaded (or reloaded) and are not loaded from the
    /// same manifest since: one per manifest path, with the latest reason.
    std::vector<Refusal> refusals() const;
    std::vector<Status> list() const;
    bool has(std::string_view system) const;
    PluginLimits limits(std::string_view system) const;

    /// Asks every plugin's health now (normally the watcher does, periodically).
    void checkHealth();

    /// Offers the event to every loaded plugin whose manifest subscribes to type
    /// (<subscribes><event type=.../>, and identity.changed for plugins with
    /// <provisions identities="true"/>), each on that plugin's own worker pool,
    /// never on the caller's thread. Returns the names of the plugins it was
    /// queued for. Best effort: a plugin that answers with an error, or whose
    /// queue is full, is logged and reported through Options::onEventFailed, and
    /// the event is not retried. hubd delivers durably instead, through
    /// subscribers() and deliverEventTo() (identity::ProvisioningForwarder).
    std::vector<std::string> deliverEvent(const std::string& type, const std::string& eventJson);

    /// The loaded plugins whose manifest subscribes to type (as deliverEvent
    /// picks them), by name.
    std::vector<std::string> subscribers(std::string_view type) const;

    /// Offers the event to one plugin's on_event on the calling thread and
    /// returns its answer (CH_OK: accepted): the step of a durable delivery
    /// that keeps a cursor per plugin (identity::ProvisioningForwarder).
    /// CH_ERR_UNAVAILABLE when no such plugin is loaded. Never throws.
    CallResult deliverEventTo(std::string_view plugin, std::string_view eventJson);

    /// Queues a call on the plugin's pool, or, for a plugin with execution "loop"
    /// when called on an event loop thread, starts it on a fiber of that loop. On
    /// Accepted, done is called exactly once, from the worker thread or the fiber,
    /// with the result (CH_ERR_TIMEOUT when the deadline passed while queued).
    /// Otherwise done is not called.
    ///
    /// Every call is a user's: the operation's access policy is checked against
    /// caller (its subject, or actingFor, is the user) and input before anything
    /// else; on Forbidden, refusal (when given) says why, naming plugin and
    /// operation. The hub's own calls to plugins (events, health) do not come
    /// through here.
    Submit submit(std::string_view system, std::string_view operation, std::string input,
                  Caller caller, Clock::time_point deadline, Completion done, std::string* refusal = nullptr);

    /// The same, with the call's idempotency key and trace context (CallContext,
    /// read by the plugin through call_idempotency_key and call_trace_parent).
    /// The flow engine passes CallContext::forFlowStep(...) for a service task;
    /// the portal API the caller-scoped Idempotency-Key. A key or traceparent
    /// that is not well formed: InvalidContext, and done is not called.
    Submit submit(std::string_view system, std::string_view operation, std::string input, Caller caller,
                  CallContext context, Clock::time_point deadline, Completion done, std::string* refusal = nullptr);

private:
    // The parts, each with one job (see their headers in src/). Declared in the
    // order they are needed: destroyed in reverse, the plugins before the
    // builder's offload pool and the folder's shadow copies.
    Options options_;
    std::unique_ptr<PluginFolder> folder_;
    std::unique_ptr<PluginBuilder> builder_;
    std::unique_ptr<PluginRegistry> registry_;
    std::unique_ptr<Refusals> refusals_;
    std::mutex reloadMutex_;  // one load, reload or unload at a time
    std::unique_ptr<HostWatcher> watcher_;  // the background thread; stopped first
};

}  // namespace hub::host
