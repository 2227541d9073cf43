#pragma once

#include "hub/events/CloudEvent.h"

#include <Poco/Util/AbstractConfiguration.h>

#include <cstddef>
#include <string>
#include <vector>

namespace hub::events {

/// One named consumer that receives events reliably. The consumer binds a ROUTER
/// socket at `endpoint`; the hub connects to it (see docs/events/README.md).
struct ConsumerConfig {
    std::string name;                ///< Unique, stable: delivery state is kept under it.
    std::string endpoint;            ///< e.g. tcp://127.0.0.1:5601
    std::vector<std::string> types;  ///< Type prefixes it wants; empty = every event.
    int maxAttempts = 10;            ///< Sends without an ack before the event is dead-lettered.
    int ackTimeoutMs = 10000;        ///< An unacknowledged send counts as failed after this.
    int backoffInitialMs = 500;      ///< Wait before the 2nd attempt; doubles each time...
    int backoffMaxMs = 300000;       ///< ...up to this.
    std::size_t window = 1000;       ///< Events sent but not yet durably settled, at most.
    std::string serverPublicKeyFile; ///< With CURVE: the consumer's public key.

    /// True if an event of `type` goes to this consumer.
    bool wants(const std::string& type) const;
};

/// CurveZMQ for every relay socket. The hub is the CURVE server of its inbound
/// and publish sockets (clients must hold a key listed in authorizedKeysFile) and
/// a CURVE client of each consumer (which must hold serverPublicKeyFile's key).
struct CurveConfig {
    bool enabled = false;
    std::string publicKeyFile;       ///< The hub's own key pair (Z85 text files).
    std::string secretKeyFile;
    std::string authorizedKeysFile;  ///< Client public keys allowed in, one per line.
};

/// Everything the Relay needs; see fromConfiguration() for the keys.
struct RelayConfig {
    std::vector<ConsumerConfig> consumers;
    std::string publishEndpoint;     ///< PUB for best-effort fan-out; empty = none.
    std::string inboundEndpoint;     ///< ROUTER for events sent to the hub; empty = none.
    std::vector<std::string> inboundTypes{std::string(EventType::ApprovalDecided)};
    CurveConfig curve;
    int pollIntervalMs = 2;          ///< How often the outbox is read when idle.
    std::size_t batchSize = 500;     ///< Outbox rows read per query.
    int flushIntervalMs = 20;        ///< Delivered marks are committed this often (sooner under load).
    std::size_t maxEventBytes = CloudEvent::DefaultMaxBytes;
    int retentionHours = 168;        ///< Settled events older than this are deleted; 0 = keep.

    /// Reads a configuration subtree (the view at "events"), keys relative to it:
    ///
    ///     consumers.consumer[i].name / .endpoint / .types (comma-separated prefixes)
    ///         / .maxAttempts / .ackTimeoutMs / .backoffInitialMs / .backoffMaxMs
    ///         / .window / .serverPublicKeyFile
    ///     publish.endpoint
    ///     inbound.endpoint, inbound.types (comma-separated, default approval.decided)
    ///     curve.enabled, curve.publicKeyFile, curve.secretKeyFile, curve.authorizedKeysFile
    ///     relay.pollIntervalMs, relay.batchSize, relay.flushIntervalMs,
    ///     relay.maxEventBytes, relay.retentionHours
    ///
    /// Missing keys take the defaults above. Throws Poco::InvalidArgumentException
    /// naming the key for a bad value (validate()).
    static RelayConfig fromConfiguration(const Poco::Util::AbstractConfiguration& events);

    /// Throws Poco::InvalidArgumentException for a duplicate or empty consumer name,
    /// an empty endpoint, a value out of range, or CURVE without its key files.
    void validate() const;
};

}  // namespace hub::events
