#pragma once
// Private to core/host.

#include "CircuitBreaker.h"

#include "hub/host/PluginHost.h"

#include <memory>
#include <string>

namespace hub::host {

/// One call of a plugin's operation, wherever it runs (on a worker of the
/// plugin's pool, or on a fiber of an event loop). Run once, it drops the call
/// with CH_ERR_TIMEOUT when it waited past its deadline, else invokes the
/// plugin and tells the circuit breaker the outcome; either way it answers the
/// completion exactly once, with CH_ERR_INTERNAL if the hub itself fails
/// meanwhile (out of memory, a log channel that throws). Its members keep the
/// instance (and so its library) and the breaker alive until then.
struct PluginCall {
    std::shared_ptr<PluginInstance> plugin;
    std::shared_ptr<CircuitBreaker> breaker;
    bool probe = false;  ///< The one call that tests a half-open circuit.
    std::string operation;
    std::string input;
    Caller caller;
    CallContext context;
    Clock::time_point deadline;
    PluginHost::Completion done;

    void operator()() noexcept;
};

}  // namespace hub::host
