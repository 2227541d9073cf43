#pragma once

#include "hub/common/LogContext.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

namespace hub::runtime {

/// A bulkhead: a fixed number of threads and a bounded queue. When both are full,
/// trySubmit refuses at once, so a slow vendor system costs its own plugin's
/// capacity and nothing else (core/host gives each plugin one; hubd's "api" pool
/// runs the routes' blocking database and directory work).
///
/// A task goes straight to an idle thread, the one that went idle last (its cache
/// is warm), and wakes only that one; threads that find the queue empty after a
/// task park on their own semaphore. The lock guards a few pointers and counters
/// and nothing blocks while holding it.
class WorkerPool {
public:
    WorkerPool(std::string name, std::size_t threads, std::size_t queueCapacity);
    ~WorkerPool();  ///< shutdown()

    /// Refuses new work, runs what is queued, joins the threads. Idempotent;
    /// never call it from one of the pool's own threads.
    void shutdown();

    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    /// Queues task; false when the queue is full or the pool is stopping.
    bool trySubmit(std::function<void()> task);

    std::size_t threads() const;
    std::size_t queued() const;
    std::size_t active() const;
    /// Tasks that ended with an exception since the pool started.
    std::uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }

private:
    // A task with the request it was submitted for (its log lines name it).
    struct Job {
        std::function<void()> task;
        log::RequestTagPtr request;
    };
    struct Worker {
        std::binary_semaphore wake{0};
        Job job;  // handed over under the lock, then woken
    };
    void run(Worker& self);
    void runOne(Job& job) noexcept;

    std::string name_;
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::vector<Worker*> idle_;  // parked, the most recently parked last
    std::deque<Job> queue_;
    std::size_t active_ = 0;
    bool stopping_ = false;
    std::atomic<std::uint64_t> failed_{0};
    std::vector<std::unique_ptr<Worker>> slots_;
    std::mutex joinMutex_;
    std::vector<std::thread> workers_;
};

}  // namespace hub::runtime
