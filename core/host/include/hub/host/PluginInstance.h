#pragma once

#include "hub/host/CallContext.h"
#include "hub/host/Manifest.h"

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hub::host {

using Clock = std::chrono::steady_clock;

/// Who a call is made for, as the API authenticated them.
struct Caller {
    std::string subject;
    std::vector<std::string> roles;
    std::string actingFor;               ///< Set when a service token acts for a user.
    std::vector<std::string> audiences;  ///< The user's: student, teacher, staff, visitor (access policies).
    /// Set only by the webhook route (core/api WebhookRoutes), after it checked the
    /// vendor's signature: such a call may run only operations marked webhook="true".
    bool webhook = false;
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

/// A running plugin, whatever its isolation: the host calls it only through this
/// (LoadedPlugin in process, ProcessPlugin in a worker process).
class PluginInstance {
public:
    virtual ~PluginInstance() = default;
    virtual const Manifest& manifest() const = 0;
    virtual const std::string& describeJson() const = 0;
    /// Runs an operation on the calling thread, returning by deadline at the
    /// latest where the isolation allows it. context is what the plugin reads
    /// through call_idempotency_key and call_trace_parent. Never throws.
    virtual CallResult invoke(std::string_view operation, std::string_view input, const Caller& caller,
                              const CallContext& context, Clock::time_point deadline) noexcept = 0;
    /// The same without an idempotency key or trace context.
    CallResult invoke(std::string_view operation, std::string_view input, const Caller& caller,
                      Clock::time_point deadline) noexcept {
        return invoke(operation, input, caller, CallContext{}, deadline);
    }
    /// The plugin's health JSON; {"status":"up"} when it has no health function.
    virtual CallResult health() noexcept = 0;
    /// Offers the plugin a CloudEvent it subscribed to, on the calling thread.
    /// CH_OK (and a body to ignore) when the plugin accepted it or has no
    /// on_event; otherwise the plugin's error. Never throws.
    virtual CallResult onEvent(std::string_view eventJson) noexcept = 0;
};

}  // namespace hub::host
