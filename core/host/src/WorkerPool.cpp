#include "hub/host/WorkerPool.h"

#include <pthread.h>

namespace hub::host {

WorkerPool::WorkerPool(std::string name, std::size_t threads, std::size_t queueCapacity)
    : name_(std::move(name)), capacity_(queueCapacity) {
    if (threads == 0) threads = 1;
    workers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
        workers_.emplace_back([this] { run(); });
        // Thread names show up in top and gdb; Linux caps them at 15 bytes.
        pthread_setname_np(workers_.back().native_handle(), ("p:" + name_).substr(0, 15).c_str());
    }
}

WorkerPool::~WorkerPool() { shutdown(); }

void WorkerPool::shutdown() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    ready_.notify_all();
    std::lock_guard join(joinMutex_);
    for (auto& t : workers_)
        if (t.joinable()) t.join();
}

bool WorkerPool::trySubmit(std::function<void()> task) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return false;
        // Idle threads take work at once; beyond them, up to capacity_ waits.
        std::size_t idle = workers_.size() - active_;
        if (queue_.size() >= idle + capacity_) return false;
        queue_.push_back(std::move(task));
    }
    ready_.notify_one();
    return true;
}

std::size_t WorkerPool::threads() const { return workers_.size(); }

std::size_t WorkerPool::queued() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
}

std::size_t WorkerPool::active() const {
    std::lock_guard lock(mutex_);
    return active_;
}

void WorkerPool::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping and drained
        auto task = std::move(queue_.front());
        queue_.pop_front();
        ++active_;
        lock.unlock();
        task();
        task = nullptr;  // release captures outside the lock
        lock.lock();
        --active_;
    }
}

}  // namespace hub::host
