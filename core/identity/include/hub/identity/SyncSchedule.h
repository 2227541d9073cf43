#pragma once

#include <Poco/Util/Timer.h>

#include <chrono>
#include <functional>

namespace hub::identity {

class Syncer;

/// Runs a Syncer's incremental sync on a timer thread of its own, each run
/// followed by `afterRun` (the hub forwards the changes to the provisioning
/// plugins there). A failed run is logged (logger hub.identity) and tried again
/// at the next tick; nothing is departed on its strength (see Syncer). Nothing
/// that throws ends the timer thread. A tick that finds a sync running (one an
/// admin started) skips the sync.
class SyncSchedule {
public:
    SyncSchedule() = default;
    SyncSchedule(const SyncSchedule&) = delete;
    SyncSchedule& operator=(const SyncSchedule&) = delete;

    /// The first run one second from now, then one every `interval`. `syncer`
    /// and whatever `afterRun` uses must outlive the schedule, or stop().
    void start(Syncer& syncer, std::chrono::seconds interval, std::function<void()> afterRun);

    /// Cancels the schedule and waits for a run in progress to end.
    void stop();

private:
    Poco::Util::Timer timer_;
};

}  // namespace hub::identity
