#pragma once
// Private to core/host: how a host service's blocking work (SQLite, PostgreSQL)
// leaves an event loop's thread while the plugin's fiber waits.

#include "hub/host/PluginServices.h"
#include "hub/runtime/Loop.h"
#include "hub/runtime/WorkerPool.h"

#include <exception>
#include <memory>
#include <optional>
#include <semaphore>

namespace hub::host {

// On an event loop's fiber, runs fn (blocking work: SQLite may wait for a lock)
// on the host's offload workers and parks the fiber meanwhile; elsewhere, or if
// the offload queue is full, runs it in place. fn must not call back into the
// plugin: the plugin is parked on its own thread.
template <class Fn>
auto offLoop(const PluginServices& services, Fn fn) -> decltype(fn()) {
    runtime::Loop::Fiber* self = runtime::Loop::running();
    if (!self || !services.offload) return fn();
    struct State {
        std::optional<decltype(fn())> result;
        std::exception_ptr error;
        std::binary_semaphore finished{0};
    };
    auto state = std::make_shared<State>();
    bool queued = services.offload->trySubmit([state, self, &fn] {
        try {
            state->result.emplace(fn());
        } catch (...) {
            state->error = std::current_exception();
        }
        // Resumed first, released second: a fiber woken early by its loop going
        // away waits for the release, so self is still alive here.
        runtime::Loop::resumeLater(self);
        state->finished.release();
    });
    if (!queued) return fn();
    runtime::Loop::suspend();
    if (runtime::Loop::aborted(self)) state->finished.acquire();  // fn may still use this frame
    if (state->error) std::rethrow_exception(state->error);
    return std::move(*state->result);
}

}  // namespace hub::host
