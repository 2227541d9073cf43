#pragma once
// Private to core/host.

#include "hub/host/PluginInstance.h"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

namespace hub::host {

/// The circuit breaker of one plugin, and the tally of call outcomes it decides
/// from. After failureThreshold consecutive failures of the vendor system calls
/// fail fast for openFor; then one probe call goes through, and its outcome
/// closes the circuit or opens it again.
///
/// Shared by the plugin's slot and every call in flight, and kept across
/// reloads: it is about the vendor system behind the plugin, not about one build
/// of its library. One mutex, taken twice per call (admit, record).
class CircuitBreaker {
public:
    enum class Circuit { Closed, Open, HalfOpen };
    static const char* toString(Circuit circuit);

    /// What status pages and the health show.
    struct Tally {
        Circuit circuit = Circuit::Closed;
        int consecutiveFailures = 0;
        std::uint64_t calls = 0;     ///< Since load.
        std::uint64_t failures = 0;  ///< Since load.
    };

    CircuitBreaker(std::string plugin, int failureThreshold, std::chrono::milliseconds openFor)
        : plugin_(std::move(plugin)), failureThreshold_(failureThreshold), openFor_(openFor) {}

    const std::string& plugin() const { return plugin_; }

    /// Whether a call may go to the plugin now; sets probe for the one call that
    /// tests a half-open circuit.
    bool admit(bool& probe) {
        std::lock_guard lock(mutex_);
        if (circuit_ == Circuit::Open) {
            if (Clock::now() < openUntil_) return false;
            circuit_ = Circuit::HalfOpen;
        }
        if (circuit_ == Circuit::HalfOpen) {
            if (probeInFlight_) return false;
            probeInFlight_ = probe = true;
        }
        return true;
    }

    /// The outcome of an admitted call that reached the plugin. Failures of the
    /// vendor system (or of the plugin) feed the breaker: unavailable, timeout,
    /// plugin fault, or any answer past the deadline; a caller's bad input does
    /// not. A failure because the plugin's worker process is being restarted
    /// (CallResult::retryAfter) is counted but is the hub's own matter and over
    /// soon, so it neither opens the circuit nor decides a probe: the next call
    /// probes, once the worker is back.
    void record(const CallResult& result, Clock::time_point deadline, bool probe);

    /// An admitted call that never reached the plugin (its pool refused it, or it
    /// waited in the queue past its deadline): our own queue, not the vendor's
    /// fault, so it decides nothing.
    void cancel(bool probe) {
        if (!probe) return;
        std::lock_guard lock(mutex_);
        probeInFlight_ = false;
    }

    Tally tally() const;

    /// Calls and failures since the previous call of takeWindow(), which starts
    /// the next window (the recent error rate of PluginHealth).
    std::pair<std::uint64_t, std::uint64_t> takeWindow();

private:
    const std::string plugin_;
    const int failureThreshold_;
    const std::chrono::milliseconds openFor_;

    mutable std::mutex mutex_;
    Circuit circuit_ = Circuit::Closed;
    Clock::time_point openUntil_{};
    bool probeInFlight_ = false;
    int consecutiveFailures_ = 0;
    std::uint64_t calls_ = 0, failures_ = 0, windowCalls_ = 0, windowFailures_ = 0;
};

}  // namespace hub::host
