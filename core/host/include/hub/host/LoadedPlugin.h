#pragma once

#include "hub/host/Manifest.h"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace Poco {
class Logger;
namespace Util {
class AbstractConfiguration;
}
}  // namespace Poco

namespace hub::http {
class Client;
}
namespace hub::soap {
class Client;
}
namespace hub::store {
class Database;
}

namespace hub::host {

class WorkerPool;

using Clock = std::chrono::steady_clock;

/// Who a call is made for, as the API authenticated them.
struct Caller {
    std::string subject;
    std::vector<std::string> roles;
    std::string actingFor;  ///< Set when a service token acts for a user.
    std::vector<std::string> audiences;  ///< The user's: student, teacher, staff, visitor (access policies).
};

/// A plugin's answer: a ch_status value and JSON (or a message on error).
struct CallResult {
    int status = 0;  ///< ch_status
    std::string body;
    /// Non-zero when the call failed because the plugin's worker process is being
    /// restarted (isolation "process"): the hub's own matter, not the vendor
    /// system's, and over in about this long. The circuit breaker does not count
    /// it, and the API answers 503 with Retry-After.
    std::chrono::milliseconds retryAfter{0};
};

/// A library that failed to load; what() says why, for the log and the admin API.
class LoadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Emits a plugin's event (already checked: a JSON object of at most 256 KiB,
/// valid UTF-8, "type" under "edu.campus.hub.", a "subject" string and a "data"
/// object). Returns a ch_status; CH_OK once the event is durably accepted.
using EmitEvent = std::function<int(const std::string& pluginName, std::string_view eventJson)>;

/// What the host lends a plugin. Everything pointed to outlives the LoadedPlugin.
/// A service left null (or empty) is NULL in the plugin's ch_host_api, except
/// log, config_get and http_request, which are always there (http_request
/// answers CH_ERR_UNAVAILABLE without a client).
struct PluginServices {
    Poco::Util::AbstractConfiguration* config = nullptr;  ///< The plugin's <config> section, may be null.
    http::Client* http = nullptr;
    Poco::Logger* logger = nullptr;
    /// emit_event; the host validates the event before calling it.
    EmitEvent emitEvent;
    /// kv_get / kv_put / kv_delete: table host_plugin_kv, rows keyed by the
    /// plugin's name, so no plugin sees another's. Migrated ("host") on load.
    store::Database* database = nullptr;
    /// soap_call.
    soap::Client* soap = nullptr;
    /// Called on an event loop's fiber (execution "loop"), kv_* and emit_event run
    /// their SQLite work here while the fiber is parked, so a statement waiting
    /// for the database lock does not hold up the loop. Null: they run in place.
    WorkerPool* offload = nullptr;
};

/// Limits of the key-value state a plugin keeps through kv_put.
inline constexpr std::size_t kMaxKvKeyBytes = 256;
inline constexpr std::size_t kMaxKvValueBytes = 1024 * 1024;
/// Largest event a plugin may emit.
inline constexpr std::size_t kMaxEventBytes = 256 * 1024;

/// Checks an event a plugin emits; returns "" when it is acceptable, else what
/// is wrong with it.
std::string checkEvent(std::string_view eventJson);

/// Creates the host's tables (host_plugin_kv) in db; idempotent. LoadedPlugin
/// calls it when given a database.
void migrateStore(store::Database& db);

/// A running plugin, whatever its isolation: the host calls it only through this.
class PluginInstance {
public:
    virtual ~PluginInstance() = default;
    virtual const Manifest& manifest() const = 0;
    virtual const std::string& describeJson() const = 0;
    /// Runs an operation on the calling thread, returning by deadline at the
    /// latest where the isolation allows it. Never throws.
    virtual CallResult invoke(std::string_view operation, std::string_view input, const Caller& caller,
                              Clock::time_point deadline) noexcept = 0;
    /// The plugin's health JSON; {"status":"up"} when it has no health function.
    virtual CallResult health() noexcept = 0;
    /// Offers the plugin a CloudEvent it subscribed to, on the calling thread.
    /// CH_OK (and a body to ignore) when the plugin accepted it or has no
    /// on_event; otherwise the plugin's error. Never throws.
    virtual CallResult onEvent(std::string_view eventJson) noexcept = 0;
};

/// One loaded plugin library and the one instance created from it (isolation
/// "inproc").
///
/// Loading reads nothing but the library named by an already validated manifest,
/// checks the ABI before calling anything else, creates the instance, and checks
/// that describe() matches the manifest. Destruction destroys the instance, then
/// unloads the library: owners keep a shared_ptr for every call in flight, so the
/// library outlives everything it handed out.
class LoadedPlugin final : public PluginInstance {
public:
    LoadedPlugin(Manifest manifest, const std::string& libraryPath, PluginServices services);
    ~LoadedPlugin();

    LoadedPlugin(const LoadedPlugin&) = delete;
    LoadedPlugin& operator=(const LoadedPlugin&) = delete;

    const Manifest& manifest() const override { return manifest_; }
    const std::string& describeJson() const override { return describe_; }
    CallResult invoke(std::string_view operation, std::string_view input, const Caller& caller,
                      Clock::time_point deadline) noexcept override;
    CallResult health() noexcept override;
    CallResult onEvent(std::string_view eventJson) noexcept override;

private:
    struct Impl;
    Manifest manifest_;
    std::string describe_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hub::host
