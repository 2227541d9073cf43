#pragma once

#include "hub/common/ConfigValue.h"

#include <chrono>
#include <cstddef>
#include <string>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::host {

/// Limits of one plugin, from its <plugin> element in the hub config.
struct PluginLimits {
    std::chrono::milliseconds timeout{5000};  ///< Per call, queueing included.
    std::size_t concurrency = 8;              ///< Worker threads (the bulkhead).
    std::size_t queue = 64;                   ///< Calls waiting beyond the busy threads.
    int failureThreshold = 5;                 ///< Consecutive vendor failures that open the circuit.
    std::chrono::milliseconds openFor{5000};  ///< How long an open circuit fails fast before a probe.
    /// execution "loop": a call submitted on an event loop thread (hub::runtime::Loop)
    /// runs there on a fiber, parked while its plugin waits for the vendor, instead
    /// of on a worker thread. Only for in-process plugins whose I/O all goes
    /// through the host's http_request and soap_call; concurrency and queue bound
    /// the calls the same way. Calls from other threads (flows, event delivery)
    /// still go to workers, at most 4 of them.
    bool onEventLoop = false;

    /// What each limit may be set to from the config.
    static constexpr config::IntRange kTimeoutMs{1, 3600000};
    static constexpr config::IntRange kConcurrency{1, 4096};
    static constexpr config::IntRange kQueue{0, 1000000};
    static constexpr config::IntRange kFailureThreshold{1, 1000000};
    static constexpr config::IntRange kOpenMs{1, 3600000};

    /// The limits under prefix (timeoutMs, concurrency, queue, failureThreshold,
    /// openMs, execution), each key not set taken from fallback. Throws
    /// config::ConfigError naming the key and its range for a value out of it.
    static PluginLimits fromConfig(const Poco::Util::AbstractConfiguration& config, const std::string& prefix,
                                   const PluginLimits& fallback);
};

}  // namespace hub::host
