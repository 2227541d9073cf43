#pragma once

#include "hub/events/Relay.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace hub::zmq {
class ZapAuthenticator;
}

namespace hub::events {

class ConsumerDelivery;
class DeliveryStore;

/// Counters the relay's threads bump as things happen; read from any thread.
struct RelayCounters {
    std::atomic<std::uint64_t> published{0};        ///< Publisher
    std::atomic<std::uint64_t> inboundAccepted{0};  ///< InboundReceiver, as are the three below
    std::atomic<std::uint64_t> inboundDuplicates{0};
    std::atomic<std::uint64_t> inboundRefused{0};
    std::atomic<std::uint64_t> inboundUnavailable{0};
    std::atomic<std::int64_t> deadLetters{0};  ///< Rows in events_dead_letters: the committer adds, replay() takes.
};

/// The relay's figures (Relay::metrics()): the counters, and a snapshot of the
/// consumers' delivery that the delivery thread refreshes about every 100 ms.
/// It outlives the relay's threads, so the figures survive stop() and start().
class MetricsBoard {
public:
    RelayCounters counters;

    /// Delivery thread (or stop(), after it ended): a new snapshot of
    /// `consumers`, reading the outbox through `store` for the depth and the age
    /// of events not loaded yet.
    void refresh(DeliveryStore& store, const std::vector<std::unique_ptr<ConsumerDelivery>>& consumers,
                 const hub::zmq::ZapAuthenticator* zap, std::int64_t at);

    /// Any thread: the last snapshot with the counters as they are now.
    RelayMetrics read() const;

private:
    mutable std::mutex mutex_;
    RelayMetrics snapshot_;
};

}  // namespace hub::events
