#pragma once

#include "hub/events/CloudEvent.h"

#include <Poco/Util/AbstractConfiguration.h>

#include <cstddef>
#include <string>
#include <vector>

namespace hub::events {

/// The data fields that hold personal data (docs/events/README.md, "Masking"):
/// applicant, submitted_by, actor, name, dn, emails, phones, mail, email,
/// mobile, phone, id_number, bank_account, address, form, result, reason,
/// comment, decidedBy.
std::vector<std::string> defaultPersonalFields();

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
    /// With CURVE the hub trusts only a consumer holding this key (the consumer is the
    /// CURVE server; the hub connects as a client with its own key pair). Taken from,
    /// in order: serverPublicKey (Z85), serverPublicKeyFile, or the peer named `peer`
    /// in RelayConfig::peers (by default the peer of the consumer's own name).
    std::string serverPublicKey;
    std::string serverPublicKeyFile;
    std::string peer;
    /// Personal data it receives in the clear: data fields of personalFields,
    /// or "*" for all. Empty (the default): every personal field is masked
    /// in what it is sent, and mobile numbers, ID numbers and e-mail addresses
    /// in any other text.
    std::vector<std::string> personalData;
    /// The fields that count as personal (RelayConfig's masking.personalFields).
    std::vector<std::string> personalFields = defaultPersonalFields();

    /// True if an event of `type` goes to this consumer.
    bool wants(const std::string& type) const;
};

/// A peer of the hub, named by its CURVE public key. Only listed peers get in on
/// the inbound and publish sockets, and the relay learns from the handshake which
/// peer sent an inbound event: its name, never a name the message claims, is who
/// acted (InboundPeer).
struct PeerConfig {
    std::string name;                ///< Unique; e.g. "approval-engine".
    std::string publicKey;           ///< Z85 (40 characters), or...
    std::string publicKeyFile;       ///< ...a file holding it (read at start()).
    /// The hub's sockets it may connect to: "inbound", "publish". Empty: none (a
    /// consumer only, which the hub connects to and knows by this key).
    std::vector<std::string> sockets{"inbound", "publish"};
};

/// CurveZMQ on every relay socket, on by default. The hub is the CURVE server of
/// its inbound and publish sockets (a ZAP handler admits the keys of `peers` only)
/// and a CURVE client of each consumer (trusting only the consumer's key).
struct CurveConfig {
    /// false is the operator's explicit opt-out: every socket then uses the NULL
    /// mechanism, anyone who can reach an endpoint may send decisions or listen,
    /// and the relay says so in the log at every start.
    bool enabled = true;
    /// The hub's key pair (Z85 text files). start() makes both when neither exists
    /// (secret 0600), and logs the public key for the peers.
    std::string publicKeyFile;
    std::string secretKeyFile;
};
/// Everything the Relay needs; see fromConfiguration() for the keys.
struct RelayConfig {
    std::vector<ConsumerConfig> consumers;
    std::string publishEndpoint;     ///< PUB for best-effort fan-out; empty = none.
    std::string inboundEndpoint;     ///< ROUTER for events sent to the hub; empty = none.
    std::vector<std::string> inboundTypes{std::string(EventType::ApprovalDecided)};
    CurveConfig curve;
    std::vector<PeerConfig> peers;   ///< Who may connect to the inbound and publish sockets.
    int pollIntervalMs = 2;          ///< How often the outbox is read when idle.
    std::size_t batchSize = 500;     ///< Outbox rows read per query.
    int flushIntervalMs = 20;        ///< Delivered marks are committed this often (sooner under load).
    std::size_t maxEventBytes = CloudEvent::DefaultMaxBytes;
    int retentionHours = 168;        ///< Settled events older than this are deleted; 0 = keep.
    /// PostgreSQL (several hubs): the time to live of each consumer's lease;
    /// a hub that dies is replaced as its consumers' leader after about this.
    int leaseTtlMs = 10000;

    /// Reads a configuration subtree (the view at "events"), keys relative to it:
    ///
    ///     consumers.consumer[i].name / .endpoint / .types (comma-separated prefixes)
    ///         / .maxAttempts / .ackTimeoutMs / .backoffInitialMs / .backoffMaxMs
    ///         / .window / .serverPublicKey / .serverPublicKeyFile / .peer
    ///         / .personalData (comma-separated fields given in the clear, or *)
    ///     masking.personalFields (comma-separated; default defaultPersonalFields())
    ///     peers.peer[i][@name] (or .name), .publicKey or .publicKeyFile,
    ///         .sockets (comma-separated: inbound, publish; default both)
    ///     publish.endpoint
    ///     inbound.endpoint, inbound.types (comma-separated, default approval.decided)
    ///     curve.enabled (default true), curve.publicKeyFile, curve.secretKeyFile
    ///     relay.pollIntervalMs, relay.batchSize, relay.flushIntervalMs,
    ///     relay.maxEventBytes, relay.retentionHours, relay.leaseTtlMs
    ///
    /// `stateDirectory` (where the hub keeps its state, e.g. the folder of store.path)
    /// is where the key pair lives unless curve.*KeyFile say otherwise:
    /// hub-curve.key and hub-curve.pub. Missing keys take the defaults above. Throws
    /// Poco::InvalidArgumentException naming the key for a bad value (validate()),
    /// and for curve.authorizedKeysFile, which peers replaced.
    static RelayConfig fromConfiguration(const Poco::Util::AbstractConfiguration& events,
                                         const std::string& stateDirectory = {});

    /// Throws Poco::InvalidArgumentException for a duplicate or empty consumer or peer
    /// name, an empty endpoint, a value out of range, a malformed key, or CURVE
    /// without the hub's key files or a consumer's key.
    void validate() const;
};

}  // namespace hub::events
