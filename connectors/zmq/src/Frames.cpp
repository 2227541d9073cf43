#include "hub/zmq/Frames.h"

namespace hub::zmq {

namespace {

template <typename Range>
bool sendRange(::zmq::socket_t& socket, const Range& frames, bool dontWait) {
    std::size_t n = frames.size();
    std::size_t i = 0;
    for (const auto& f : frames) {
        auto flags = ::zmq::send_flags::none;
        if (++i < n) flags = flags | ::zmq::send_flags::sndmore;
        if (dontWait) flags = flags | ::zmq::send_flags::dontwait;
        // Only the first frame can fail with EAGAIN: once a multipart message has
        // started, libzmq queues the rest atomically.
        auto sent = socket.send(::zmq::const_buffer(f.data(), f.size()), flags);
        if (!sent) return false;
    }
    return true;
}

}  // namespace

bool sendFrames(::zmq::socket_t& socket, const Frames& frames, bool dontWait) {
    return sendRange(socket, frames, dontWait);
}

bool sendFrames(::zmq::socket_t& socket, std::initializer_list<std::string_view> frames,
                bool dontWait) {
    return sendRange(socket, frames, dontWait);
}

std::optional<Frames> receiveFrames(::zmq::socket_t& socket, bool dontWait, std::string* userId) {
    Frames frames;
    ::zmq::message_t msg;
    auto flags = dontWait ? ::zmq::recv_flags::dontwait : ::zmq::recv_flags::none;
    try {
        if (!socket.recv(msg, flags)) return std::nullopt;
        if (userId) userId->clear();
        // Set by libzmq from the ZAP reply on the frames that came over the wire;
        // NULL on a ROUTER's own routing-id frame and without a ZAP handler.
        auto noteUserId = [&] {
            if (!userId || !userId->empty()) return;
            if (const char* id = zmq_msg_gets(msg.handle(), "User-Id")) userId->assign(id);
        };
        noteUserId();
        frames.emplace_back(msg.to_string());
        while (msg.more()) {
            // The rest of a multipart message is already here; never blocks.
            (void)socket.recv(msg, ::zmq::recv_flags::none);
            noteUserId();
            frames.emplace_back(msg.to_string());
        }
    } catch (const ::zmq::error_t& e) {
        if (e.num() == EINTR) return std::nullopt;
        throw;
    }
    return frames;
}

std::string boundEndpoint(::zmq::socket_t& socket) {
    return socket.get(::zmq::sockopt::last_endpoint);
}

void applyDefaultOptions(::zmq::socket_t& socket, int maxReconnectMs) {
    socket.set(::zmq::sockopt::linger, 0);
    socket.set(::zmq::sockopt::tcp_keepalive, 1);
    socket.set(::zmq::sockopt::heartbeat_ivl, 1000);
    socket.set(::zmq::sockopt::heartbeat_timeout, 5000);
    socket.set(::zmq::sockopt::reconnect_ivl, 100);
    socket.set(::zmq::sockopt::reconnect_ivl_max, maxReconnectMs);
}

}  // namespace hub::zmq
