// Each plugin's calls and failures per interval, sampled off the call path.
#include "hub/api/PluginActivity.h"

#include "hub/host/PluginHost.h"

#include <Poco/Logger.h>

#include <exception>

namespace hub::api {

PluginActivity::PluginActivity(Source source, std::chrono::seconds interval, std::size_t points)
    : source_(std::move(source)), interval_(interval), capacity_(points) {
    sample();  // a baseline, so the first interval shows what happened in it
    thread_ = std::thread([this] { run(); });
}

PluginActivity::PluginActivity(host::PluginHost& host, std::chrono::seconds interval, std::size_t points)
    : PluginActivity(
          [&host] {
              std::vector<Counters> out;
              for (const auto& s : host.list()) out.push_back({s.name, s.generation, s.calls, s.failures});
              return out;
          },
          interval, points) {}

PluginActivity::~PluginActivity() { stop(); }

void PluginActivity::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void PluginActivity::run() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
        lock.unlock();
        try {
            sample();
        } catch (const std::exception& e) {
            Poco::Logger::get("hub.api").warning("plugin activity: a sample failed: %s", std::string(e.what()));
        }
        lock.lock();
    }
}

void PluginActivity::sample() {
    auto counters = source_();
    const auto at = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    std::lock_guard lock(mutex_);
    std::map<std::string, Ring> next;
    for (auto& c : counters) {
        auto found = rings_.find(c.name);
        bool known = found != rings_.end();
        Ring ring = known ? std::move(found->second) : Ring{};
        if (known) {
            // A new generation counts from zero again.
            bool restarted = c.generation != ring.generation || c.calls < ring.calls || c.failures < ring.failures;
            Point p{at, restarted ? c.calls : c.calls - ring.calls, restarted ? c.failures : c.failures - ring.failures};
            ring.points.push_back(p);
            while (ring.points.size() > capacity_) ring.points.pop_front();
        }
        ring.generation = c.generation;
        ring.calls = c.calls;
        ring.failures = c.failures;
        next.emplace(c.name, std::move(ring));
    }
    rings_ = std::move(next);  // unloaded plugins go
}

std::vector<PluginActivity::Series> PluginActivity::series() const {
    std::lock_guard lock(mutex_);
    std::vector<Series> out;
    for (const auto& [name, ring] : rings_) out.push_back({name, {ring.points.begin(), ring.points.end()}});
    return out;
}

}  // namespace hub::api
