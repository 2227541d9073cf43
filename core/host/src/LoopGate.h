#pragma once
// Private to core/host.

#include "hub/runtime/Loop.h"

#include <algorithm>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace hub::host {

/// The bulkhead of a plugin's calls on event loops (execution "loop"), as
/// WorkerPool is for its workers: at most `concurrency` calls at the plugin at
/// once, at most `queue` more parked (each on its fiber) in arrival order. A
/// finished call hands its turn to the oldest parked one, on that one's own loop.
class LoopGate {
public:
    enum class Entry { Run, Parked, Refused };
    struct Waiter {
        runtime::Loop::Fiber* fiber = runtime::Loop::running();
        bool granted = false;
    };

    LoopGate(std::size_t concurrency, std::size_t queue) : concurrency_(concurrency), capacity_(queue) {}

    /// Starts call on a new fiber of loop, which passes gate first: the call runs
    /// at once, parks for its turn, or is refused (false: the gate's queue is
    /// full, call never runs). The fiber starts at once, so the decision is known
    /// when this returns.
    template <class Call>
    static bool spawn(runtime::Loop& loop, const std::shared_ptr<LoopGate>& gate, std::string name, Call call) {
        // The fiber writes to this frame only before it first waits.
        auto entry = Entry::Refused;
        loop.spawn(std::move(name), [gate, decided = &entry, call = std::move(call)]() mutable {
            Waiter self;
            auto e = gate->tryEnter(self);
            *decided = e;
            decided = nullptr;
            if (e == Entry::Refused) return;
            // Woken without a turn (the loop is stopping), the call still ends
            // the ordinary way: its requests fail at once.
            bool turn = e == Entry::Run || gate->awaitTurn(self);
            call();
            if (turn) gate->leave();
        });
        return entry != Entry::Refused;
    }

    /// On the call's fiber. Parked: call awaitTurn next.
    Entry tryEnter(Waiter& self) {
        std::lock_guard lock(mutex_);
        if (active_ < concurrency_) {
            ++active_;
            return Entry::Run;
        }
        if (waiting_.size() >= capacity_) return Entry::Refused;
        waiting_.push_back(&self);
        return Entry::Parked;
    }

    /// False when woken without a turn: its loop is stopping.
    bool awaitTurn(Waiter& self) {
        runtime::Loop::suspend();
        std::lock_guard lock(mutex_);
        if (self.granted) return true;
        waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &self));
        return false;
    }

    void leave() {
        std::lock_guard lock(mutex_);
        if (waiting_.empty()) {
            --active_;
            return;
        }
        Waiter* next = waiting_.front();
        waiting_.pop_front();
        next->granted = true;  // the turn passes on; active_ stays
        runtime::Loop::resumeLater(next->fiber);
    }

    std::size_t active() const {
        std::lock_guard lock(mutex_);
        return active_;
    }
    std::size_t queued() const {
        std::lock_guard lock(mutex_);
        return waiting_.size();
    }

private:
    const std::size_t concurrency_, capacity_;
    mutable std::mutex mutex_;
    std::size_t active_ = 0;
    std::deque<Waiter*> waiting_;
};

}  // namespace hub::host
