#include "PluginHealth.h"

#include "hub/runtime/WorkerPool.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace hub::host {

void PluginHealth::ask(const std::shared_ptr<PluginHealth>& self, std::shared_ptr<PluginInstance> plugin,
                       runtime::WorkerPool& pool) {
    // A full queue skips this round: the answer of the last one stands.
    pool.trySubmit([self, plugin = std::move(plugin)] { self->takeAnswer(plugin->health()); });
}

void PluginHealth::takeAnswer(const CallResult& r) {
    std::string status = "down", detail;
    if (r.status == CH_OK) {
        try {
            Poco::JSON::Parser parser;
            auto o = parser.parse(r.body).extract<Poco::JSON::Object::Ptr>();
            status = o->optValue<std::string>("status", "down");
            detail = o->optValue<std::string>("detail", "");
        } catch (const std::exception&) {
            detail = "the plugin answered health with invalid JSON";
        }
    } else {
        detail = r.body;
    }
    if (status != "up" && status != "degraded") status = "down";
    std::lock_guard lock(mutex_);
    answer_ = status;
    answerDetail_ = detail.substr(0, 500);
}

PluginHealth::Review PluginHealth::review() {
    auto [calls, failures] = breaker_->takeWindow();
    CircuitBreaker::Tally tally = breaker_->tally();
    Review r;
    std::lock_guard lock(mutex_);
    recentErrorRate_ = calls >= 5 ? static_cast<double>(failures) / static_cast<double>(calls) : 0;
    r.current = assess(tally, r.detail);
    r.previous = reported_;
    reported_ = r.current;
    return r;
}

PluginHealth::View PluginHealth::view() const {
    View v;
    v.tally = breaker_->tally();
    std::lock_guard lock(mutex_);
    v.health = assess(v.tally, v.detail);
    v.recentErrorRate = recentErrorRate_;
    return v;
}

PluginHost::Health PluginHealth::assess(const CircuitBreaker::Tally& tally, std::string& detail) const {
    using Circuit = CircuitBreaker::Circuit;
    using Health = PluginHost::Health;
    if (tally.circuit == Circuit::Open) {
        detail = "circuit open after " + std::to_string(tally.consecutiveFailures) + " consecutive failures";
        return Health::Down;
    }
    if (answer_ == "down") {
        detail = answerDetail_.empty() ? "the plugin reports down" : answerDetail_;
        return Health::Down;
    }
    if (tally.circuit == Circuit::HalfOpen) {
        detail = "probing the vendor system";
        return Health::Degraded;
    }
    if (answer_ == "degraded") {
        detail = answerDetail_;
        return Health::Degraded;
    }
    if (recentErrorRate_ > 0.2) {
        detail = std::to_string(static_cast<int>(recentErrorRate_ * 100)) + "% of recent calls failed";
        return Health::Degraded;
    }
    detail = answerDetail_;
    return Health::Up;
}

}  // namespace hub::host
