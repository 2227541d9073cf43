#pragma once
// Internal to hub::store: whether the store can write, and its recovery.

#include "ConnectionPool.h"
#include "hub/store/Database.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace hub::store::detail {

class ConnectionPool;

/// Whether the store can write, the fault counters, and the thread that probes
/// a store that cannot write until it can.
class FaultMonitor {
public:
    FaultMonitor(Target target, const Database::Options& options)
        : target_(std::move(target)), path_(target_.describe), options_(options) {}

    ~FaultMonitor() { stop(); }

    /// Probes once now (the answer is known when the constructor of Database
    /// returns), then watches.
    void start(std::shared_ptr<ConnectionPool> pool);

    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    bool writable() const noexcept { return writable_.load(std::memory_order_relaxed); }

    void count(StoreFault fault) noexcept {
        failures_[static_cast<std::size_t>(fault)].fetch_add(1, std::memory_order_relaxed);
    }

    /// The store cannot write for `fault` (Busy is ignored: contention, not a
    /// store that cannot write); the probing thread takes over.
    void degrade(StoreFault fault, const std::string& detail);

    /// SQLite reported a failure somewhere in the process: probe soon.
    void suspect() {
        {
            std::lock_guard lock(mutex_);
            suspected_ = true;
        }
        wake_.notify_all();
    }

    Database::Health health() const {
        Database::Health h;
        {
            std::lock_guard lock(mutex_);
            h.writable = writable_.load(std::memory_order_relaxed);
            if (!h.writable) {
                h.fault = fault_;
                h.detail = detail_;
                h.since = since_;
            }
        }
        for (std::size_t i = 0; i < storeFaultCount; ++i) h.failures[i] = failures_[i].load(std::memory_order_relaxed);
        h.reopens = reopens_.load(std::memory_order_relaxed);
        return h;
    }

private:
    void run();
    std::optional<std::pair<StoreFault, std::string>> recover(StoreFault fault);
    std::optional<std::pair<StoreFault, std::string>> probe(bool needSpace) const;

    const Target target_;
    const std::string path_;  // what the log calls the store: the file, or the conninfo without password
    const Database::Options options_;
    std::shared_ptr<ConnectionPool> pool_;
    std::atomic<bool> writable_{true};
    std::array<std::atomic<std::uint64_t>, storeFaultCount> failures_{};
    std::atomic<std::uint64_t> reopens_{0};
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::optional<StoreFault> fault_;
    std::string detail_;
    std::chrono::system_clock::time_point since_;
    std::chrono::steady_clock::time_point sinceSteady_;
    bool stopping_ = false;
    bool suspected_ = false;
    std::thread thread_;
};

}  // namespace hub::store::detail
