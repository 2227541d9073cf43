#pragma once

#include <zmq.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace hub::zmq {

/// A ZAP (RFC 27) handler for one ZeroMQ context: a thread answering on
/// inproc://zeromq.zap.01 that admits a CURVE client only if its public key is in
/// the allowed set, and refuses every other mechanism (except NULL when
/// `allowNull` is set, for sockets that do not use CURVE on the same context).
///
/// Construct it before binding the CURVE server sockets of the context: libzmq
/// admits every client when no handler is bound. One per context; the destructor
/// stops the thread.
class ZapAuthenticator {
public:
    ZapAuthenticator(::zmq::context_t& context, std::set<std::string> allowedPublicKeys,
                     bool allowNull = true);
    ~ZapAuthenticator();

    ZapAuthenticator(const ZapAuthenticator&) = delete;
    ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

    /// Adds a Z85 public key to the allowed set (takes effect for the next handshake).
    void allow(const std::string& publicKey);

    /// Removes a key; established connections stay up until they reconnect.
    void revoke(const std::string& publicKey);

    /// Handshakes accepted and refused so far.
    std::uint64_t accepted() const { return accepted_.load(); }
    std::uint64_t refused() const { return refused_.load(); }

private:
    void run();

    ::zmq::socket_t socket_;
    mutable std::mutex mutex_;
    std::set<std::string> allowed_;
    bool allowNull_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> accepted_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::thread thread_;
};

}  // namespace hub::zmq
