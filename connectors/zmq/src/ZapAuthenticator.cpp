#include "hub/zmq/ZapAuthenticator.h"

#include "hub/zmq/Frames.h"

#include <Poco/Logger.h>

#include <array>

namespace hub::zmq {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("hub.zmq"); }

std::vector<ZapPeer> peersOf(const std::set<std::string>& keys) {
    std::vector<ZapPeer> out;
    for (const auto& k : keys) out.push_back({k, k, {}});
    return out;
}

}  // namespace

ZapAuthenticator::ZapAuthenticator(::zmq::context_t& context, std::vector<ZapPeer> peers, bool allowNull)
    : socket_(context, ::zmq::socket_type::rep), allowNull_(allowNull) {
    for (auto& p : peers) peers_[p.publicKey] = std::move(p);
    socket_.set(::zmq::sockopt::linger, 0);
    // Bound here, on the constructing thread, so no CURVE server of this context
    // can accept a handshake before the handler exists.
    socket_.bind("inproc://zeromq.zap.01");
    thread_ = std::thread([this] { run(); });
}

ZapAuthenticator::ZapAuthenticator(::zmq::context_t& context, const std::set<std::string>& allowedPublicKeys,
                                   bool allowNull)
    : ZapAuthenticator(context, peersOf(allowedPublicKeys), allowNull) {}

ZapAuthenticator::~ZapAuthenticator() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void ZapAuthenticator::allow(const ZapPeer& peer) {
    std::lock_guard lock(mutex_);
    peers_[peer.publicKey] = peer;
}

void ZapAuthenticator::allow(const std::string& publicKey) { allow(ZapPeer{publicKey, publicKey, {}}); }

void ZapAuthenticator::revoke(const std::string& publicKey) {
    std::lock_guard lock(mutex_);
    peers_.erase(publicKey);
}

void ZapAuthenticator::run() {
    // Every handshake of the context waits on this thread: it must outlive any
    // error, or every CURVE socket of the process stops admitting anyone.
    int failures = 0;
    while (!stop_) {
        try {
            serveOne();
            failures = 0;
        } catch (const std::exception& e) {
            logger().error("ZAP handler error (continuing): %s", std::string(e.what()));
            ++failures;
        } catch (...) {
            logger().error("ZAP handler error (continuing): unknown exception");
            ++failures;
        }
        if (failures) std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 10 << std::min(failures, 7))));
    }
}

void ZapAuthenticator::serveOne() {
    std::vector<::zmq::pollitem_t> items{{socket_.handle(), 0, ZMQ_POLLIN, 0}};
    try {
        ::zmq::poll(items, std::chrono::milliseconds(50));
    } catch (const ::zmq::error_t& e) {
        if (e.num() == EINTR) return;
        throw;
    }
    if (!(items[0].revents & ZMQ_POLLIN)) return;
    auto request = receiveFrames(socket_, true);
    if (!request) return;
    // RFC 27: version, request id, domain, address, identity, mechanism, credentials...
    const Frames& r = *request;
    std::string version = r.size() > 0 ? r[0] : "";
    std::string requestId = r.size() > 1 ? r[1] : "";
    std::string domain = r.size() > 2 ? r[2] : "";
    std::string address = r.size() > 3 ? r[3] : "";
    std::string mechanism = r.size() > 5 ? r[5] : "";
    bool ok = false;
    std::string userId;
    std::string reason = "unsupported mechanism";
    std::string who = mechanism.empty() ? std::string("(none)") : mechanism.substr(0, 16);
    if (version != "1.0") {
        reason = "bad ZAP version";
    } else if (mechanism == "CURVE" && r.size() > 6 && r[6].size() == 32) {
        std::array<char, 41> z85{};
        zmq_z85_encode(z85.data(), reinterpret_cast<const std::uint8_t*>(r[6].data()), 32);
        who = std::string("CURVE key ") + z85.data();
        std::lock_guard lock(mutex_);
        auto peer = peers_.find(z85.data());
        if (peer == peers_.end()) {
            reason = "unknown client public key";
        } else if (!peer->second.domains.empty() && !peer->second.domains.count(domain)) {
            reason = "peer '" + peer->second.name + "' may not connect to " + domain;
        } else {
            ok = true;
            userId = peer->second.name;
            reason = "OK";
        }
    } else if (mechanism == "NULL" && allowNull_) {
        ok = true;
        reason = "OK";
    }
    (ok ? accepted_ : refused_)++;
    if (!ok) {
        // Clients retry their handshake every few seconds: one line per client a
        // minute is enough to see who is knocking.
        auto now = std::chrono::steady_clock::now();
        auto& last = lastLogged_[who + address];
        if (last.time_since_epoch().count() == 0 || now - last >= std::chrono::minutes(1)) {
            last = now;
            logger().warning("refused %s from %s on %s: %s", who, address, domain, reason);
        }
        if (lastLogged_.size() > 10000) lastLogged_.clear();
    }
    sendFrames(socket_, {"1.0", requestId, ok ? "200" : "400", reason, userId, ""}, false);
}

}  // namespace hub::zmq
