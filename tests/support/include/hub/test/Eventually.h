#pragma once

#include <chrono>
#include <thread>

namespace hub::test {

/// Waits until `condition()` holds or `timeout` has passed, checking it every
/// `interval`; returns whether it held (the last check is after the deadline,
/// so a condition that became true just in time counts). For what a test
/// cannot be told about and must look at, e.g.
///
///     ASSERT_TRUE(hub::test::waitUntil([&] { return server.accepted() == 2; }));
///
/// A test that must let time pass (a timeout under test, a slow peer) sleeps
/// instead, and says so.
template <class Condition>
bool waitUntil(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(10),
               std::chrono::milliseconds interval = std::chrono::milliseconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (condition()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return condition();
        std::this_thread::sleep_for(interval);
    }
}

}  // namespace hub::test
