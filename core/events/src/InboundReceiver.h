#pragma once

#include "MetricsBoard.h"

#include "hub/events/Relay.h"

#include <hub/store/Database.h>
#include <hub/zmq/Frames.h>

#include <Poco/Data/Session.h>

#include <atomic>
#include <optional>
#include <string>

namespace hub::events {

/// The inbound thread: takes the events peers send to the hub's ROUTER socket
/// and answers each message exactly once. What is malformed, oversized, of a
/// type not accepted inbound, or from a connection no peer vouched for is
/// refused with a nack naming why; the rest is applied exactly once: its id goes
/// into events_inbox in the same transaction as the InboundHandler's changes, so
/// a repeated id changes nothing and is acked as a duplicate. A store failure
/// (full disk, locked, unreachable) is refused as "unavailable: ..." so the
/// sender sends it again later; any other failure as "not applied: ...".
class InboundReceiver {
public:
    InboundReceiver(hub::store::Database& db, const RelayConfig& config, const InboundHandler& onInbound,
                    ::zmq::socket_t& socket, RelayCounters& counters, const std::atomic<bool>& stopping)
        : db_(db), cfg_(config), onInbound_(onInbound), socket_(socket), counters_(counters), stopping_(stopping) {}

    /// The thread's body: polls the socket until `stopping`, renewing its
    /// session at every round; survives every error.
    void run();

private:
    /// Answers one message [routing id, (event id,) event JSON] from the peer
    /// the ZAP handler named `userId`.
    void handle(Poco::Data::Session& s, const hub::zmq::Frames& frames, const std::string& userId);
    /// The checks before the store: the event, or nullopt once refused.
    std::optional<CloudEvent> admit(const std::string& routing, const hub::zmq::Frames& frames,
                                    const std::string& userId);
    /// Records the id and applies the event in one transaction, then answers.
    void apply(Poco::Data::Session& s, const std::string& routing, const CloudEvent& event, const InboundPeer& peer);
    void refuse(const std::string& routing, const std::string& id, const std::string& userId,
                const std::string& reason);

    hub::store::Database& db_;
    const RelayConfig& cfg_;
    const InboundHandler& onInbound_;
    ::zmq::socket_t& socket_;
    RelayCounters& counters_;
    const std::atomic<bool>& stopping_;
};

}  // namespace hub::events
