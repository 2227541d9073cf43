#pragma once

#include <zmq.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hub::zmq {

/// A multipart message as owned strings: small control frames and JSON payloads,
/// where a copy costs nothing next to the network.
using Frames = std::vector<std::string>;

/// Sends `frames` as one multipart message. With `dontWait`, returns false instead
/// of blocking when the socket cannot take it (no peer, or high-water mark).
/// Throws ::zmq::error_t on real errors.
bool sendFrames(::zmq::socket_t& socket, const Frames& frames, bool dontWait = true);
bool sendFrames(::zmq::socket_t& socket, std::initializer_list<std::string_view> frames,
                bool dontWait = true);

/// Receives one whole multipart message; std::nullopt if none is waiting (with
/// `dontWait`) or the call was interrupted by a signal. With `userId`, also the
/// User-Id the ZAP handler gave the connection the message came on (the CURVE
/// peer's name, see ZapAuthenticator; empty when the socket has no ZAP handler).
std::optional<Frames> receiveFrames(::zmq::socket_t& socket, bool dontWait = true,
                                    std::string* userId = nullptr);

/// The endpoint a socket is bound to, with the port the OS chose for
/// "tcp://127.0.0.1:*" resolved (ZMQ_LAST_ENDPOINT).
std::string boundEndpoint(::zmq::socket_t& socket);

/// Options every long-lived hub socket gets: no linger on close (shutdown must not
/// hang on an absent peer), TCP keepalive, heartbeats to notice dead peers, and a
/// short reconnect interval capped at `maxReconnectMs`.
void applyDefaultOptions(::zmq::socket_t& socket, int maxReconnectMs = 2000);

}  // namespace hub::zmq
