#pragma once

#include "ConsumerDelivery.h"
#include "DeliveryRecords.h"
#include "hub/events/OutboxHorizon.h"

#include "hub/events/RelayConfig.h"

#include <hub/store/Database.h>
#include <hub/store/LeaseKeeper.h>

#include <Poco/Data/Session.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace hub::events {

class DeliveryCommitter;
class DeliveryStore;
class MetricsBoard;
class Publisher;
class RelaySockets;

/// The delivery thread. It only reads the database (in WAL mode readers never
/// wait for the writer, so neither the hub's transactions nor the committer's
/// fsyncs hold it up): it reads each consumer's saved state at start (until it
/// can), then in rounds reads new outbox rows into each ConsumerDelivery, runs
/// their timers, sends, polls, takes acks, publishes on the PUB socket, hands
/// the consumers' marks to the DeliveryCommitter every flushIntervalMs (at once
/// when half a window waits) and applies what it reports durable, and refreshes
/// the metrics every 100 ms. It polls without waiting while something can be
/// sent now, else until the next timer, at most pollIntervalMs.
///
/// On PostgreSQL (several hubs may share the store) it keeps a LeaseKeeper per
/// consumer (Relay::leaseName()) and delivers to a consumer only while this
/// hub holds its lease: when it becomes the holder it reads the consumer's
/// saved state (a new tenure), and when it stops being one it drops the
/// consumer's state and reconnects its socket, so nothing it queued arrives
/// after the next holder started. It reads the outbox only up to the
/// OutboxHorizon, and looks for replays another hub asked for every second.
class DeliveryLoop {
public:
    /// `replayRequested` is set by Relay::replay() from any thread.
    DeliveryLoop(hub::store::Database& db, const RelayConfig& config, RelaySockets& sockets,
                 DeliveryCommitter& committer, Publisher* publisher, MetricsBoard& metrics,
                 std::atomic<bool>& replayRequested, const std::atomic<bool>& stopping);
    ~DeliveryLoop();

    /// The thread's body, until `stopping`; survives every error. Its last act
    /// is a hand-off of everything acknowledged, for the committer's last commit.
    void run();

    /// After the delivery and committer threads ended: applies the committer's
    /// last report and refreshes the metrics once more.
    void finish();

    /// Relay::abandon(): the last hand-off is skipped (call before stopping).
    void abandon();
    /// After an abandoned run: the lease keepers, stopped without releasing.
    /// Whoever keeps them keeps the leases unreleased (a store::Lease releases
    /// when destroyed), so they run out as a dead hub's would.
    std::vector<std::unique_ptr<hub::store::LeaseKeeper>> takeAbandonedKeepers();

private:
    std::optional<Poco::Data::Session> restoreAll();
    void restore(DeliveryStore& store, std::size_t index);
    void followLeases(DeliveryStore& store, std::vector<::zmq::pollitem_t>& poll);
    void round(DeliveryStore& store, std::vector<::zmq::pollitem_t>& poll);
    void addReplay(DeliveryStore& store, ConsumerDelivery& c, std::int64_t seq, int attempts);
    void loadReplays(DeliveryStore& store, std::int64_t at);
    void readOutbox(DeliveryStore& store, std::int64_t at);
    void handOff();
    void applyCompletions();
    long pollTimeout(std::int64_t at) const;

    hub::store::Database& db_;
    const RelayConfig& cfg_;
    RelaySockets& sockets_;
    DeliveryCommitter& committer_;
    Publisher* publisher_;
    MetricsBoard& metrics_;
    std::atomic<bool>& replayRequested_;
    const std::atomic<bool>& stopping_;

    std::vector<std::unique_ptr<ConsumerDelivery>> consumers_;
    // PostgreSQL: one lease per consumer, this hub's tenure as its holder.
    const bool leased_;
    std::vector<std::unique_ptr<hub::store::LeaseKeeper>> keepers_;
    std::vector<std::uint64_t> tenures_;  // counts this hub's tenures per consumer
    std::atomic<bool> abandoned_{false};
    OutboxHorizon horizon_;
    std::int64_t lastReplayLook_ = 0;
    std::vector<PendingMarks> outgoing_;  // handOff()'s, one per consumer, reused
    bool replayDeferred_ = false;
    std::int64_t replayAt_ = 0;  // when to look at deferred replays again
    std::int64_t lastLoad_ = 0, lastFlush_ = 0, lastMetrics_ = 0;
};

}  // namespace hub::events
