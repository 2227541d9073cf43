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

/// Who sent an inbound event, as the transport established it: never what the
/// event says about itself.
struct InboundPeer {
    /// The name its CURVE key is listed under (events.peers); empty without CURVE.
    std::string name;
    /// False only under the NULL-mechanism opt-out (events.curve.enabled = false):
    /// then anyone who reached the endpoint may have sent it.
    bool authenticated = false;
};

/// Applies an inbound event (e.g. approval.decided) to the hub's state. Called
/// inside an open transaction on `session` that also records the event id in
/// events_inbox; the Relay commits after it returns, or rolls back if it throws
/// (the sender gets a nack: "unavailable: ..." when the store failed, so it retries
/// later, else "not applied: " and the exception's message). It may append events
/// to the outbox on the same session. Runs on the relay's inbound thread, one event
/// at a time. Whoever acted is `peer`, not a field of the event.
using InboundHandler =
    std::function<void(Poco::Data::Session& session, const CloudEvent& event, const InboundPeer& peer)>;

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
    /// This hub delivers to the consumer now (several hubs: it holds the
    /// consumer's lease; always true on SQLite). Depth and age are 0 when not.
    bool delivering = true;
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
    std::uint64_t inboundRefused = 0;   ///< Every nack: malformed, oversized, unknown type, not applied, unavailable.
    std::uint64_t inboundUnavailable = 0;  ///< Of those, "unavailable": the store failed (disk full, locked); the sender retries.
    std::uint64_t handshakesRefused = 0;   ///< CURVE clients the ZAP handler turned away (unknown key, wrong socket).
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
/// so a restart (or a crash) resumes where the last commit left off.
///
/// Several hubs on one PostgreSQL store each run a Relay: every consumer is
/// delivered by one of them at a time, the holder of the store lease
/// leaseName(consumer) (renewed every leaseTtlMs/3; a hub that dies is
/// replaced once its lease ran out), which resumes from the delivery state in
/// the store; events become readable in commit order there too (the outbox
/// horizon). Inbound events are applied once across all hubs (the primary
/// key of events_inbox). On SQLite (one hub) there is no lease. Thread-safe:
/// metrics(), deadLetters() and replay() may be called from any thread.
class Relay {
public:
    Relay(hub::store::Database& db, RelayConfig config, InboundHandler onInbound = {});
    ~Relay();

    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    /// Binds and starts. With CURVE (the default) makes the hub's key pair first if
    /// neither key file exists. Throws Poco exceptions naming the configuration key
    /// (and the endpoint or file) if an endpoint cannot be bound or connected, or a
    /// CURVE key file is missing or bad; nothing is left running then.
    void start();

    /// Stops the threads and commits acknowledged deliveries. Idempotent.
    void stop();

    bool running() const;

    /// The bound inbound / publish endpoints, with the port resolved when the
    /// config said tcp://host:* (empty if not configured). Valid after start().
    std::string inboundEndpoint() const;
    std::string publishEndpoint() const;

    /// A snapshot of the figures (refreshed by the delivery thread about every 100 ms).
    RelayMetrics metrics() const;

    /// Dead letters, oldest first; `consumer` empty means all consumers.
    std::vector<DeadLetter> deadLetters(const std::string& consumer = {}, std::size_t limit = 100,
                                        std::size_t offset = 0) const;

    /// Moves dead letters of `consumer` back to delivery: the one with `eventId`,
    /// or all of them if `eventId` is empty. Attempts restart at 0; replayed events
    /// are sent without waiting for their subject's order. Returns how many.
    std::size_t replay(const std::string& consumer, const std::string& eventId = {});

    /// The store lease whose holder delivers to `consumer` when several hubs
    /// share a PostgreSQL store: "events.consumer.<name>" (store::Lease).
    static std::string leaseName(const std::string& consumer);

    /// For tests of a hub that dies: ends the relay's threads as a killed
    /// process would, committing nothing more and releasing no lease (they
    /// run out after events.relay.leaseTtlMs, unless the Relay is destroyed
    /// first). The Relay can only be destroyed afterwards.
    void abandon();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hub::events
