#include "CircuitBreaker.h"

#include <campushub/plugin.h>

#include <Poco/Logger.h>

namespace hub::host {

const char* CircuitBreaker::toString(Circuit circuit) {
    return circuit == Circuit::Closed ? "closed" : circuit == Circuit::Open ? "open" : "half_open";
}

void CircuitBreaker::record(const CallResult& result, Clock::time_point deadline, bool probe) {
    const bool restart = result.retryAfter.count() > 0;
    const bool failed = restart || result.status == CH_ERR_UNAVAILABLE || result.status == CH_ERR_TIMEOUT ||
                        result.status == CH_ERR_INTERNAL || Clock::now() > deadline;
    std::lock_guard lock(mutex_);
    ++calls_;
    ++windowCalls_;
    if (probe) probeInFlight_ = false;
    if (!failed) {
        consecutiveFailures_ = 0;
        if (circuit_ != Circuit::Closed)
            Poco::Logger::get("hub.host")
                .information("plugin %s: circuit closed, the vendor system answers again", plugin_);
        circuit_ = Circuit::Closed;
        return;
    }
    ++failures_;
    ++windowFailures_;
    if (restart) return;
    ++consecutiveFailures_;
    if (probe || (circuit_ == Circuit::Closed && consecutiveFailures_ >= failureThreshold_)) {
        if (circuit_ != Circuit::Open)
            Poco::Logger::get("hub.host")
                .warning("plugin %s: circuit open after %d failure(s); failing fast for %s ms", plugin_,
                         consecutiveFailures_, std::to_string(openFor_.count()));
        circuit_ = Circuit::Open;
        openUntil_ = Clock::now() + openFor_;
    }
}

CircuitBreaker::Tally CircuitBreaker::tally() const {
    std::lock_guard lock(mutex_);
    return {circuit_, consecutiveFailures_, calls_, failures_};
}

std::pair<std::uint64_t, std::uint64_t> CircuitBreaker::takeWindow() {
    std::lock_guard lock(mutex_);
    return {std::exchange(windowCalls_, 0), std::exchange(windowFailures_, 0)};
}

}  // namespace hub::host
