#pragma once

#include "hub/host/LoadedPlugin.h"
#include "hub/host/ProcessPlugin.h"

#include <Poco/AutoPtr.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hub::host {

class WorkerPool;

/// Limits of one plugin, from its <plugin> element in the hub config.
struct PluginLimits {
    std::chrono::milliseconds timeout{5000};  ///< Per call, queueing included.
    std::size_t concurrency = 8;              ///< Worker threads (the bulkhead).
    std::size_t queue = 64;                   ///< Calls waiting beyond the busy threads.
};

/// The plugin host: reads the plugins folder, validates each manifest, loads each
/// library, and runs calls on each plugin's own bounded worker pool.
///
/// A plugin that cannot be loaded is refused with a logged reason; the hub keeps
/// running without it. Thread-safe.
class PluginHost {
public:
    struct Options {
        std::string pluginsDir;
        /// The hub config's "plugins" subtree: plugin[@name=X].{timeoutMs,
        /// concurrency,queue,config.*}. May be null.
        Poco::AutoPtr<Poco::Util::AbstractConfiguration> config;
        http::Client* http = nullptr;
        PluginLimits defaults;
        ProcessPlugin::Options process;  ///< For plugins with isolation "process".
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
        std::string status;  ///< "loaded"
        std::vector<Manifest::Operation> operations;
        std::size_t active = 0;
        std::size_t queued = 0;
    };

    enum class Submit { Accepted, UnknownSystem, UnknownOperation, Overloaded };
    using Completion = std::function<void(CallResult)>;

    explicit PluginHost(Options options);
    ~PluginHost();  ///< Waits for calls in flight, then unloads everything.

    /// Scans the plugins folder: each subfolder with a plugin.xml is one plugin.
    void loadAll();

    /// Loads the plugin whose manifest is at manifestPath; throws LoadError or
    /// ManifestError with the reason. Also records the refusal.
    void load(const std::string& manifestPath);

    std::vector<Refusal> refusals() const;
    std::vector<Status> list() const;
    bool has(std::string_view system) const;
    PluginLimits limits(std::string_view system) const;

    /// Queues a call on the plugin's pool. On Accepted, done is called exactly
    /// once, from a worker thread, with the result (CH_ERR_TIMEOUT when the
    /// deadline passed while queued). Otherwise done is not called.
    Submit submit(std::string_view system, std::string_view operation, std::string input,
                  Caller caller, Clock::time_point deadline, Completion done);

private:
    struct Slot;
    std::shared_ptr<Slot> slot(std::string_view system) const;
    void refuse(const std::string& path, const std::string& reason);

    Options options_;
    std::string realPluginsDir_;
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<Slot>, std::less<>> slots_;
    std::vector<Refusal> refusals_;
};

}  // namespace hub::host
