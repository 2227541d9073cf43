#include "hub/zmq/ZapAuthenticator.h"

#include "hub/zmq/Frames.h"

#include <array>

namespace hub::zmq {

ZapAuthenticator::ZapAuthenticator(::zmq::context_t& context,
                                   std::set<std::string> allowedPublicKeys, bool allowNull)
    : socket_(context, ::zmq::socket_type::rep),
      allowed_(std::move(allowedPublicKeys)),
      allowNull_(allowNull) {
    socket_.set(::zmq::sockopt::linger, 0);
    // Bound here, on the constructing thread, so no CURVE server of this context
    // can accept a handshake before the handler exists.
    socket_.bind("inproc://zeromq.zap.01");
    thread_ = std::thread([this] { run(); });
}

ZapAuthenticator::~ZapAuthenticator() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void ZapAuthenticator::allow(const std::string& publicKey) {
    std::lock_guard lock(mutex_);
    allowed_.insert(publicKey);
}

void ZapAuthenticator::revoke(const std::string& publicKey) {
    std::lock_guard lock(mutex_);
    allowed_.erase(publicKey);
}

void ZapAuthenticator::run() {
    std::vector<::zmq::pollitem_t> items{{socket_.handle(), 0, ZMQ_POLLIN, 0}};
    while (!stop_) {
        try {
            ::zmq::poll(items, std::chrono::milliseconds(50));
        } catch (const ::zmq::error_t&) {
            continue;  // EINTR
        }
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        auto request = receiveFrames(socket_, true);
        if (!request) continue;
        // RFC 27: version, request id, domain, address, identity, mechanism, credentials...
        const Frames& r = *request;
        std::string version = r.size() > 0 ? r[0] : "";
        std::string requestId = r.size() > 1 ? r[1] : "";
        std::string mechanism = r.size() > 5 ? r[5] : "";
        bool ok = false;
        std::string reason = "unsupported mechanism";
        if (version != "1.0") {
            reason = "bad ZAP version";
        } else if (mechanism == "CURVE" && r.size() > 6 && r[6].size() == 32) {
            std::array<char, 41> z85{};
            zmq_z85_encode(z85.data(), reinterpret_cast<const std::uint8_t*>(r[6].data()), 32);
            std::lock_guard lock(mutex_);
            ok = allowed_.count(z85.data()) > 0;
            reason = ok ? "OK" : "unknown client public key";
        } else if (mechanism == "NULL" && allowNull_) {
            ok = true;
            reason = "OK";
        }
        (ok ? accepted_ : refused_)++;
        sendFrames(socket_, {"1.0", requestId, ok ? "200" : "400", reason, "", ""}, false);
    }
}

}  // namespace hub::zmq
