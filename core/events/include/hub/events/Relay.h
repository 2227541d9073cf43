#pragma once

#include "hub/events/CloudEvent.h"
#include "hub/events/RelayConfig.h"

#include <hub/store/Database.h>

#include <Poco/Data/Session.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hub::events {

/// Applies an inbound event (e.g. approval.decided) to the hub's state. Called
/// inside an open transaction on `session` that also records the event id in
/// events_inbox; the Relay commits after it returns, or rolls back if it throws
/// (the sender gets a nack with the exception's message and will retry). It may
/// append events to the outbox on the same session. Runs on the relay's inbound
/// thread, one event at a time.
using InboundHandler = std::function<void(Poco::Data::Session& session, const CloudEvent& event)>;

/// Per-consumer figures, a snapshot.
struct ConsumerMetrics {
    std::string name;
    std::int64_t cursor = 0;            ///< Every event up to this outbox seq is settled.
    std::int64_t depth = 0;             ///< Events not yet settled for this consumer.
    std::int64_t inFlight = 0;          ///< Sent and not yet durably settled.
    double oldestUndeliveredAgeSeconds = 0;
    std::uint64_t deliveries = 0;       ///< Acknowledged sends (since start).
    std::uint64_t retries = 0;          ///< Failed sends rescheduled (timeouts, nacks).
    std::uint64_t deadLettered = 0;     ///< Events moved to the dead letter store (since start).
};

/// A snapshot of the relay's figures. Counters count since start(); depth, age
/// and deadLetters are current.
struct RelayMetrics {
    std::int64_t outboxDepth = 0;       ///< Largest consumer depth.
    double oldestUndeliveredAgeSeconds = 0;
    std::uint64_t deliveries = 0;
    std::uint64_t retries = 0;
    std::uint64_t deadLetters = 0;      ///< Rows in the dead letter store now.
    std::uint64_t published = 0;        ///< Sent on the PUB socket.
    std::uint64_t inboundAccepted = 0;  ///< Applied by the InboundHandler.
    std::uint64_t inboundDuplicates = 0;///< Repeated ids, acked and ignored.
    std::uint64_t inboundRefused = 0;   ///< Malformed, oversized, unknown type, handler failed.
    std::vector<ConsumerMetrics> consumers;
};

/// An event a consumer did not acknowledge within its maxAttempts.
struct DeadLetter {
    std::string consumer;
    std::int64_t seq = 0;
    std::string id;
    std::string type;
    std::string subject;
    int attempts = 0;
    std::string lastError;
    std::int64_t deadAt = 0;  ///< ms since the epoch
    std::string payload;      ///< The event JSON (empty if pruned from the outbox).
};

/// Relays the outbox over ZeroMQ: reliable delivery to the configured consumers
/// (at-least-once, acknowledged per event, in order per subject, bounded window,
/// retries with exponential backoff, dead letters), best-effort fan-out on a PUB
/// socket, and an inbound socket whose events are applied exactly once.
///
/// Lifecycle: construct (migrates the "events" schema), start() binds the inbound
/// and publish sockets and starts its threads (delivery, which only reads the
/// database; a committer for delivery state; inbound); stop() (or the destructor)
/// stops them, committing what was acknowledged. Delivery state lives in the database,
/// so a restart (or a crash) resumes where the last commit left off. Thread-safe:
/// metrics(), deadLetters() and replay() may be called from any thread.
class Relay {
public:
    Relay(hub::store::Database& db, RelayConfig config, InboundHandler onInbound = {});
    ~Relay();

    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    /// Binds and starts. Throws (zmq::error_t, Poco exceptions) if an endpoint
    /// cannot be bound or a CURVE key file is bad; nothing is left running then.
    void start();

    /// Stops the threads and commits acknowledged deliveries. Idempotent.
    void stop();

    bool running() const;

    /// The bound inbound / publish endpoints, with the port resolved when the
    /// config said tcp://host:* (empty if not configured). Valid after start().
    std::string inboundEndpoint() const;
    std::string publishEndpoint() const;

    /// A snapshot of the figures (refreshed by the relay thread about every 100 ms).
    RelayMetrics metrics() const;

    /// Dead letters, oldest first; `consumer` empty means all consumers.
    std::vector<DeadLetter> deadLetters(const std::string& consumer = {}, std::size_t limit = 100,
                                        std::size_t offset = 0) const;

    /// Moves dead letters of `consumer` back to delivery: the one with `eventId`,
    /// or all of them if `eventId` is empty. Attempts restart at 0; replayed events
    /// are sent without waiting for their subject's order. Returns how many.
    std::size_t replay(const std::string& consumer, const std::string& eventId = {});

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hub::events
