#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hub::host {
class PluginHost;
}

namespace hub::api {

/// Each plugin's calls and failures over time, for the console's chart: a
/// sampler thread reads the counters the plugin host keeps anyway
/// (PluginHost::list(): calls and failures since load) once per interval and
/// keeps the differences in a ring of `points` samples per plugin. Nothing is
/// added to the call path: what a call costs is the host's own relaxed
/// counter increments, as before. A reload (a new generation) restarts the
/// plugin's counters; its first sample after one is taken as the new count.
class PluginActivity {
public:
    struct Point {
        std::int64_t at = 0;  ///< End of the interval, Unix seconds.
        std::uint64_t calls = 0;
        std::uint64_t failures = 0;
    };
    struct Series {
        std::string plugin;
        std::vector<Point> points;  ///< Oldest first.
    };
    /// What the sampler reads: name, generation, calls, failures of each plugin.
    struct Counters {
        std::string name;
        std::uint64_t generation = 0;
        std::uint64_t calls = 0;
        std::uint64_t failures = 0;
    };
    using Source = std::function<std::vector<Counters>()>;

    /// Starts sampling source every interval, keeping `points` samples a plugin.
    PluginActivity(Source source, std::chrono::seconds interval, std::size_t points = 120);
    /// Reads host's list().
    PluginActivity(host::PluginHost& host, std::chrono::seconds interval, std::size_t points = 120);
    /// Stops and joins the sampler.
    ~PluginActivity();
    /// Stops and joins the sampler now: before the plugin host it reads goes
    /// (hubd's stop sequence). The rings stay readable; idempotent.
    void stop();
    PluginActivity(const PluginActivity&) = delete;
    PluginActivity& operator=(const PluginActivity&) = delete;

    std::chrono::seconds interval() const { return interval_; }
    /// A copy of every plugin's ring, by plugin name.
    std::vector<Series> series() const;
    /// Takes one sample now (the sampler's step; tests call it directly).
    void sample();

private:
    struct Ring {
        std::uint64_t generation = 0;
        std::uint64_t calls = 0;
        std::uint64_t failures = 0;
        std::deque<Point> points;
    };
    void run();

    Source source_;
    std::chrono::seconds interval_;
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::map<std::string, Ring> rings_;
    std::thread thread_;
};

}  // namespace hub::api
