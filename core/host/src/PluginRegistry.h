#pragma once
// Private to core/host.

#include "CircuitBreaker.h"
#include "LoopGate.h"
#include "PluginHealth.h"

#include "hub/host/PluginHost.h"
#include "hub/runtime/WorkerPool.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hub::host {

/// One loaded plugin as the host keeps it. A reload swaps the instance (and the
/// stamp); everything else lasts as long as the plugin is loaded, so its breaker,
/// health and bulkhead outlive the versions that come and go.
struct PluginSlot {
    std::string manifestPath;
    std::string stamp;                       // the files when loaded; guarded by the registry's mutex
    std::shared_ptr<PluginInstance> plugin;  // std::atomic_load/store: swapped by reload
    PluginLimits limits;
    std::atomic<std::uint64_t> generation{1};
    std::shared_ptr<CircuitBreaker> breaker;
    std::shared_ptr<PluginHealth> health;
    std::unique_ptr<runtime::WorkerPool> pool;  // joined first, while the plugin is alive
    std::shared_ptr<LoopGate> gate;    // for execution "loop"; held by each call on a loop
    ~PluginSlot() { pool.reset(); }
};

/// The loaded plugins by name. One mutex, taken once per call to find the slot;
/// loads, reloads and unloads change it under the host's reload mutex besides.
class PluginRegistry {
public:
    using Entries = std::vector<std::pair<std::string, std::shared_ptr<PluginSlot>>>;

    std::shared_ptr<PluginSlot> find(std::string_view name) const {
        std::lock_guard lock(mutex_);
        auto it = slots_.find(name);
        return it == slots_.end() ? nullptr : it->second;
    }
    bool contains(std::string_view name) const { return find(name) != nullptr; }
    /// False when a plugin of that name is loaded already.
    bool add(const std::string& name, std::shared_ptr<PluginSlot> slot) {
        std::lock_guard lock(mutex_);
        return slots_.emplace(name, std::move(slot)).second;
    }
    /// Takes the plugin out of routing; null when there is none of that name.
    std::shared_ptr<PluginSlot> remove(std::string_view name) {
        std::lock_guard lock(mutex_);
        auto it = slots_.find(name);
        if (it == slots_.end()) return nullptr;
        auto slot = std::move(it->second);
        slots_.erase(it);
        return slot;
    }
    /// Every plugin, in name order, for work that must not hold the lock.
    Entries all() const {
        std::lock_guard lock(mutex_);
        return {slots_.begin(), slots_.end()};
    }
    Entries takeAll() {
        std::map<std::string, std::shared_ptr<PluginSlot>, std::less<>> taken;
        {
            std::lock_guard lock(mutex_);
            taken.swap(slots_);
        }
        return {std::make_move_iterator(taken.begin()), std::make_move_iterator(taken.end())};
    }

    std::string stampOf(const PluginSlot& slot) const {
        std::lock_guard lock(mutex_);
        return slot.stamp;
    }
    void restamp(PluginSlot& slot, std::string stamp) {
        std::lock_guard lock(mutex_);
        slot.stamp = std::move(stamp);
    }

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<PluginSlot>, std::less<>> slots_;
};

}  // namespace hub::host
