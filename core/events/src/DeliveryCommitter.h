#pragma once

#include "DeliveryRecords.h"
#include "DeliveryStore.h"
#include "MetricsBoard.h"

#include "hub/events/RelayConfig.h"

#include <hub/store/Database.h>

#include <Poco/Data/Session.h>

#include <zmq.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace hub::events {

class Publisher;

/// The committer thread: the only writer of the relay's delivery state. The
/// delivery thread hands it marks (submit()); it merges whatever queued up while
/// it was busy and commits it all in one transaction on its own session, with a
/// busy handler that retries SQLite's write lock every 0.2 ms. Then it reports
/// back what became durable (takeCompletions()) and wakes the delivery thread,
/// which only then frees those events' window slots. So a slow fsync, or a wait
/// for the write lock while the hub commits its own changes, delays the
/// bookkeeping, not delivery. A commit that fails keeps its marks for the next
/// try. Once a minute it prunes settled events past the retention.
///
/// On PostgreSQL, where several hubs share the store and each consumer is
/// delivered by the holder of its lease (Relay::leaseName()), a consumer's
/// marks are committed only while this node still holds that lease with the
/// token they were taken under (DeliveryStore::commit's fence), and pruning
/// goes by the cursors in the store.
class DeliveryCommitter {
public:
    /// `wake` is the sending end of the inproc pair the delivery thread polls;
    /// `publisher` (null without a PUB socket) bounds pruning.
    DeliveryCommitter(hub::store::Database& db, const RelayConfig& config, ::zmq::socket_t& wake,
                      const Publisher* publisher, RelayCounters& counters, const std::atomic<bool>& stopping);

    // The delivery thread.

    /// Queues `marks` (one entry per consumer; left empty) and wakes the committer.
    void submit(std::vector<PendingMarks>& marks);
    /// What the commits since the last call made durable.
    std::vector<Completion> takeCompletions();
    /// Consumer `consumer`'s cursor as read at start: pruning stays behind it.
    void noteDurableCursor(std::size_t consumer, std::int64_t seq) { durableCursors_[consumer] = seq; }

    // Relay::stop(), after the delivery thread's last submit().

    /// Commits what is queued, then lets run() return.
    void finish();
    /// Relay::abandon(): lets run() return without committing anything more.
    void abandon();

    /// The thread's body: survives every error; renews its session at every round.
    void run();

private:
    bool commitRound(Poco::Data::Session& s, std::vector<PendingMarks>& work, int& failures, std::int64_t& lastPrune);
    bool commit(Poco::Data::Session& s, std::vector<PendingMarks>& work);
    void report(std::vector<PendingMarks>& work);
    void prune(Poco::Data::Session& s, std::int64_t at);

    hub::store::Database& db_;
    const RelayConfig& cfg_;
    ::zmq::socket_t& wake_;
    const Publisher* publisher_;
    RelayCounters& counters_;
    const std::atomic<bool>& stopping_;
    std::vector<std::string> names_;  // consumer names, by index

    std::mutex queueMutex_;
    std::condition_variable queued_;
    std::vector<PendingMarks> pending_;  // one per consumer
    bool finishing_ = false;
    bool abandoned_ = false;

    std::mutex doneMutex_;
    std::vector<Completion> completions_;

    std::vector<std::atomic<std::int64_t>> durableCursors_;  // per consumer: committed, for pruning
    DeliveryStore::LeaseFence fence_;  // PostgreSQL: each consumer's marks under its lease
    bool fenced_ = false;
    bool traced_ = false;  // the trace tables exist: deliveries of applications' events are hops
    bool traceWarned_ = false;
};

}  // namespace hub::events
