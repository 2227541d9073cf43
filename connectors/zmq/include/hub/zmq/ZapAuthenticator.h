#pragma once

#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace hub::zmq {

/// A CURVE client the ZAP handler admits.
struct ZapPeer {
    std::string publicKey;          ///< Z85, 40 characters.
    std::string name;               ///< Handed to the socket as the connection's User-Id.
    std::set<std::string> domains;  ///< ZAP domains (sockets) it may connect to; empty: every one.
};

/// A ZAP (RFC 27) handler for one ZeroMQ context: a thread answering on
/// inproc://zeromq.zap.01 that admits a CURVE client only if its public key is
/// listed (and, for a peer with domains, only on those sockets), and refuses
/// every other mechanism (except NULL when `allowNull` is set, for sockets that
/// do not use CURVE on the same context).
///
/// An admitted connection carries the peer's name as its User-Id: every message
/// received on it has the "User-Id" property (see receiveFrames()), so a server
/// knows which peer sent what without trusting the message.
///
/// Construct it before binding the CURVE server sockets of the context: libzmq
/// admits every client when no handler is bound. One per context; the destructor
/// stops the thread. Refusals are logged (logger "hub.zmq", at most once a minute
/// per key) and counted.
class ZapAuthenticator {
public:
    ZapAuthenticator(::zmq::context_t& context, std::vector<ZapPeer> peers, bool allowNull = false);
    /// Admits these keys on every domain; each key is its own User-Id.
    ZapAuthenticator(::zmq::context_t& context, const std::set<std::string>& allowedPublicKeys,
                     bool allowNull = false);
    ~ZapAuthenticator();

    ZapAuthenticator(const ZapAuthenticator&) = delete;
    ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;

    /// Adds (or replaces) a peer; takes effect for the next handshake.
    void allow(const ZapPeer& peer);
    /// Adds a key on every domain, named by itself.
    void allow(const std::string& publicKey);

    /// Removes a key; established connections stay up until they reconnect.
    void revoke(const std::string& publicKey);

    /// Handshakes accepted and refused so far.
    std::uint64_t accepted() const { return accepted_.load(); }
    std::uint64_t refused() const { return refused_.load(); }

private:
    void run();
    void serveOne();

    ::zmq::socket_t socket_;
    mutable std::mutex mutex_;
    std::map<std::string, ZapPeer> peers_;  // by public key
    bool allowNull_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> accepted_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::map<std::string, std::chrono::steady_clock::time_point> lastLogged_;  // handler thread only
    std::thread thread_;
};

}  // namespace hub::zmq
