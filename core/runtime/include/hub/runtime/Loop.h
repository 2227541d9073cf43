#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace hub::runtime {

/// Fibers on one thread's asio event loop, as OpenResty's cosockets: code that
/// does its I/O through hub::http::Client runs on a small stack of its own, and
/// where it would block, the client parks it and the loop serves other work
/// until the answer (or the deadline) resumes it. A call then costs no thread
/// hand-off and no worker waiting for a CPU.
///
/// Construct one on the thread that runs the io_context (it becomes that thread's
/// Loop::current()) and destroy it there after run() returns. Everything here is
/// for that thread only. Code on a fiber must not block in anything else for
/// long: it holds up every connection of the loop (a run over Options::slowRun
/// is logged as a warning naming the fiber).
class Loop {
public:
    struct Options {
        std::size_t stackBytes = 256 * 1024;  ///< Per fiber, plus a guard page.
        std::size_t keptStacks = 256;         ///< Stacks kept for reuse, not unmapped.
        std::chrono::milliseconds slowRun{100};
    };
    class Fiber;

    explicit Loop(boost::asio::io_context& io);
    Loop(boost::asio::io_context& io, Options options);
    /// Fibers still parked are resumed once with their waits failing (aborted),
    /// so each runs to its end; call after the io_context has stopped.
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    /// The calling thread's loop, or null.
    static Loop* current() noexcept;
    boost::asio::io_context& context() noexcept { return io_; }

    /// Runs fn on a new fiber at once; returns when fn has finished or first
    /// waits. name identifies it in warnings. An exception out of fn is logged.
    void spawn(std::string name, std::function<void()> fn);
    std::size_t fibers() const noexcept;  ///< Started and not yet finished.
    std::size_t pooledStacks() const noexcept;

    /// State that an I/O object keeps per loop (a client's connection pool, its
    /// sockets registered with this loop); destroyed with the loop.
    std::shared_ptr<void>& local(const void* key);

    // For I/O objects that wait on this loop:
    /// The fiber running on this thread, or null on the thread's own stack.
    static Fiber* running() noexcept;
    /// Parks the running fiber until resume(); returns at once when aborted.
    static void suspend();
    /// Continues a parked fiber until it waits again or ends; from a handler of
    /// its loop.
    static void resume(Fiber* fiber);
    /// From any thread: resumes the fiber on its own loop, through the loop's
    /// queue (never inline). If that loop stops first, the fiber wakes aborted.
    static void resumeLater(Fiber* fiber);
    /// True once the loop is going away: the fiber's waits must fail.
    static bool aborted(const Fiber* fiber) noexcept;

private:
    struct Impl;
    boost::asio::io_context& io_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hub::runtime
