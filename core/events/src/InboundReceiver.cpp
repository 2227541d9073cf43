#include "InboundReceiver.h"

#include "DeliveryStore.h"
#include "RelayThreads.h"

#include "hub/common/Exceptions.h"
#include "hub/events/Outbox.h"
#include "hub/store/Database.h"

#include <Poco/Data/DataException.h>
#include <Poco/Data/Statement.h>

#include <algorithm>
#include <cerrno>
#include <vector>

using namespace Poco::Data::Keywords;
using Poco::Int64;

namespace hub::events {

void InboundReceiver::run() {
    Poco::Data::Session s = db_.session();
    std::vector<::zmq::pollitem_t> poll{{socket_.handle(), 0, ZMQ_POLLIN, 0}};
    int failures = 0;
    while (!stopping_) {
        // Nothing may end this thread: the hub would stop hearing decisions.
        try {
            db_.renew(s);  // a store that reopens its sessions after a fault needs this one back
            ::zmq::poll(poll, std::chrono::milliseconds(100));
            std::string userId;
            while (auto frames = hub::zmq::receiveFrames(socket_, true, &userId)) {
                if (frames->empty()) continue;
                handle(s, *frames, userId);
            }
            failures = 0;
            continue;
        } catch (const ::zmq::error_t& e) {
            if (e.num() == EINTR) continue;
            logger().error("inbound socket error (continuing): %s", std::string(e.what()));
        } catch (const std::exception& e) {
            logger().error("inbound error (continuing): %s", std::string(e.what()));
        } catch (...) {
            logger().error("inbound error (continuing): unknown exception");
        }
        pauseAfterFailure(stopping_, ++failures);
    }
}

void InboundReceiver::handle(Poco::Data::Session& s, const hub::zmq::Frames& frames, const std::string& userId) {
    const std::string& routing = frames[0];
    std::optional<CloudEvent> event = admit(routing, frames, userId);
    if (!event) return;
    if (!onInbound_) {
        refuse(routing, event->id, userId, "not applied: the hub has no handler for inbound events");
        return;
    }
    apply(s, routing, *event, InboundPeer{userId, cfg_.curve.enabled});
}

std::optional<CloudEvent> InboundReceiver::admit(const std::string& routing, const hub::zmq::Frames& f,
                                                 const std::string& userId) {
    auto refused = [&](const std::string& id, const std::string& reason) {
        refuse(routing, id, userId, reason);
        return std::nullopt;
    };
    if (cfg_.curve.enabled && userId.empty()) {
        // Cannot happen while the ZAP handler names every peer it admits; refuse
        // rather than apply something nobody vouched for.
        return refused("", "unauthenticated: the connection has no peer name");
    }
    std::string frameId, payload;
    if (f.size() == 2) {
        payload = f[1];
    } else if (f.size() == 3) {
        frameId = f[1];
        payload = f[2];
    } else {
        return refused("", "malformed: expected frames [event id, event JSON], got " + std::to_string(f.size() - 1));
    }
    if (frameId.size() > 256) frameId = frameId.substr(0, 256);
    if (payload.size() > cfg_.maxEventBytes) {
        return refused(frameId, "oversized: " + std::to_string(payload.size()) + " bytes, more than the " +
                                    std::to_string(cfg_.maxEventBytes) + " allowed");
    }
    CloudEvent event;
    try {
        event = CloudEvent::fromJson(payload, cfg_.maxEventBytes);
    } catch (const EventError& e) {
        bool unknownType = e.message().rfind("unknown event type", 0) == 0;
        return refused(frameId, (unknownType ? "unknown type: " : "malformed: ") + e.message());
    }
    if (!frameId.empty() && frameId != event.id)
        return refused(frameId, "malformed: frame id does not match the event id " + event.id);
    if (std::find(cfg_.inboundTypes.begin(), cfg_.inboundTypes.end(), event.type) == cfg_.inboundTypes.end())
        return refused(event.id, "unknown type: " + event.type + " is not accepted inbound");
    return event;
}

void InboundReceiver::apply(Poco::Data::Session& s, const std::string& routing, const CloudEvent& event,
                            const InboundPeer& peer) {
    try {
        s.begin();
        std::string id = event.id, type = event.type, source = event.source, subject = event.subject;
        Int64 at = Outbox::nowMs();
        // The write comes first so this transaction holds the write lock from the
        // start; a read-then-write transaction could not upgrade under contention.
        // A repeated id inserts nothing and returns no row. On PostgreSQL the
        // primary key holds across hubs: a second hub inserting the same id
        // waits for the first one's transaction, then inserts nothing.
        std::vector<std::string> inserted;
        s << hub::store::sql(s, "INSERT INTO events_inbox(id, type, source, subject, received_at) "
                                "VALUES(?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING RETURNING id"),
            use(id), use(type), use(source), use(subject), use(at), into(inserted), now;
        const std::size_t changes = inserted.size();
        if (changes == 0) {
            rollbackQuietly(s);
            ++counters_.inboundDuplicates;
            hub::zmq::sendFrames(socket_, {routing, event.id, "ack", "duplicate"}, true);
            return;
        }
        onInbound_(s, event, peer);
        s.commit();
    } catch (const std::exception& e) {
        rollbackQuietly(s);
        const std::string text = currentExceptionText();
        // The store could not take it now (full, read-only, locked, unreachable):
        // the sender should retry. Anything else is the event's (or the handler's)
        // answer and would fail the same way again. One classification for the
        // whole hub: the store's, which also counts the fault and starts its probe.
        if (db_.recordFailure(e)) {
            ++counters_.inboundUnavailable;
            refuse(routing, event.id, peer.name, "unavailable: the hub cannot store it now (" + text + "); send it again later");
        } else {
            refuse(routing, event.id, peer.name, "not applied: " + text);
        }
        return;
    } catch (...) {
        rollbackQuietly(s);
        refuse(routing, event.id, peer.name, "not applied: the handler failed with an unknown exception");
        return;
    }
    ++counters_.inboundAccepted;
    hub::zmq::sendFrames(socket_, {routing, event.id, "ack"}, true);
}

void InboundReceiver::refuse(const std::string& routing, const std::string& id, const std::string& userId,
                             const std::string& reason) {
    ++counters_.inboundRefused;
    logger().warning("inbound event %s%s refused: %s", id.empty() ? std::string("(no id)") : id.substr(0, 80),
                     userId.empty() ? std::string() : " from " + userId, reason);
    hub::zmq::sendFrames(socket_, {routing, id, "nack", reason}, true);
}

}  // namespace hub::events
