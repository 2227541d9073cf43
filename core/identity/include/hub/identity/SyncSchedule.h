#pragma once

#include <Poco/Util/Timer.h>
#include <Poco/Util/TimerTask.h>

#include <chrono>
#include <functional>
#include <mutex>

namespace hub::identity {

class Syncer;

/// Runs a Syncer's incremental sync on a timer thread of its own, each run
/// followed by `afterRun` (the hub forwards the changes to the provisioning
/// plugins there). A failed run is logged (logger hub.identity) and tried again
/// at the next tick; nothing is departed on its strength (see Syncer). Nothing
/// that throws ends the timer thread. A tick that finds a sync running (one an
/// admin started) skips the sync.
///
/// With several hubs (Syncer::coordinate) every node ticks, and the sync runs on
/// the one holding the identity.sync lease (a tick elsewhere returns at once);
/// a node that becomes the holder runs a round at once, not an interval later,
/// and the holder looks every 2 s for runs admins asked for on other nodes
/// (Syncer::requestRun).
class SyncSchedule {
public:
    SyncSchedule() = default;
    ~SyncSchedule() { stop(); }
    SyncSchedule(const SyncSchedule&) = delete;
    SyncSchedule& operator=(const SyncSchedule&) = delete;

    /// The first run one second from now, then one every `interval`. `syncer`
    /// and whatever `afterRun` uses must outlive the schedule, or stop().
    void start(Syncer& syncer, std::chrono::seconds interval, std::function<void()> afterRun);

    /// Cancels the schedule and waits for a run in progress to end.
    void stop();

    /// One round (sync and afterRun) on the timer thread as soon as it is free.
    void runSoon();

    /// Runs every `interval` from now on (hubd's reload on SIGHUP), the next run
    /// one interval from now. Never waits: a run in progress finishes, and the
    /// first new tick skips the sync if it is still going. No-op before start().
    void setInterval(std::chrono::seconds interval);

private:
    Poco::Util::Timer timer_;
    std::mutex mutex_;  // guards stopped_ (runSoon() comes from the lease's thread)
    bool stopped_ = false;
    Syncer* syncer_ = nullptr;
    std::function<void()> afterRun_;
    Poco::Util::TimerTask::Ptr task_;  // the task scheduled now
};

}  // namespace hub::identity
