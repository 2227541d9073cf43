#pragma once
// How the relay's threads run and fail: its logger, the pause after a failure,
// and the last line of defence that restarts a thread whose loop let something
// escape. No relay thread ever ends the process.

#include <Poco/Logger.h>

#include <atomic>
#include <functional>
#include <thread>

namespace hub::events {

/// The relay's logger, "hub.events".
inline Poco::Logger& logger() {
    return Poco::Logger::get("hub.events");
}

/// After an unexpected error in a relay thread: a pause that grows with repeated
/// failures (10 ms to 1 s), so a lasting fault neither spins nor floods the log.
/// Returns early once `stopping` is set.
void pauseAfterFailure(const std::atomic<bool>& stopping, int failures);

/// Runs `body` on a new thread. Each loop catches its own errors; this is the
/// last line, for what escapes one (the thread's set-up, say): log it as the
/// `name` thread's failure, pause, run `body` again, until it returns or
/// `stopping` is set.
std::thread startRelayThread(const char* name, std::function<void()> body, const std::atomic<bool>& stopping);

}  // namespace hub::events
