#include "ServiceManager.h"

#include <Poco/Logger.h>

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdlib>
#include <ctime>

namespace hub::app {

ServiceManager::ServiceManager() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket && *socket;
    std::uint64_t usec = 0;
    // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is this process.
    if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        watchdogInterval_ = std::chrono::microseconds(usec / 2);
}

void ServiceManager::ready(const std::string& status) const { send("READY=1\nSTATUS=" + status); }

void ServiceManager::reloading() const {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
                      static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
    send("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" + std::to_string(usec));
}

void ServiceManager::stopping() const { send("STOPPING=1\nSTATUS=stopping: draining requests in flight"); }

void ServiceManager::status(const std::string& status) const { send("STATUS=" + status); }

void ServiceManager::watchdog() const { send("WATCHDOG=1"); }

void ServiceManager::send(const std::string& state) const {
    if (!enabled_) return;
    // A lost notification is not a reason to stop serving: systemd then times
    // the start (or the watchdog) out and says so in its own log.
    if (int rc = sd_notify(0, state.c_str()); rc < 0)
        Poco::Logger::get("hub").warning("cannot notify the service manager (NOTIFY_SOCKET): errno %d", -rc);
}

}  // namespace hub::app
