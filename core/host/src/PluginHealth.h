#pragma once
// Private to core/host.

#include "CircuitBreaker.h"

#include "hub/host/PluginHost.h"

#include <memory>
#include <mutex>
#include <string>

namespace hub::runtime {
class WorkerPool;
}

namespace hub::host {

/// One plugin's health as the portal sees it (PluginHost::Health): the plugin's
/// own answer to health(), its circuit breaker and its recent error rate,
/// combined; and the health last reported, so that each change is announced
/// once. Kept across reloads, like the breaker it reads.
class PluginHealth {
public:
    explicit PluginHealth(std::shared_ptr<CircuitBreaker> breaker) : breaker_(std::move(breaker)) {}

    /// Asks the plugin on its own pool, never on the calling thread: a hanging
    /// health function costs the plugin a worker, not the host's watcher. The
    /// answer counts from the next review on.
    static void ask(const std::shared_ptr<PluginHealth>& self, std::shared_ptr<PluginInstance> plugin,
                    runtime::WorkerPool& pool);

    struct Review {
        PluginHost::Health previous;
        PluginHost::Health current;
        std::string detail;
    };
    /// Closes the error-rate window (a rate counts once 5 calls were made in it)
    /// and says the health now beside the one reported before, which it becomes.
    Review review();

    struct View {
        PluginHost::Health health;
        std::string detail;
        double recentErrorRate;
        CircuitBreaker::Tally tally;
    };
    /// The health now, for status pages; changes nothing.
    View view() const;

private:
    void takeAnswer(const CallResult& answer);
    // Call with mutex_ held.
    PluginHost::Health assess(const CircuitBreaker::Tally& tally, std::string& detail) const;

    const std::shared_ptr<CircuitBreaker> breaker_;
    mutable std::mutex mutex_;
    std::string answer_ = "up";  // the plugin's own last answer: up, degraded or down
    std::string answerDetail_;
    double recentErrorRate_ = 0;  // over the last window
    PluginHost::Health reported_ = PluginHost::Health::Up;
};

}  // namespace hub::host
