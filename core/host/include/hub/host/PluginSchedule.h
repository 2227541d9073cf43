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
class Database;
class LeaseKeeper;
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
/// Several hubs on one database: each schedule has a lease of its own
/// (store::LeaseKeeper `plugin.<plugin>.<operation>`, docs/store.md), and a
/// node runs a schedule only while it holds that lease, so a schedule runs on
/// one node at a time while different schedules may run on different nodes.
/// Another node takes a schedule over within the lease's time to live once
/// its holder dies (at once when it stops cleanly).
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

    /// audit may be null. With `leases`, each entry runs only while this node
    /// holds its lease (leaseName(), holder leases->nodeId(), time to live
    /// leaseTtl); without, always. Nothing runs before start().
    PluginSchedule(PluginHost& host, store::AuditLog* audit, std::vector<Entry> entries,
                   store::Database* leases = nullptr, std::chrono::milliseconds leaseTtl = std::chrono::seconds(15));
    ~PluginSchedule();  ///< stop()

    /// Starts the thread; each entry first runs one period after start.
    void start();
    /// Stops the thread and waits for runs in flight to finish.
    void stop();

    const std::vector<Entry>& entries() const { return entries_; }
    /// Completed runs of entry i (for tests and the status page).
    std::size_t runs(std::size_t i) const;
    /// The lease of entry i: `plugin.<plugin>.<operation>` (`#<i>` appended
    /// when two entries name the same operation).
    std::string leaseName(std::size_t i) const;

private:
    struct State;
    void loop();
    void runDue(std::chrono::steady_clock::time_point now);

    PluginHost& host_;
    store::AuditLog* audit_;
    std::vector<Entry> entries_;
    std::shared_ptr<State> state_;
    store::Database* leases_;
    std::chrono::milliseconds leaseTtl_;
    std::vector<std::unique_ptr<store::LeaseKeeper>> keepers_;  // one per entry, from start() to stop()
    std::thread thread_;
};

}  // namespace hub::host
