#include "DeliveryLoop.h"

#include "DeliveryCommitter.h"
#include "DeliveryStore.h"
#include "MetricsBoard.h"
#include "Publisher.h"
#include "RelaySockets.h"
#include "RelayThreads.h"

#include "hub/events/Outbox.h"

#include <algorithm>
#include <cerrno>
#include <optional>

namespace hub::events {

DeliveryLoop::DeliveryLoop(hub::store::Database& db, const RelayConfig& config, RelaySockets& sockets,
                           DeliveryCommitter& committer, Publisher* publisher, MetricsBoard& metrics,
                           std::atomic<bool>& replayRequested, const std::atomic<bool>& stopping)
    : db_(db),
      cfg_(config),
      sockets_(sockets),
      committer_(committer),
      publisher_(publisher),
      metrics_(metrics),
      replayRequested_(replayRequested),
      stopping_(stopping),
      leased_(db.dialect() == hub::store::Dialect::PostgreSql),
      tenures_(config.consumers.size(), 0),
      horizon_(leased_),
      outgoing_(config.consumers.size()) {
    for (std::size_t i = 0; i < config.consumers.size(); ++i) {
        consumers_.push_back(std::make_unique<ConsumerDelivery>(config.consumers[i], *sockets.consumers[i]));
        if (leased_) consumers_.back()->reset(false);  // until this hub holds the consumer's lease
    }
}

// After the committer's last commit (Relay::stop()): the keepers release the
// leases, so another hub takes over at once.
DeliveryLoop::~DeliveryLoop() = default;

void DeliveryLoop::abandon() { abandoned_ = true; }

std::vector<std::unique_ptr<hub::store::LeaseKeeper>> DeliveryLoop::takeAbandonedKeepers() {
    for (auto& keeper : keepers_) keeper->abandon();
    return std::move(keepers_);
}

void DeliveryLoop::run() {
    // Until the state is read nothing can be delivered: try again (the database
    // may be locked, briefly unreadable, or reopening after a fault) rather than
    // end the thread for good.
    std::optional<Poco::Data::Session> session;
    for (int failures = 1; !stopping_ && !session; ++failures) {
        session = restoreAll();
        if (!session) pauseAfterFailure(stopping_, failures);
    }
    if (stopping_) return;
    Poco::Data::Session& s = *session;
    DeliveryStore store(s);
    std::vector<::zmq::pollitem_t> poll;
    for (auto& c : consumers_) poll.push_back({c->socket().handle(), 0, ZMQ_POLLIN, 0});
    poll.push_back({sockets_.wakeReceive->handle(), 0, ZMQ_POLLIN, 0});

    int failures = 0;
    while (!stopping_) {
        try {
            db_.renew(s);  // a store that reopens its sessions after a fault needs this one back
            round(store, poll);
            failures = 0;
        } catch (const ::zmq::error_t& e) {
            if (e.num() != EINTR) logger().error("relay socket error: %s", std::string(e.what()));
        } catch (const Poco::Exception& e) {
            logger().error("relay error (continuing): %s", e.displayText());
            pauseAfterFailure(stopping_, ++failures);
        } catch (const std::exception& e) {
            logger().error("relay error (continuing): %s", std::string(e.what()));
            pauseAfterFailure(stopping_, ++failures);
        } catch (...) {
            logger().error("relay error (continuing): unknown exception");
            pauseAfterFailure(stopping_, ++failures);
        }
    }
    // The committer commits what was acknowledged before it stops (see
    // Relay::stop()), so a clean stop causes no redelivery.
    if (!abandoned_) handOff();
}

void DeliveryLoop::finish() {
    applyCompletions();
    Poco::Data::Session s = db_.session();
    DeliveryStore store(s);
    metrics_.refresh(store, consumers_, sockets_.zap.get(), Outbox::nowMs());
}

// Reads every consumer's saved state on a new session, which it returns; on a
// failure nothing is kept, not even the session: a store that reopens its
// sessions after a fault waits for every one, and the next try may be a second
// away.
std::optional<Poco::Data::Session> DeliveryLoop::restoreAll() {
    try {
        Poco::Data::Session s = db_.session();
        DeliveryStore store(s);
        if (!leased_) {
            for (std::size_t i = 0; i < consumers_.size(); ++i) restore(store, i);
        } else if (keepers_.empty()) {
            // Each consumer's state is read when this hub becomes its leader
            // (followLeases()). Rows at or below every stored cursor are
            // settled: the horizon need not wait for those pruned.
            std::vector<std::string> names;
            for (const auto& c : consumers_) names.push_back(c->config().name);
            std::vector<std::int64_t> cursors = store.cursors(names);
            if (!cursors.empty()) horizon_.startAt(*std::min_element(cursors.begin(), cursors.end()));
            std::vector<std::unique_ptr<hub::store::LeaseKeeper>> keepers;
            for (const auto& name : names)
                keepers.push_back(std::make_unique<hub::store::LeaseKeeper>(
                    db_, Relay::leaseName(name), db_.nodeId(), std::chrono::milliseconds(cfg_.leaseTtlMs)));
            keepers_ = std::move(keepers);
        }
        std::int64_t lastSeq = store.lastSeq();
        // The PUB socket is live fan-out: it starts with what is new.
        if (publisher_) publisher_->startAfter(lastSeq);
        return s;
    } catch (const std::exception& e) {
        logger().critical("relay cannot read its state, not delivering yet (will retry): %s", std::string(e.what()));
    } catch (...) {
        logger().critical("relay cannot read its state, not delivering yet (will retry): unknown exception");
    }
    for (auto& c : consumers_) c->forget();  // it may be half-filled: start over
    return std::nullopt;
}

// Reads consumer `index`'s saved state into it (a fresh one).
void DeliveryLoop::restore(DeliveryStore& store, std::size_t index) {
    ConsumerDelivery& c = *consumers_[index];
    SavedDelivery saved = store.load(c.config().name);
    c.restore(saved);
    committer_.noteDurableCursor(index, saved.cursor);
    for (auto [seq, attempts] : saved.replays) addReplay(store, c, seq, attempts);
}

// PostgreSQL: starts a tenure for each consumer whose lease this hub now holds,
// and ends it for each whose lease it no longer holds.
void DeliveryLoop::followLeases(DeliveryStore& store, std::vector<::zmq::pollitem_t>& poll) {
    for (std::size_t i = 0; i < consumers_.size(); ++i) {
        ConsumerDelivery& c = *consumers_[i];
        bool holds = keepers_[i]->held();
        // A new token while this tenure lasts: the lease ran out in the store
        // and was taken again (by this hub, so held() never turned false
        // here). The committer refuses this tenure's marks now; start another.
        if (holds && c.leading() && keepers_[i]->token() != outgoing_[i].token) holds = false;
        if (holds && !c.leading()) {
            // The keeper took the lease before held() turned true, and took it
            // after the last holder's last commit (the commit share-locks the
            // lease row): what is read now is all that holder made durable.
            const std::int64_t token = keepers_[i]->token();
            c.reset(true);
            try {
                restore(store, i);
            } catch (...) {
                c.reset(false);
                throw;  // tried again next round
            }
            outgoing_[i] = PendingMarks{};
            outgoing_[i].tenure = ++tenures_[i];
            outgoing_[i].token = token;
            logger().information("relay delivers to consumer %s from seq %?d on this hub (%s, lease token %?d)",
                                 c.config().name, c.loadedUpTo(), db_.nodeId(), token);
        } else if (!holds && c.leading()) {
            c.reset(false);
            ++tenures_[i];  // what the committer still reports for the tenure that ended is ignored
            sockets_.reconnectConsumer(i);
            poll[i].socket = sockets_.consumers[i]->handle();
            logger().warning("relay no longer delivers to consumer %s on this hub (%s): its lease ran out or "
                             "another hub holds it",
                             c.config().name, db_.nodeId());
        }
    }
}

// One round: what the committer made durable, replays, new outbox rows and
// publishing, timers and sends; then the poll, acks, the hand-off, metrics.
void DeliveryLoop::round(DeliveryStore& store, std::vector<::zmq::pollitem_t>& poll) {
    std::int64_t t = Outbox::nowMs();
    applyCompletions();
    bool lookForReplays = false;
    if (leased_) {
        followLeases(store, poll);
        // Relay::replay() on another hub cannot wake this one: look now and then.
        if (t - lastReplayLook_ >= 1000) {
            lookForReplays = true;
            lastReplayLook_ = t;
        }
    }
    if (replayRequested_.exchange(false) || lookForReplays || (replayDeferred_ && t >= replayAt_)) {
        replayDeferred_ = false;
        loadReplays(store, t);
        if (replayDeferred_) replayAt_ = t + 10;
    }
    bool more = std::any_of(consumers_.begin(), consumers_.end(), [](const auto& c) { return c->moreToRead(); });
    if (more || t - lastLoad_ >= cfg_.pollIntervalMs) {
        horizon_.advance(store.session());
        readOutbox(store, t);
        if (publisher_) publisher_->publishNew(store, horizon_.upTo());
        lastLoad_ = t;
    }
    for (std::size_t i = 0; i < consumers_.size(); ++i) {
        ConsumerDelivery& c = *consumers_[i];
        c.processTimers(t);
        // Not a moment past the lease: this round may have waited on the store.
        if (c.leading() && (!leased_ || keepers_[i]->held())) c.sendReady(t);
    }
    ::zmq::poll(poll, std::chrono::milliseconds(pollTimeout(t)));
    if (poll.back().revents & ZMQ_POLLIN) {
        ::zmq::message_t wake;
        while (sockets_.wakeReceive->recv(wake, ::zmq::recv_flags::dontwait)) {
        }
    }
    t = Outbox::nowMs();
    // Hand marks to the committer every flushIntervalMs, or at once when half a
    // window waits on them: fewer commits means less contention for the write
    // lock with the hub's own transactions.
    bool pressing = false;
    for (auto& c : consumers_) {
        c->receiveAcks(t);
        pressing = pressing || c->marksPressing();
    }
    if (pressing || t - lastFlush_ >= cfg_.flushIntervalMs) {
        handOff();
        lastFlush_ = t;
    }
    if (t - lastMetrics_ >= 100) {
        metrics_.refresh(store, consumers_, sockets_.zap.get(), t);
        lastMetrics_ = t;
    }
}

void DeliveryLoop::addReplay(DeliveryStore& store, ConsumerDelivery& c, std::int64_t seq, int attempts) {
    auto event = store.readEvent(seq);
    if (!event) {
        logger().warning("replay of seq %?d for consumer %s: the event is no longer in the outbox", seq,
                         c.config().name);
        return;
    }
    c.addReplay(std::move(*event), attempts);
}

// Dead letters replay() moved back to delivery since the last look.
void DeliveryLoop::loadReplays(DeliveryStore& store, std::int64_t at) {
    for (auto& c : consumers_) {
        if (!c->leading()) continue;
        for (std::int64_t seq : store.replayRequests(c->config().name)) {
            switch (c->revive(seq, at)) {
                case ConsumerDelivery::Revival::Done:
                    break;
                case ConsumerDelivery::Revival::Deferred:
                    replayDeferred_ = true;
                    break;
                case ConsumerDelivery::Revival::NeedsEvent:
                    addReplay(store, *c, seq, 0);
                    break;
            }
        }
    }
}

void DeliveryLoop::readOutbox(DeliveryStore& store, std::int64_t at) {
    for (auto& c : consumers_) {
        if (!c->leading()) continue;
        std::size_t limit = c->readLimit(cfg_.batchSize);
        std::vector<OutboxEvent> rows;
        if (limit > 0) rows = store.readOutbox(c->loadedUpTo(), limit, horizon_.upTo());
        c->admit(rows, limit, at);
    }
}

// Turns what changed since the last hand-off into marks for the committer.
// Settled events keep their window slots until applyCompletions() hears they
// are durable.
void DeliveryLoop::handOff() {
    bool any = false;
    for (std::size_t i = 0; i < consumers_.size(); ++i) any = consumers_[i]->takeMarks(outgoing_[i]) || any;
    if (any) committer_.submit(outgoing_);
}

// What the committer made durable frees its window slots.
void DeliveryLoop::applyCompletions() {
    for (const auto& done : committer_.takeCompletions())
        if (done.tenure == tenures_[done.consumer]) consumers_[done.consumer]->applyCompletion(done);
}

// How long the round may wait in zmq::poll: not at all while there is work it
// can do now, else until the next timer, at most pollIntervalMs (the outbox is
// polled, so that is the latency floor for new events).
long DeliveryLoop::pollTimeout(std::int64_t at) const {
    if (replayRequested_) return 0;
    std::int64_t timeout = cfg_.pollIntervalMs;
    if (replayDeferred_) timeout = std::min(timeout, replayAt_ - at);
    for (const auto& c : consumers_) {
        if (c->moreToRead() || c->canSendNow()) return 0;
        timeout = std::min(timeout, c->nextTimerAt() - at);
    }
    return static_cast<long>(std::max<std::int64_t>(0, timeout));
}

}  // namespace hub::events
