#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
}
namespace hub::store {
class AuditLog;
}

namespace hub::host {

class PluginHost;

/// Plugin operations the hub calls by itself, every so many seconds, as hub.xml's
/// <schedules> says (a drop folder's scan, a nightly export's pick-up):
///
///     <schedules>
///       <schedule plugin="hr" operation="scan" everySeconds="60" timeoutMs="120000"/>
///     </schedules>
///
/// Each run goes the normal way of a call, PluginHost::submit: the operation's
/// access policy (the caller is kSubject with role kRole, which the operation
/// must admit), the plugin's limits and bulkhead, its circuit breaker; and it
/// is audited like a portal call. A schedule never overlaps itself: a run still
/// in flight when the next is due makes that one wait for the next period.
///
/// One node runs the schedules: this is the one place where, once several hubs
/// share a database, a lease is taken before a run.
class PluginSchedule {
public:
    /// The caller the scheduled calls carry.
    static constexpr const char* kSubject = "hub:scheduler";
    static constexpr const char* kRole = "hub:scheduler";

    struct Entry {
        std::string plugin;
        std::string operation;
        std::string input = "{}";  ///< The call's input (a JSON object).
        std::chrono::seconds every{60};
        std::chrono::milliseconds timeout{0};  ///< 0: the plugin's own timeoutMs.
    };

    /// The entries of a "schedules" view of hub.xml (schedule[i][@plugin],
    /// [@operation], [@everySeconds] 1..86400, [@timeoutMs] 0..3600000,
    /// [@input]). Throws std::invalid_argument naming the key that is wrong.
    static std::vector<Entry> fromConfig(const Poco::Util::AbstractConfiguration& schedules);

    /// audit may be null. Nothing runs before start().
    PluginSchedule(PluginHost& host, store::AuditLog* audit, std::vector<Entry> entries);
    ~PluginSchedule();  ///< stop()

    /// Starts the thread; each entry first runs one period after start.
    void start();
    /// Stops the thread and waits for runs in flight to finish.
    void stop();

    const std::vector<Entry>& entries() const { return entries_; }
    /// Completed runs of entry i (for tests and the status page).
    std::size_t runs(std::size_t i) const;

private:
    struct State;
    void loop();
    void runDue(std::chrono::steady_clock::time_point now);

    PluginHost& host_;
    store::AuditLog* audit_;
    std::vector<Entry> entries_;
    std::shared_ptr<State> state_;
    std::thread thread_;
};

}  // namespace hub::host
