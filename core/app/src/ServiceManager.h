#pragma once

#include <chrono>
#include <string>

namespace hub::app {

/// hubd's side of systemd's notification protocol (sd_notify(3)), for a unit
/// of Type=notify: READY=1 once the listener is up, RELOADING=1 ... READY=1
/// around a SIGHUP reload, STOPPING=1 when the drain begins, WATCHDOG=1 while
/// the hub is healthy. Sends nothing when NOTIFY_SOCKET is not set (hubd run by
/// hand, by a test, or under another supervisor), so every call is safe.
///
/// Built on libsystemd's sd_notify: the same code systemd's own daemons use,
/// which knows the socket address forms (paths, abstract sockets, and newer
/// ones as systemd adds them) and WATCHDOG_PID.
class ServiceManager {
public:
    /// Reads the environment once (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID).
    ServiceManager();

    /// Whether a service manager listens (NOTIFY_SOCKET is set).
    bool enabled() const noexcept { return enabled_; }

    /// READY=1 with a STATUS= line.
    void ready(const std::string& status) const;

    /// RELOADING=1 with MONOTONIC_USEC= (systemd 253's Type=notify-reload
    /// requires it; 252 ignores it).
    void reloading() const;

    /// STOPPING=1.
    void stopping() const;

    /// STATUS= alone (shown by systemctl status).
    void status(const std::string& status) const;

    /// How often to send WATCHDOG=1: half of WATCHDOG_USEC (sd_watchdog_enabled),
    /// or zero when the unit has no WatchdogSec= (or it is meant for another pid).
    std::chrono::microseconds watchdogInterval() const noexcept { return watchdogInterval_; }

    /// WATCHDOG=1.
    void watchdog() const;

private:
    void send(const std::string& state) const;

    bool enabled_ = false;
    std::chrono::microseconds watchdogInterval_{0};
};

}  // namespace hub::app
