#pragma once
// Internal to hub::http: how a request on a Loop's fiber waits.

#include "hub/runtime/Loop.h"

#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>

namespace hub::http::detail {

using runtime::Loop;

/// On a Loop's fiber: parks it until the operation that start(done) begins on
/// the loop calls done(error), or until the deadline, when cancel() stops the
/// operation. Two handlers, the operation's and the deadline's; the fiber goes
/// on when both have run, so neither can touch this frame after it is gone.
/// Returns the operation's error, timed_out, or operation_aborted when the loop
/// is going away.
template <class Executor, class Start, class Cancel>
boost::system::error_code parkFiber(const Executor& executor, std::chrono::steady_clock::time_point deadline,
                                    Start start, Cancel cancel) {
    namespace asio = boost::asio;
    using boost::system::error_code;
    Loop::Fiber* self = Loop::running();
    if (!self || Loop::aborted(self)) return asio::error::operation_aborted;
    if (std::chrono::steady_clock::now() >= deadline) return asio::error::timed_out;
    asio::steady_timer timer(executor, deadline);
    int pending = 2;
    bool late = false;
    error_code opError;
    auto oneDone = [&] {
        if (--pending == 0) Loop::resume(self);
    };
    start([&](error_code e) {
        opError = e;
        timer.cancel();
        oneDone();
    });
    timer.async_wait([&](error_code e) {
        if (!e) {
            late = true;
            cancel();
        }
        oneDone();
    });
    Loop::suspend();
    if (Loop::aborted(self)) return asio::error::operation_aborted;
    if (late) return asio::error::timed_out;
    return opError;
}

}  // namespace hub::http::detail
