#include "MetricsBoard.h"

#include "ConsumerDelivery.h"
#include "DeliveryStore.h"

#include <hub/zmq/ZapAuthenticator.h>

#include <algorithm>

namespace hub::events {

void MetricsBoard::refresh(DeliveryStore& store, const std::vector<std::unique_ptr<ConsumerDelivery>>& consumers,
                           const hub::zmq::ZapAuthenticator* zap, std::int64_t at) {
    const std::int64_t lastSeq = store.lastSeq();
    RelayMetrics m;
    for (const auto& c : consumers) {
        ConsumerMetrics cm = c->figures(lastSeq);
        std::int64_t oldest = c->oldestUnsettledCreatedAt();
        // Nothing unsettled is loaded, but the outbox holds more: its first one.
        if (oldest == 0 && c->leading() && lastSeq > c->loadedUpTo()) oldest = store.createdAtAfter(c->loadedUpTo()).value_or(0);
        cm.oldestUndeliveredAgeSeconds = oldest ? std::max<std::int64_t>(0, at - oldest) / 1000.0 : 0.0;
        m.outboxDepth = std::max(m.outboxDepth, cm.depth);
        m.oldestUndeliveredAgeSeconds = std::max(m.oldestUndeliveredAgeSeconds, cm.oldestUndeliveredAgeSeconds);
        m.deliveries += cm.deliveries;
        m.retries += cm.retries;
        m.consumers.push_back(std::move(cm));
    }
    if (zap) m.handshakesRefused = zap->refused();
    std::lock_guard lock(mutex_);
    snapshot_ = std::move(m);
}

RelayMetrics MetricsBoard::read() const {
    RelayMetrics m;
    {
        std::lock_guard lock(mutex_);
        m = snapshot_;
    }
    m.deadLetters = static_cast<std::uint64_t>(std::max<std::int64_t>(0, counters.deadLetters.load()));
    m.published = counters.published;
    m.inboundAccepted = counters.inboundAccepted;
    m.inboundDuplicates = counters.inboundDuplicates;
    m.inboundRefused = counters.inboundRefused;
    m.inboundUnavailable = counters.inboundUnavailable;
    return m;
}

}  // namespace hub::events
