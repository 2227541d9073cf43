#pragma once
// Private to core/host.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace hub::host {

/// The plugin host's one background thread: rescans the plugins folder every
/// watchInterval and asks the plugins' health every healthInterval (0: never).
/// A round that fails is logged and the next one comes; nothing ends the thread
/// but destruction, which waits for a round in progress.
class HostWatcher {
public:
    HostWatcher(std::chrono::milliseconds watchInterval, std::chrono::milliseconds healthInterval,
                std::function<void()> rescan, std::function<void()> checkHealth);
    ~HostWatcher();

    HostWatcher(const HostWatcher&) = delete;
    HostWatcher& operator=(const HostWatcher&) = delete;

private:
    void run();

    const std::chrono::milliseconds watchInterval_, healthInterval_;
    const std::function<void()> rescan_, checkHealth_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;  // last: started when all else exists
};

}  // namespace hub::host
