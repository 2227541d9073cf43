// The Relay only wires its parts and runs them; each part has a file of its own:
//
//   RelaySockets         every socket, the CURVE keys and the ZAP handler
//   DeliveryLoop         the delivery thread: outbox -> consumers, acks, the PUB fan-out
//     ConsumerDelivery   one consumer's state machine: window, order, retries, dead letters
//     Publisher          the PUB fan-out
//   DeliveryCommitter    the committer thread: the only writer of delivery state
//   DeliveryStore        the SQL: saved state, marks, pruning, dead letters, replay
//   InboundReceiver      the inbound thread: refusals, exactly once through events_inbox
//   MetricsBoard         the counters and the snapshot behind metrics()
//   RelayThreads         the catch-all that keeps each thread alive
//
// The delivery thread only reads the database. It hands the committer marks
// (DeliveryRecords.h) and frees window slots only when the committer reports
// them durable.

#include "hub/events/Relay.h"

#include "DeliveryCommitter.h"
#include "DeliveryLoop.h"
#include "DeliveryStore.h"
#include "InboundReceiver.h"
#include "MetricsBoard.h"
#include "Publisher.h"
#include "RelaySockets.h"
#include "RelayThreads.h"

#include "hub/events/Outbox.h"

#include <atomic>
#include <mutex>
#include <thread>

namespace hub::events {

struct Relay::Impl {
    hub::store::Database& db;
    const RelayConfig cfg;
    const InboundHandler onInbound;

    // Declared first, destroyed last: every socket must close before it.
    ::zmq::context_t ctx;
    // Outlive a run, so the figures survive stop() and start().
    MetricsBoard metrics;
    std::atomic<bool> replayRequested{false};

    // One run, from start() to stop().
    std::unique_ptr<RelaySockets> sockets;
    std::unique_ptr<Publisher> publisher;
    std::unique_ptr<DeliveryCommitter> committer;
    std::unique_ptr<DeliveryLoop> delivery;
    std::unique_ptr<InboundReceiver> inbound;
    std::thread deliveryThread;
    std::thread committerThread;
    std::thread inboundThread;
    std::atomic<bool> stopping{false};
    std::atomic<bool> isRunning{false};
    std::mutex lifecycle;
    std::string inboundEndpoint;
    std::string publishEndpoint;
    // abandon(): the leases stay unreleased while the Relay lives.
    std::vector<std::unique_ptr<hub::store::LeaseKeeper>> abandonedKeepers;

    Impl(hub::store::Database& database, RelayConfig config, InboundHandler handler)
        : db(database), cfg(std::move(config)), onInbound(std::move(handler)) {}

    // The parts of one run, in the order they depend on each other.
    void assemble() {
        sockets = std::make_unique<RelaySockets>(ctx, cfg);
        if (sockets->publish)
            publisher = std::make_unique<Publisher>(*sockets->publish, cfg.batchSize, metrics.counters.published);
        committer = std::make_unique<DeliveryCommitter>(db, cfg, *sockets->wakeSend, publisher.get(), metrics.counters,
                                                        stopping);
        delivery = std::make_unique<DeliveryLoop>(db, cfg, *sockets, *committer, publisher.get(), metrics,
                                                  replayRequested, stopping);
        if (sockets->inbound)
            inbound =
                std::make_unique<InboundReceiver>(db, cfg, onInbound, *sockets->inbound, metrics.counters, stopping);
        inboundEndpoint = sockets->inboundEndpoint;
        publishEndpoint = sockets->publishEndpoint;
    }

    // After the threads ended: the parts go, then the sockets they used.
    void disassemble() {
        inbound.reset();
        delivery.reset();
        committer.reset();
        publisher.reset();
        sockets.reset();
    }
};

Relay::Relay(hub::store::Database& db, RelayConfig config, InboundHandler onInbound) {
    config.validate();
    Outbox::migrate(db);
    impl_ = std::make_unique<Impl>(db, std::move(config), std::move(onInbound));
    Poco::Data::Session s = db.session();
    impl_->metrics.counters.deadLetters = DeliveryStore(s).countDeadLetters();
}

Relay::~Relay() {
    stop();
}

void Relay::start() {
    std::lock_guard lock(impl_->lifecycle);
    if (impl_->isRunning) return;
    try {
        impl_->assemble();
    } catch (...) {
        impl_->disassemble();
        throw;
    }
    Impl& r = *impl_;
    r.stopping = false;
    r.committerThread = startRelayThread(
        "committer", [&r] { r.committer->run(); }, r.stopping);
    r.deliveryThread = startRelayThread(
        "delivery", [&r] { r.delivery->run(); }, r.stopping);
    if (r.inbound)
        r.inboundThread = startRelayThread(
            "inbound", [&r] { r.inbound->run(); }, r.stopping);
    r.isRunning = true;
}

void Relay::stop() {
    std::lock_guard lock(impl_->lifecycle);
    if (!impl_->isRunning) return;
    Impl& r = *impl_;
    r.stopping = true;
    if (r.deliveryThread.joinable()) r.deliveryThread.join();
    // After the delivery thread's last hand-off: commit it, then end.
    r.committer->finish();
    if (r.committerThread.joinable()) r.committerThread.join();
    if (r.inboundThread.joinable()) r.inboundThread.join();
    try {
        r.delivery->finish();
    } catch (const Poco::Exception& e) {
        logger().warning("relay metrics after stop: %s", e.displayText());
    }
    r.disassemble();
    r.isRunning = false;
}

void Relay::abandon() {
    std::lock_guard lock(impl_->lifecycle);
    if (!impl_->isRunning) return;
    Impl& r = *impl_;
    r.delivery->abandon();
    r.committer->abandon();
    r.stopping = true;
    if (r.deliveryThread.joinable()) r.deliveryThread.join();
    if (r.committerThread.joinable()) r.committerThread.join();
    if (r.inboundThread.joinable()) r.inboundThread.join();
    for (auto& keeper : r.delivery->takeAbandonedKeepers()) r.abandonedKeepers.push_back(std::move(keeper));
    r.disassemble();
    r.isRunning = false;
}

std::string Relay::leaseName(const std::string& consumer) {
    return "events.consumer." + consumer;
}

bool Relay::running() const {
    return impl_->isRunning;
}

std::string Relay::inboundEndpoint() const {
    return impl_->inboundEndpoint;
}

std::string Relay::publishEndpoint() const {
    return impl_->publishEndpoint;
}

RelayMetrics Relay::metrics() const {
    return impl_->metrics.read();
}

std::vector<DeadLetter> Relay::deadLetters(const std::string& consumer, std::size_t limit, std::size_t offset) const {
    Poco::Data::Session s = impl_->db.session();
    return DeliveryStore(s).deadLetters(consumer, limit, offset);
}

std::size_t Relay::replay(const std::string& consumer, const std::string& eventId) {
    Poco::Data::Session s = impl_->db.session();
    std::size_t count = DeliveryStore(s).replay(consumer, eventId);
    impl_->metrics.counters.deadLetters -= static_cast<std::int64_t>(count);
    if (count > 0) impl_->replayRequested = true;
    return count;
}

}  // namespace hub::events
