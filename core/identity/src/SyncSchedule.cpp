#include "hub/identity/SyncSchedule.h"

#include "hub/common/Exceptions.h"
#include "hub/identity/Syncer.h"

#include <Poco/Logger.h>
#include <Poco/Util/TimerTask.h>

#include <string>
#include <utility>

namespace hub::identity {

namespace {

// A log channel that fails in turn (a full disk under a file channel) must not
// end the timer thread.
void logScheduleQuietly(const std::string& message) noexcept {
    try {
        Poco::Logger::get("hub.identity").error(message);
    } catch (...) {
    }
}

class SyncTask : public Poco::Util::TimerTask {
public:
    SyncTask(Syncer& syncer, std::function<void()> afterRun) : syncer_(syncer), afterRun_(std::move(afterRun)) {}
    void run() override {
        // Whatever fails, the timer thread stays for the next tick.
        try {
            if (!syncer_.isRunning()) syncer_.runIncremental();
        } catch (...) {
            logScheduleQuietly("scheduled sync failed: " + currentExceptionText());
        }
        try {
            afterRun_();
        } catch (...) {
            logScheduleQuietly("after the scheduled sync: " + currentExceptionText());
        }
    }

private:
    Syncer& syncer_;
    std::function<void()> afterRun_;
};

// Several hubs: the runs admins asked for on other nodes, taken by the holder
// (Syncer::runRequested; no I/O on a node without the lease).
class RequestedSyncTask : public Poco::Util::TimerTask {
public:
    RequestedSyncTask(Syncer& syncer, std::function<void()> afterRun)
        : syncer_(syncer), afterRun_(std::move(afterRun)) {}
    void run() override {
        bool ran = false;
        try {
            ran = !syncer_.isRunning() && syncer_.runRequested();
        } catch (...) {
            logScheduleQuietly("requested sync failed: " + currentExceptionText());
        }
        if (!ran) return;
        try {
            afterRun_();
        } catch (...) {
            logScheduleQuietly("after the requested sync: " + currentExceptionText());
        }
    }

private:
    Syncer& syncer_;
    std::function<void()> afterRun_;
};

}  // namespace

void SyncSchedule::start(Syncer& syncer, std::chrono::seconds interval, std::function<void()> afterRun) {
    syncer_ = &syncer;
    afterRun_ = std::move(afterRun);
    task_ = new SyncTask(syncer, afterRun_);
    timer_.scheduleAtFixedRate(task_, 1000, static_cast<long>(std::chrono::milliseconds(interval).count()));
    // A takeover (another node stopped holding identity.sync) runs at once.
    syncer.setOnLeaseAcquired([this] { runSoon(); });
    timer_.scheduleAtFixedRate(new RequestedSyncTask(syncer, afterRun_), 2000, 2000);
}

void SyncSchedule::runSoon() {
    std::lock_guard lock(mutex_);
    if (stopped_ || !syncer_) return;
    timer_.schedule(new SyncTask(*syncer_, afterRun_), Poco::Timestamp());
}

void SyncSchedule::setInterval(std::chrono::seconds interval) {
    if (!syncer_) return;
    // TimerTask::cancel only marks the task: the timer drops it at its next
    // turn, and a run in progress is not waited for (Timer::cancel(true) would
    // wait, for as long as a full sync takes).
    task_->cancel();
    const auto ms = static_cast<long>(std::chrono::milliseconds(interval).count());
    task_ = new SyncTask(*syncer_, afterRun_);
    timer_.scheduleAtFixedRate(task_, ms, ms);
}

void SyncSchedule::stop() {
    Syncer* syncer = nullptr;
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        syncer = std::exchange(syncer_, nullptr);  // a second stop() (the destructor) leaves the syncer alone
    }
    if (syncer) syncer->setOnLeaseAcquired({});
    timer_.cancel(true);
}

}  // namespace hub::identity
