#include "hub/runtime/WorkerPool.h"

#include "hub/common/Exceptions.h"

#include <Poco/Logger.h>

#include <pthread.h>

namespace hub::runtime {

WorkerPool::WorkerPool(std::string name, std::size_t threads, std::size_t queueCapacity)
    : name_(std::move(name)), capacity_(queueCapacity) {
    if (threads == 0) threads = 1;
    slots_.reserve(threads);
    workers_.reserve(threads);
    idle_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i) {
        slots_.push_back(std::make_unique<Worker>());
        Worker* w = slots_.back().get();
        // Idle from the start: a task handed over before the thread waits is found
        // when it does (the semaphore counts it).
        idle_.push_back(w);
        workers_.emplace_back([this, w] { run(*w); });
        // Thread names show up in top and gdb; Linux caps them at 15 bytes.
        pthread_setname_np(workers_.back().native_handle(), ("p:" + name_).substr(0, 15).c_str());
    }
}

WorkerPool::~WorkerPool() { shutdown(); }

void WorkerPool::shutdown() {
    std::vector<Worker*> parked;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        parked.swap(idle_);
    }
    // Woken without a task, a parked thread exits; busy ones drain the queue first.
    for (Worker* w : parked) w->wake.release();
    std::lock_guard join(joinMutex_);
    for (auto& t : workers_)
        if (t.joinable()) t.join();
}

bool WorkerPool::trySubmit(std::function<void()> task) {
    Worker* w = nullptr;
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return false;
        if (!idle_.empty()) {
            w = idle_.back();
            idle_.pop_back();
            w->job = {std::move(task), log::currentRequest()};
            ++active_;
        } else {
            // Beyond the threads, up to capacity_ waits.
            if (queue_.size() >= capacity_) return false;
            queue_.push_back({std::move(task), log::currentRequest()});
        }
    }
    if (w) w->wake.release();
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

void WorkerPool::run(Worker& self) {
    for (;;) {
        self.wake.acquire();
        // A task handed over by trySubmit (written before the release that woke us),
        // or none: the pool is stopping.
        Job job = std::move(self.job);
        self.job = {};
        if (!job.task) return;
        while (job.task) {
            runOne(job);
            job = {};  // release captures outside the lock
            std::lock_guard lock(mutex_);
            if (!queue_.empty()) {
                job = std::move(queue_.front());
                queue_.pop_front();
            } else {
                --active_;
                if (stopping_) return;  // stopping and drained
                idle_.push_back(&self);
            }
        }
    }
}

// A task's exception must not end the thread (std::terminate, and the hub with
// it): it ends the task, and the thread takes the next one.
void WorkerPool::runOne(Job& job) noexcept {
    log::RequestScope scope(std::move(job.request));
    try {
        job.task();
    } catch (...) {
        failed_.fetch_add(1, std::memory_order_relaxed);
        try {
            // The logger keeps the name it had in core/host, where operators look for it.
            Poco::Logger::get("hub.host").error("pool %s: a task failed and was dropped: %s", name_,
                                                currentExceptionText());
        } catch (...) {
            // The log itself failed (a full disk under a file channel): nothing more to do.
        }
    }
}

}  // namespace hub::runtime
