#include "HostWatcher.h"

#include "hub/common/Exceptions.h"

#include <Poco/Logger.h>

#include <algorithm>

namespace hub::host {

HostWatcher::HostWatcher(std::chrono::milliseconds watchInterval, std::chrono::milliseconds healthInterval,
                         std::function<void()> rescan, std::function<void()> checkHealth)
    : watchInterval_(watchInterval),
      healthInterval_(healthInterval),
      rescan_(std::move(rescan)),
      checkHealth_(std::move(checkHealth)),
      thread_([this] { run(); }) {}

HostWatcher::~HostWatcher() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void HostWatcher::run() {
    using Clock = std::chrono::steady_clock;
    auto nextScan = Clock::now() + watchInterval_;
    auto nextHealth = Clock::now() + healthInterval_;
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        auto wake = Clock::time_point::max();
        if (watchInterval_.count() > 0) wake = std::min(wake, nextScan);
        if (healthInterval_.count() > 0) wake = std::min(wake, nextHealth);
        if (wake_.wait_until(lock, wake, [this] { return stopping_; })) break;
        lock.unlock();
        auto now = Clock::now();
        // The next round is set before this one runs: one that fails is not
        // retried at once, over and over.
        try {
            if (watchInterval_.count() > 0 && now >= nextScan) {
                nextScan = now + watchInterval_;
                rescan_();
            }
            if (healthInterval_.count() > 0 && now >= nextHealth) {
                nextHealth = now + healthInterval_;
                checkHealth_();
            }
        } catch (...) {
            // A failed round is logged and the next one comes; the thread stays.
            try {
                Poco::Logger::get("hub.host").error("plugin watcher: " + currentExceptionText());
            } catch (...) {
            }
        }
        lock.lock();
    }
}

}  // namespace hub::host
