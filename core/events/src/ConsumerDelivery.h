#pragma once

#include "DeliveryRecords.h"
#include "EventMask.h"

#include "hub/events/Relay.h"
#include "hub/events/RelayConfig.h"

#include <zmq.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <queue>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hub::events {

/// One outbox event as one consumer sees it.
struct DeliveryItem : OutboxEvent {
    enum class State { Waiting, InFlight, Acked, Dead };

    DeliveryItem() = default;
    explicit DeliveryItem(OutboxEvent event) : OutboxEvent(std::move(event)) {}

    State state = State::Waiting;
    int attempts = 0;
    std::int64_t dueAt = 0;  // earliest next send (backoff)
    bool flushed = false;    // settled state is committed (or needs no commit)
    bool holdsSlot = false;  // counts against the window
    bool hasRow = false;     // an events_delivery row exists, or will once the queued marks commit
    bool replay = false;     // replayed dead letter: not bound by subject order
    std::string lastError;

    bool settled() const { return state == State::Acked || state == State::Dead; }
};

/// One consumer's delivery, as a state machine over the events loaded for it:
/// an event waits until it is the front of its subject and its backoff is over,
/// is sent (at most `window` events hold slots), and is acked (settled), or
/// fails (no ack in time, a nack) and waits again with a doubled backoff, until
/// `maxAttempts` make it a dead letter. Settling an event frees its subject's
/// next one; a settled event keeps its window slot until the committer reports
/// it durable, so after a crash at most a window of events is sent again.
///
/// Every change to commit becomes a mark (takeMarks()); the cursor moves past
/// every settled event before the first unsettled one. Replayed dead letters
/// are sent without waiting for their subject's order.
///
/// Driven by the delivery thread only (DeliveryLoop): no SQL and no locks here;
/// it is fed the rows the DeliveryStore read, and sends and receives on the
/// consumer's DEALER socket.
class ConsumerDelivery {
public:
    ConsumerDelivery(ConsumerConfig config, ::zmq::socket_t& socket);

    const ConsumerConfig& config() const { return cfg_; }
    ::zmq::socket_t& socket() { return socket_; }

    // Start-up: what the store saved.

    /// Takes the saved cursor and what lies beyond it (call on a fresh state).
    void restore(const SavedDelivery& saved);
    /// Adds an unsettled replayed event (a dead letter moved back by replay())
    /// with `attempts` so far; false if it is loaded already.
    bool addReplay(OutboxEvent event, int attempts);
    /// Back to nothing loaded, after a start-up read that failed half-way.
    void forget();
    /// Back to the state of a new ConsumerDelivery (the counters stay), with
    /// `leading` telling whether this hub delivers to the consumer (several
    /// hubs: it holds the consumer's lease). A hub that does not lead reports
    /// no depth.
    void reset(bool leading);
    bool leading() const { return leading_; }

    // The outbox.

    /// The highest outbox seq loaded so far.
    std::int64_t loadedUpTo() const { return loadedUpTo_; }
    /// How many rows to read next, at most `batchSize`; 0 while enough events are loaded.
    std::size_t readLimit(std::size_t batchSize) const;
    /// Takes the rows read after loadedUpTo() with `limit` (moving their strings
    /// out): events this consumer does not want, or settled before, are passed
    /// over; the others wait for their turn.
    void admit(std::vector<OutboxEvent>& rows, std::size_t limit, std::int64_t at);
    /// The last read was full: more rows are waiting in the outbox.
    bool moreToRead() const { return lastLoadFull_; }

    /// What replay() asked for `seq` needs from the caller.
    enum class Revival {
        Done,        ///< Revived, or nothing to do.
        Deferred,    ///< Its dead-letter mark is not reported durable yet: ask again shortly.
        NeedsEvent,  ///< Not loaded: read the event and addReplay() it.
    };
    /// A dead letter of this consumer moved back to delivery by replay().
    Revival revive(std::int64_t seq, std::int64_t at);

    // Each round of the delivery loop.

    /// Backoffs that ended make events ready; acks overdue count as failures.
    void processTimers(std::int64_t at);
    /// Sends ready events while window slots are free and the socket takes them.
    void sendReady(std::int64_t at);
    /// Takes every ack and nack waiting on the socket.
    void receiveAcks(std::int64_t at);
    /// Something can be sent right now.
    bool canSendNow() const;
    /// When the next backoff or ack timer is due; max() when none is.
    std::int64_t nextTimerAt() const;

    // The committer.

    /// Half a window's changes wait to be committed: hand them off now.
    bool marksPressing() const { return dirty_.size() * 2 >= cfg_.window; }
    /// Moves the changes made since the last call into `into` as marks, with the
    /// cursor if it moved; false if there was nothing.
    bool takeMarks(PendingMarks& into);
    /// The committer made these durable: their window slots are free.
    void applyCompletion(const Completion& done);

    // Metrics.

    /// This consumer's figures with `lastSeq` the outbox's highest seq;
    /// oldestUndeliveredAgeSeconds is left to the caller.
    ConsumerMetrics figures(std::int64_t lastSeq) const;
    /// When the oldest unsettled loaded event was created (ms); 0 when none is.
    std::int64_t oldestUnsettledCreatedAt() const;

private:
    using Timer = std::pair<std::int64_t, std::int64_t>;           // time, seq
    using AckTimer = std::tuple<std::int64_t, std::int64_t, int>;  // deadline, seq, attempt

    std::size_t maxItems() const { return std::max<std::size_t>(cfg_.window * 4, 2000); }
    bool isFront(const DeliveryItem& it) const;
    std::int64_t backoff(int attempts) const;
    void makeEligible(DeliveryItem& it, std::int64_t at);
    void takeSlot(DeliveryItem& it);
    void releaseSlot(DeliveryItem& it);
    void settle(DeliveryItem& it, std::int64_t at);
    void fail(DeliveryItem& it, const std::string& reason, std::int64_t at);
    std::int64_t nextCursor() const;
    void eraseSettledFront();

    ConsumerConfig cfg_;
    EventMask mask_;  ///< Personal data this consumer is not granted, masked in what it is sent.
    ::zmq::socket_t& socket_;

    std::map<std::int64_t, DeliveryItem> items_;                          // loaded, by seq
    std::unordered_map<std::string, std::deque<std::int64_t>> subjects_;  // unsettled, in order
    std::unordered_map<std::string, std::int64_t> byId_;                  // unsettled, for acks
    std::set<std::int64_t> ready_;                                        // may be sent now
    std::priority_queue<Timer, std::vector<Timer>, std::greater<>> dueTimers_;
    std::priority_queue<AckTimer, std::vector<AckTimer>, std::greater<>> ackTimers_;
    std::set<std::int64_t> dirty_;  // state to commit

    std::int64_t loadedUpTo_ = 0;       // highest outbox seq loaded
    std::int64_t persistedCursor_ = 0;  // events_cursor.seq, as last reported by the committer
    std::int64_t queuedCursor_ = 0;     // the cursor last handed to the committer
    bool sendBlocked_ = false;          // the last send failed (not connected, high-water mark)
    std::size_t slotsUsed_ = 0;
    std::int64_t unsettled_ = 0;
    bool lastLoadFull_ = false;
    bool leading_ = true;

    // Found in the database at start, for events beyond the cursor.
    std::set<std::int64_t> knownSettled_;
    std::map<std::int64_t, std::pair<int, std::int64_t>> knownAttempts_;

    std::uint64_t deliveries_ = 0;
    std::uint64_t retries_ = 0;
    std::uint64_t deadLettered_ = 0;
};

}  // namespace hub::events
