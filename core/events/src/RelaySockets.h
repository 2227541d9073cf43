#pragma once

#include "hub/events/RelayConfig.h"

#include <hub/zmq/Curve.h>
#include <hub/zmq/ZapAuthenticator.h>

#include <zmq.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hub::events {

/// Every ZeroMQ socket of one relay run, made, secured and bound or connected by
/// the constructor (Relay::start()), closed by the destructor (Relay::stop()).
///
/// With CURVE (the default) it loads the hub's key pair, or makes it at first
/// start; a ZAP handler admits on the inbound and publish sockets only the peers
/// listed by key, each on its own sockets, and names each connection by its
/// peer; each consumer's DEALER trusts only that consumer's key. Without CURVE
/// it says loudly that nothing is authenticated. Errors name the configuration
/// key (and the endpoint or file); nothing is left open after one.
class RelaySockets {
public:
    RelaySockets(::zmq::context_t& context, const RelayConfig& config);

    RelaySockets(const RelaySockets&) = delete;
    RelaySockets& operator=(const RelaySockets&) = delete;

    /// Replaces consumer `index`'s DEALER with a new connection, in place (the
    /// socket_t object stays, its handle changes): what the old one still
    /// queued is dropped. For a hub that stops delivering to that consumer
    /// (another hub took its lease): nothing it sent may arrive later.
    void reconnectConsumer(std::size_t index);

    /// The ZAP handler (CURVE only); first made, last closed.
    std::unique_ptr<hub::zmq::ZapAuthenticator> zap;
    /// One DEALER per RelayConfig::consumers entry, in order, connected.
    std::vector<std::unique_ptr<::zmq::socket_t>> consumers;
    /// The PUB fan-out and the inbound ROUTER, when configured.
    std::unique_ptr<::zmq::socket_t> publish;
    std::unique_ptr<::zmq::socket_t> inbound;
    /// An inproc pair: the committer wakes the delivery thread's poll through it.
    std::unique_ptr<::zmq::socket_t> wakeSend;
    std::unique_ptr<::zmq::socket_t> wakeReceive;
    /// The bound endpoints, the port resolved (empty if not configured).
    std::string publishEndpoint;
    std::string inboundEndpoint;

private:
    void admitPeers();
    void connectConsumer(std::size_t index);
    std::unique_ptr<::zmq::socket_t> makeConsumerSocket(std::size_t index);
    void bindPublish();
    void bindInbound();
    void pairWake();

    ::zmq::context_t& context_;
    const RelayConfig& cfg_;
    hub::zmq::CurveKeyPair hubKeys_;
    std::map<std::string, std::string> keyByPeer_;  // peer name -> public key
};

}  // namespace hub::events
