#include "RelaySockets.h"

#include "RelayThreads.h"

#include <hub/zmq/Frames.h>

#include <algorithm>
#include <cstdint>
#include <set>

namespace hub::events {

namespace {

// The key of peer `i`, read now if it lives in a file; errors name the config key.
std::string peerKey(const PeerConfig& p, std::size_t i) {
    if (!p.publicKey.empty()) return p.publicKey;
    try {
        return hub::zmq::readKeyFile(p.publicKeyFile);
    } catch (const Poco::Exception& e) {
        throw Poco::InvalidArgumentException("events.peers.peer[" + std::to_string(i) + "].publicKeyFile (" + p.name +
                                             "): " + e.displayText());
    }
}

// Binds or connects `socket`; a failure names the configuration key and the endpoint.
void attach(::zmq::socket_t& socket, const std::string& endpoint, const std::string& key, bool bind) {
    try {
        if (bind)
            socket.bind(endpoint);
        else
            socket.connect(endpoint);
    } catch (const ::zmq::error_t& e) {
        throw Poco::IOException(key + " = " + endpoint + ": cannot " + (bind ? "bind" : "connect") + ": " + e.what());
    }
}

}  // namespace

RelaySockets::RelaySockets(::zmq::context_t& context, const RelayConfig& config) : context_(context), cfg_(config) {
    admitPeers();
    for (std::size_t i = 0; i < cfg_.consumers.size(); ++i) connectConsumer(i);
    if (!cfg_.publishEndpoint.empty()) bindPublish();
    pairWake();
    if (!cfg_.inboundEndpoint.empty()) bindInbound();
}

// The hub's key pair and the ZAP handler, before any CURVE server binds:
// libzmq admits everyone when no handler is bound.
void RelaySockets::admitPeers() {
    if (!cfg_.curve.enabled) {
        logger().critical(
            "events.curve.enabled = false: the relay's sockets are NOT authenticated nor encrypted. "
            "Anyone who can reach %s may send decisions the hub applies, and anyone may read events; "
            "remove the opt-out to require listed peers (events.peers)",
            cfg_.inboundEndpoint.empty() ? std::string("the endpoints") : cfg_.inboundEndpoint);
        return;
    }
    // Without key files (allowed only when the relay has no socket) there is
    // nothing to encrypt; hubd always names them, so its pair is made at first start.
    if (cfg_.curve.secretKeyFile.empty()) return;
    bool created = false;
    try {
        hubKeys_ = hub::zmq::loadOrCreateKeyPair(cfg_.curve.publicKeyFile, cfg_.curve.secretKeyFile, &created);
    } catch (const Poco::Exception& e) {
        throw Poco::InvalidArgumentException("events.curve (the hub's key pair): " + e.displayText());
    }
    if (created)
        logger().notice(
            "made the hub's CURVE key pair: public key %s (in %s, secret key in %s); "
            "give the public key to every peer",
            hubKeys_.publicKey, cfg_.curve.publicKeyFile, cfg_.curve.secretKeyFile);
    else if (hub::zmq::isReadableByOthers(cfg_.curve.secretKeyFile))
        logger().warning("the hub's CURVE secret key %s is readable by other users: chmod 600 it",
                         cfg_.curve.secretKeyFile);
    std::vector<hub::zmq::ZapPeer> admitted;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < cfg_.peers.size(); ++i) {
        const auto& p = cfg_.peers[i];
        hub::zmq::ZapPeer z{peerKey(p, i), p.name, {}};
        if (!seen.insert(z.publicKey).second)
            throw Poco::InvalidArgumentException("events.peers.peer[" + std::to_string(i) + "] (" + p.name +
                                                 ") has another peer's key: each peer needs its own");
        for (const auto& socket : p.sockets) z.domains.insert("events." + socket);
        keyByPeer_[p.name] = z.publicKey;
        // A peer with no sockets is a consumer only: known by its key, admitted nowhere.
        if (!z.domains.empty()) admitted.push_back(std::move(z));
    }
    zap = std::make_unique<hub::zmq::ZapAuthenticator>(context_, std::move(admitted), false);
    if (cfg_.peers.empty() && (!cfg_.inboundEndpoint.empty() || !cfg_.publishEndpoint.empty()))
        logger().warning("no events.peers are listed: nobody can connect to the inbound or publish socket");
}

