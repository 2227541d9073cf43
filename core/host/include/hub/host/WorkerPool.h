#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hub::host {

/// A plugin's bulkhead: a fixed number of threads and a bounded queue. When both
/// are full, trySubmit refuses at once, so a slow vendor system costs its own
/// plugin's capacity and nothing else.
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

private:
    void run();

    std::string name_;
    std::size_t capacity_;
    mutable std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> queue_;
    std::size_t active_ = 0;
    bool stopping_ = false;
    std::mutex joinMutex_;
    std::vector<std::thread> workers_;
};

}  // namespace hub::host
