#include "ConsumerDelivery.h"

#include "RelayThreads.h"

#include <hub/zmq/Frames.h>

#include <algorithm>

namespace hub::events {

using State = DeliveryItem::State;

ConsumerDelivery::ConsumerDelivery(ConsumerConfig config, ::zmq::socket_t& socket)
    : cfg_(std::move(config)), mask_(cfg_.personalFields, cfg_.personalData), socket_(socket) {}

// ---------------------------------------------------------------- start-up

void ConsumerDelivery::restore(const SavedDelivery& saved) {
    persistedCursor_ = saved.cursor;
    queuedCursor_ = saved.cursor;
    loadedUpTo_ = saved.cursor;
    knownSettled_.insert(saved.settledBeyond.begin(), saved.settledBeyond.end());
    knownAttempts_.insert(saved.attemptsBeyond.begin(), saved.attemptsBeyond.end());
}

bool ConsumerDelivery::addReplay(OutboxEvent event, int attempts) {
    const std::int64_t seq = event.seq;
    if (mask_.active()) event.payload = mask_.apply(event.payload);
    DeliveryItem it(std::move(event));
    it.attempts = attempts;
    it.replay = true;
    it.hasRow = true;
    auto [pos, inserted] = items_.emplace(seq, std::move(it));
    if (!inserted) return false;
    byId_[pos->second.id] = seq;
    ++unsettled_;
    ready_.insert(seq);
    return true;
}

void ConsumerDelivery::forget() {
    knownSettled_.clear();
    knownAttempts_.clear();
    items_.clear();
    byId_.clear();
    ready_.clear();
    unsettled_ = 0;
}

void ConsumerDelivery::reset(bool leading) {
    forget();
    subjects_.clear();
    dueTimers_ = {};
    ackTimers_ = {};
    dirty_.clear();
    loadedUpTo_ = persistedCursor_ = queuedCursor_ = 0;
    sendBlocked_ = false;
    slotsUsed_ = 0;
    lastLoadFull_ = false;
    leading_ = leading;
}

// ---------------------------------------------------------------- the outbox

std::size_t ConsumerDelivery::readLimit(std::size_t batchSize) const {
    if (items_.size() >= maxItems()) return 0;
    return std::min(batchSize, maxItems() - items_.size());
}

void ConsumerDelivery::admit(std::vector<OutboxEvent>& rows, std::size_t limit, std::int64_t at) {
    for (auto& row : rows) {
        const std::int64_t seq = row.seq;
        auto settledBefore = knownSettled_.find(seq);
        const bool passOver = !cfg_.wants(row.type) || settledBefore != knownSettled_.end();
        if (passOver) std::string().swap(row.payload);  // never sent: keep no copy
        else if (mask_.active()) row.payload = mask_.apply(row.payload);
        DeliveryItem it(std::move(row));
        if (passOver) {
            // Nothing to send and nothing to commit: the cursor just moves past it.
            it.state = State::Acked;
            it.flushed = true;
            if (settledBefore != knownSettled_.end()) knownSettled_.erase(settledBefore);
            items_.emplace(seq, std::move(it));
        } else {
            auto known = knownAttempts_.find(seq);
            if (known != knownAttempts_.end()) {
                it.attempts = known->second.first;
                it.dueAt = known->second.second;
                it.hasRow = true;
                knownAttempts_.erase(known);
            }
            auto [pos, inserted] = items_.emplace(seq, std::move(it));
            DeliveryItem& stored = pos->second;
            byId_[stored.id] = stored.seq;
            ++unsettled_;
            if (!stored.subject.empty()) subjects_[stored.subject].push_back(stored.seq);
            makeEligible(stored, at);
        }
        loadedUpTo_ = seq;
    }
    lastLoadFull_ = limit > 0 && rows.size() == limit;
}

ConsumerDelivery::Revival ConsumerDelivery::revive(std::int64_t seq, std::int64_t at) {
    auto found = items_.find(seq);
    if (found == items_.end()) {
        if (seq <= loadedUpTo_) return Revival::NeedsEvent;
        knownAttempts_[seq] = {0, 0};  // sent when the outbox read reaches it
        return Revival::Done;
    }
    DeliveryItem& it = found->second;
    // replay() found the dead letter committed before the committer's report of
    // it reached this thread: look again shortly.
    if (it.state == State::Dead && !it.flushed) return Revival::Deferred;
    if (it.state != State::Dead) return Revival::Done;
    it.state = State::Waiting;
    it.attempts = 0;
    it.dueAt = 0;
    it.flushed = false;
    it.replay = true;
    it.hasRow = true;
    byId_[it.id] = seq;
    ++unsettled_;
    makeEligible(it, at);
    return Revival::Done;
}

// ---------------------------------------------------------------- each round

void ConsumerDelivery::processTimers(std::int64_t at) {
    while (!dueTimers_.empty() && dueTimers_.top().first <= at) {
        auto seq = dueTimers_.top().second;
        dueTimers_.pop();
        auto found = items_.find(seq);
        if (found == items_.end()) continue;
        DeliveryItem& it = found->second;
        if (it.state == State::Waiting && it.dueAt <= at && isFront(it)) ready_.insert(seq);
    }
    while (!ackTimers_.empty() && std::get<0>(ackTimers_.top()) <= at) {
        auto [deadline, seq, attempt] = ackTimers_.top();
        ackTimers_.pop();
        auto found = items_.find(seq);
        if (found == items_.end()) continue;
        DeliveryItem& it = found->second;
        if (it.state != State::InFlight || it.attempts != attempt) continue;
        fail(it, "no acknowledgement within " + std::to_string(cfg_.ackTimeoutMs) + " ms", at);
    }
}

void ConsumerDelivery::sendReady(std::int64_t at) {
    while (slotsUsed_ < cfg_.window && !ready_.empty()) {
        auto seq = *ready_.begin();
        auto found = items_.find(seq);
        if (found == items_.end() || found->second.state != State::Waiting) {
            ready_.erase(ready_.begin());
            continue;
        }
        DeliveryItem& it = found->second;
        bool sent = false;
        try {
            sent = hub::zmq::sendFrames(socket_, {it.id, it.payload}, true);
        } catch (const ::zmq::error_t& e) {
            logger().error("send to consumer %s failed: %s", cfg_.name, std::string(e.what()));
        }
        sendBlocked_ = !sent;
        if (!sent) break;  // not connected, or high-water mark: try again next round
        ready_.erase(ready_.begin());
        it.state = State::InFlight;
        ++it.attempts;
        takeSlot(it);
        ackTimers_.emplace(at + cfg_.ackTimeoutMs, seq, it.attempts);
    }
}

void ConsumerDelivery::receiveAcks(std::int64_t at) {
    while (auto frames = hub::zmq::receiveFrames(socket_, true)) {
        if (frames->empty()) continue;
        const std::string& id = (*frames)[0];
        std::string verb = frames->size() > 1 ? (*frames)[1] : "ack";
        auto known = byId_.find(id);
        if (known == byId_.end()) continue;  // late or repeated ack of a settled event
        auto found = items_.find(known->second);
        if (found == items_.end()) continue;
        DeliveryItem& it = found->second;
        if (verb == "ack") {
            if (it.state != State::InFlight && it.state != State::Waiting) continue;
            // Holds its slot until the delivery is committed: after a crash the
            // events that may come again are exactly those holding slots.
            takeSlot(it);
            it.state = State::Acked;
            ++deliveries_;
            settle(it, at);
        } else if (verb == "nack") {
            if (it.state != State::InFlight) continue;
            std::string reason = frames->size() > 2 ? (*frames)[2] : "no reason given";
            fail(it, "refused by consumer: " + reason.substr(0, 500), at);
        } else {
            logger().warning("consumer %s sent an unknown reply '%s' for event %s", cfg_.name, verb.substr(0, 40),
                             id.substr(0, 80));
        }
    }
}

bool ConsumerDelivery::canSendNow() const {
    return !ready_.empty() && slotsUsed_ < cfg_.window && !sendBlocked_;
}

std::int64_t ConsumerDelivery::nextTimerAt() const {
    std::int64_t next = std::numeric_limits<std::int64_t>::max();
    if (!dueTimers_.empty()) next = std::min(next, dueTimers_.top().first);
    if (!ackTimers_.empty()) next = std::min(next, std::get<0>(ackTimers_.top()));
    return next;
}

// ---------------------------------------------------------------- the committer

bool ConsumerDelivery::takeMarks(PendingMarks& into) {
    std::int64_t next = nextCursor();
    if (dirty_.empty() && next == queuedCursor_) return false;
    for (auto seq : dirty_) {
        auto found = items_.find(seq);
        if (found == items_.end()) continue;
        DeliveryItem& it = found->second;
        DeliveryMark m;
        m.attempts = it.attempts;
        switch (it.state) {
            case State::Acked:
                m.kind = DeliveryMark::Kind::Delivered;
                m.row = it.hasRow || seq > next;
                // An application's event goes into its trace (DeliveryStore::commit).
                if (it.subject.rfind(kApplicationSubjectPrefix, 0) == 0) {
                    m.id = it.id;
                    m.type = it.type;
                    m.subject = it.subject;
                }
                break;
            case State::Dead:
                m.kind = DeliveryMark::Kind::Dead;
                m.row = it.hasRow;
                m.id = it.id;
                m.type = it.type;
                m.subject = it.subject;
                m.lastError = it.lastError;
                // Marks commit in order, so later marks may rely on this.
                it.hasRow = false;
                break;
            case State::Waiting:
            case State::InFlight:
                m.kind = DeliveryMark::Kind::Retry;
                m.nextAttemptAt = it.dueAt;
                it.hasRow = true;
                break;
        }
        into.marks[seq] = std::move(m);
    }
    if (next != queuedCursor_) {
        into.cursor = next;
        queuedCursor_ = next;
    }
    dirty_.clear();
    return true;
}

void ConsumerDelivery::applyCompletion(const Completion& done) {
    for (auto seq : done.settled) {
        auto found = items_.find(seq);
        if (found == items_.end()) continue;
        DeliveryItem& it = found->second;
        // An event replayed since (and so unsettled again) keeps its state.
        if (!it.settled()) continue;
        it.flushed = true;
        releaseSlot(it);
    }
    if (done.cursor) persistedCursor_ = *done.cursor;
    eraseSettledFront();
}

// ---------------------------------------------------------------- metrics

ConsumerMetrics ConsumerDelivery::figures(std::int64_t lastSeq) const {
    ConsumerMetrics cm;
    cm.name = cfg_.name;
    cm.cursor = persistedCursor_;
    cm.delivering = leading_;
    if (!leading_) {
        cm.deliveries = deliveries_;
        cm.retries = retries_;
        cm.deadLettered = deadLettered_;
        return cm;  // another hub delivers it: its depth is that hub's to report
    }
    cm.depth = unsettled_ + std::max<std::int64_t>(0, lastSeq - loadedUpTo_);
    cm.inFlight = static_cast<std::int64_t>(slotsUsed_);
    cm.deliveries = deliveries_;
    cm.retries = retries_;
    cm.deadLettered = deadLettered_;
    return cm;
}

std::int64_t ConsumerDelivery::oldestUnsettledCreatedAt() const {
    std::int64_t oldest = 0;
    for (const auto& [seq, it] : items_)
        if (!it.settled() && (oldest == 0 || it.createdAt < oldest)) oldest = it.createdAt;
    return oldest;
}

// ---------------------------------------------------------------- the state machine

bool ConsumerDelivery::isFront(const DeliveryItem& it) const {
    if (it.replay || it.subject.empty()) return true;
    auto s = subjects_.find(it.subject);
    return s != subjects_.end() && !s->second.empty() && s->second.front() == it.seq;
}

std::int64_t ConsumerDelivery::backoff(int attempts) const {
    std::int64_t delay = cfg_.backoffInitialMs;
    for (int i = 1; i < attempts && delay < cfg_.backoffMaxMs; ++i) delay *= 2;
    return std::min<std::int64_t>(delay, cfg_.backoffMaxMs);
}

void ConsumerDelivery::makeEligible(DeliveryItem& it, std::int64_t at) {
    if (it.state != State::Waiting || !isFront(it)) return;
    if (it.dueAt <= at)
        ready_.insert(it.seq);
    else
        dueTimers_.emplace(it.dueAt, it.seq);
}

void ConsumerDelivery::takeSlot(DeliveryItem& it) {
    if (!it.holdsSlot) {
        it.holdsSlot = true;
        ++slotsUsed_;
    }
}

void ConsumerDelivery::releaseSlot(DeliveryItem& it) {
    if (it.holdsSlot) {
        it.holdsSlot = false;
        --slotsUsed_;
    }
}

// Acked or dead: unblocks the next event of the subject.
void ConsumerDelivery::settle(DeliveryItem& it, std::int64_t at) {
    byId_.erase(it.id);
    ready_.erase(it.seq);
    dirty_.insert(it.seq);
    --unsettled_;
    if (it.replay || it.subject.empty()) return;
    auto s = subjects_.find(it.subject);
    if (s == subjects_.end()) return;
    auto& queue = s->second;
    queue.erase(std::remove(queue.begin(), queue.end(), it.seq), queue.end());
    if (queue.empty()) {
        subjects_.erase(s);
        return;
    }
    auto next = items_.find(queue.front());
    if (next != items_.end()) makeEligible(next->second, at);
}

// No ack in time, or a nack: wait out the backoff, or become a dead letter.
void ConsumerDelivery::fail(DeliveryItem& it, const std::string& reason, std::int64_t at) {
    releaseSlot(it);
    it.lastError = reason;
    if (it.attempts >= cfg_.maxAttempts) {
        it.state = State::Dead;
        takeSlot(it);  // until the dead letter is committed
        ++deadLettered_;
        logger().warning("event %s (seq %?d) to consumer %s dead-lettered after %d attempts: %s", it.id, it.seq,
                         cfg_.name, it.attempts, reason);
        settle(it, at);
        return;
    }
    it.state = State::Waiting;
    it.dueAt = at + backoff(it.attempts);
    ++retries_;
    dirty_.insert(it.seq);
    makeEligible(it, at);
}

// The cursor after the changed events are committed: every non-replay event
// before the first unsettled one is settled.
std::int64_t ConsumerDelivery::nextCursor() const {
    for (const auto& [seq, it] : items_) {
        if (it.replay) continue;
        if (!it.settled()) return seq - 1;
    }
    return loadedUpTo_;
}

void ConsumerDelivery::eraseSettledFront() {
    for (auto i = items_.begin(); i != items_.end();) {
        const DeliveryItem& it = i->second;
        if (it.settled() && it.flushed) {
            i = items_.erase(i);
        } else if (it.replay) {
            ++i;
        } else {
            break;
        }
    }
}

}  // namespace hub::events