void RelaySockets::connectConsumer(std::size_t index) { consumers.push_back(makeConsumerSocket(index)); }

void RelaySockets::reconnectConsumer(std::size_t index) {
    auto fresh = makeConsumerSocket(index);
    consumers[index]->set(::zmq::sockopt::linger, 0);
    *consumers[index] = std::move(*fresh);  // closes the old socket: what it still queued is gone
}

std::unique_ptr<::zmq::socket_t> RelaySockets::makeConsumerSocket(std::size_t index) {
    const auto& cc = cfg_.consumers[index];
    std::string key = "events.consumers.consumer[" + std::to_string(index) + "]";
    auto socket = std::make_unique<::zmq::socket_t>(context_, ::zmq::socket_type::dealer);
    hub::zmq::applyDefaultOptions(*socket);
    // Sends fail at once while the consumer is not connected, instead of
    // queueing into a pipe that may never reach it: a consumer that is down
    // costs no attempts, only a consumer that does not ack does.
    socket->set(::zmq::sockopt::immediate, 1);
    socket->set(::zmq::sockopt::sndhwm, static_cast<int>(std::max<std::size_t>(1000, cc.window * 2)));
    if (cfg_.curve.enabled) {
        std::string serverKey = cc.serverPublicKey;
        if (serverKey.empty() && !cc.serverPublicKeyFile.empty()) {
            try {
                serverKey = hub::zmq::readKeyFile(cc.serverPublicKeyFile);
            } catch (const Poco::Exception& e) {
                throw Poco::InvalidArgumentException(key + ".serverPublicKeyFile (" + cc.name +
                                                     "): " + e.displayText());
            }
        }
        if (serverKey.empty()) serverKey = keyByPeer_[cc.peer.empty() ? cc.name : cc.peer];
        hub::zmq::makeCurveClient(*socket, hubKeys_, serverKey);
    }
    attach(*socket, cc.endpoint, key + ".endpoint", false);
    return socket;
}

void RelaySockets::bindPublish() {
    publish = std::make_unique<::zmq::socket_t>(context_, ::zmq::socket_type::pub);
    hub::zmq::applyDefaultOptions(*publish);
    publish->set(::zmq::sockopt::sndhwm, 10000);
    if (cfg_.curve.enabled) hub::zmq::makeCurveServer(*publish, hubKeys_, "events.publish");
    attach(*publish, cfg_.publishEndpoint, "events.publish.endpoint", true);
    publishEndpoint = hub::zmq::boundEndpoint(*publish);
}

void RelaySockets::bindInbound() {
    inbound = std::make_unique<::zmq::socket_t>(context_, ::zmq::socket_type::router);
    hub::zmq::applyDefaultOptions(*inbound);
    // Oversized events up to 4x the limit get a nack; beyond that the sender
    // is hostile or broken and libzmq drops its connection.
    inbound->set(::zmq::sockopt::maxmsgsize, static_cast<int64_t>(cfg_.maxEventBytes * 4 + 4096));
    if (cfg_.curve.enabled) hub::zmq::makeCurveServer(*inbound, hubKeys_, "events.inbound");
    attach(*inbound, cfg_.inboundEndpoint, "events.inbound.endpoint", true);
    inboundEndpoint = hub::zmq::boundEndpoint(*inbound);
}

void RelaySockets::pairWake() {
    std::string wake = "inproc://hub.events.wake." + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    wakeReceive = std::make_unique<::zmq::socket_t>(context_, ::zmq::socket_type::pair);
    wakeReceive->set(::zmq::sockopt::linger, 0);
    wakeReceive->bind(wake);
    wakeSend = std::make_unique<::zmq::socket_t>(context_, ::zmq::socket_type::pair);
    wakeSend->set(::zmq::sockopt::linger, 0);
    wakeSend->connect(wake);
}

}  // namespace hub::events
