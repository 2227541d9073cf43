#include "RelayThreads.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>

namespace hub::events {

void pauseAfterFailure(const std::atomic<bool>& stopping, int failures) {
    auto pause = std::chrono::milliseconds(std::min(1000, 10 << std::min(std::max(failures, 1) - 1, 7)));
    auto end = std::chrono::steady_clock::now() + pause;
    while (!stopping && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

std::thread startRelayThread(const char* name, std::function<void()> body, const std::atomic<bool>& stopping) {
    return std::thread([name, body = std::move(body), &stopping] {
        for (int failures = 1;; ++failures) {
            try {
                body();
                return;
            } catch (const std::exception& e) {
                logger().critical("relay %s thread failed (restarting it): %s", std::string(name),
                                  std::string(e.what()));
            } catch (...) {
                logger().critical("relay %s thread failed (restarting it): unknown exception", std::string(name));
            }
            // A relay thread never takes the process down with std::terminate.
            if (stopping) return;
            pauseAfterFailure(stopping, failures);
        }
    });
}

}  // namespace hub::events
