#include "DeliveryCommitter.h"

#include "DeliveryStore.h"
#include "Publisher.h"
#include "RelayThreads.h"

#include "hub/events/Outbox.h"
#include "hub/store/TraceLog.h"

#include <Poco/Data/SQLite/Utility.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <sqlite3.h>
#include <thread>
#include <utility>

namespace hub::events {

namespace {

// The committer's busy handler. SQLite's default one (sqlite3_busy_timeout)
// backs off to 100 ms between tries, so a writer that commits back to back (the
// hub under load) can starve it for seconds; meanwhile acknowledged events keep
// their window slots and delivery stops once the window is full. Trying every
// 0.2 ms catches the short gaps between the other writer's transactions.
// Gives up after about 10 s, like the store's busy timeout.
extern "C" int retrySoon(void*, int count) {
    if (count >= 50000) return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    return 1;
}

void retryWriteLockSoon(Poco::Data::Session& s) {
    // PostgreSQL has no database write lock: writers wait on rows.
    if (hub::store::dialectOf(s) != hub::store::Dialect::Sqlite) return;
    try {
        sqlite3* handle = Poco::Data::SQLite::Utility::dbHandle(s);
        // The pool hands this connection out again after us; Database::session()
        // sets its busy timeout then, which replaces this handler.
        sqlite3_busy_handler(handle, &retrySoon, nullptr);
    } catch (const Poco::Exception& e) {
        logger().warning("relay committer keeps SQLite's default busy handler: %s", e.displayText());
    }
}

bool anyMarks(const std::vector<PendingMarks>& marks) {
    return std::any_of(marks.begin(), marks.end(), [](const PendingMarks& p) { return !p.empty(); });
}

}  // namespace

DeliveryCommitter::DeliveryCommitter(hub::store::Database& db, const RelayConfig& config, ::zmq::socket_t& wake,
                                     const Publisher* publisher, RelayCounters& counters,
                                     const std::atomic<bool>& stopping)
    : db_(db),
      cfg_(config),
      wake_(wake),
      publisher_(publisher),
      counters_(counters),
      stopping_(stopping),
      pending_(config.consumers.size()),
      durableCursors_(config.consumers.size()) {
    for (const auto& c : config.consumers) names_.push_back(c.name);
    // Several hubs may share a PostgreSQL store: each consumer's marks are
    // written only under its lease (DeliveryStore::commit).
    if (db.dialect() == hub::store::Dialect::PostgreSql) {
        fence_.holder = db.nodeId();
        for (const auto& c : config.consumers) fence_.leases.push_back(Relay::leaseName(c.name));
        fenced_ = true;
    }
}

// ---------------------------------------------------------------- the delivery thread's side

void DeliveryCommitter::submit(std::vector<PendingMarks>& marks) {
    {
        std::lock_guard lock(queueMutex_);
        for (std::size_t i = 0; i < marks.size(); ++i) pending_[i].absorb(marks[i]);
    }
    queued_.notify_one();
}

std::vector<Completion> DeliveryCommitter::takeCompletions() {
    std::vector<Completion> done;
    std::lock_guard lock(doneMutex_);
    done.swap(completions_);
    return done;
}

void DeliveryCommitter::finish() {
    {
        std::lock_guard lock(queueMutex_);
        finishing_ = true;
    }
    queued_.notify_one();
}

void DeliveryCommitter::abandon() {
    {
        std::lock_guard lock(queueMutex_);
        finishing_ = abandoned_ = true;
    }
    queued_.notify_one();
}

// ---------------------------------------------------------------- the committer thread

void DeliveryCommitter::run() {
    Poco::Data::Session s = db_.session();
    retryWriteLockSoon(s);
    std::vector<PendingMarks> work(names_.size());
    std::int64_t lastPrune = Outbox::nowMs();
    int failures = 0;
    for (int errors = 0;;) {
        // Nothing may end this thread early: acknowledged events would keep their
        // window slots and delivery would stop. Marks stay in `work` for the next try.
        try {
            // A store that reopens its sessions after a fault needs this one back
            // (an idle committer would otherwise hold the reopen up for ever).
            if (db_.renew(s)) retryWriteLockSoon(s);
            if (!commitRound(s, work, failures, lastPrune)) return;
            errors = 0;
            continue;
        } catch (const std::exception& e) {
            logger().error("relay committer error (continuing): %s", std::string(e.what()));
        } catch (...) {
            logger().error("relay committer error (continuing): unknown exception");
        }
        // A store that reopens its sessions after a fault needs this one back.
        try {
            if (db_.renew(s)) retryWriteLockSoon(s);
        } catch (const Poco::Exception& e) {
            logger().error("relay committer has no database session: %s", e.displayText());
        }
        bool finishing = false;
        {
            std::lock_guard lock(queueMutex_);
            finishing = finishing_;
            if (abandoned_) return;
        }
        if (finishing && ++errors >= 3) {
            logger().error("relay stopped with delivery state not committed: those events will be sent again");
            return;
        }
        pauseAfterFailure(stopping_, ++errors);
    }
}

// One round: waits for marks, commits them, prunes now and then. False when it
// is time to end (finish() was called and everything is committed, or
// committing keeps failing while finishing).
bool DeliveryCommitter::commitRound(Poco::Data::Session& s, std::vector<PendingMarks>& work, int& failures,
                                    std::int64_t& lastPrune) {
    bool finishing = false;
    {
        std::unique_lock lock(queueMutex_);
        queued_.wait_for(lock, std::chrono::milliseconds(500), [&] { return finishing_ || anyMarks(pending_); });
        if (abandoned_) return false;
        for (std::size_t i = 0; i < work.size(); ++i) work[i].absorb(pending_[i]);
        finishing = finishing_;
    }
    if (anyMarks(work)) {
        if (commit(s, work)) {
            failures = 0;
        } else {
            ++failures;
            if (finishing && failures >= 3) {
                logger().error("relay stopped with delivery state not committed: those events will be sent again");
                return false;
            }
            // Keep the marks (newer ones merge on top) and try again after a pause.
            std::unique_lock lock(queueMutex_);
            long pause = std::min(1000L, 25L << std::min(failures, 6));
            queued_.wait_for(lock, std::chrono::milliseconds(pause), [&] { return finishing_; });
            return true;
        }
    } else if (finishing) {
        return false;
    }
    std::int64_t t = Outbox::nowMs();
    if (t - lastPrune >= 60000) {
        prune(s, t);
        lastPrune = t;
    }
    return true;
}

// Writes `work` in one transaction; false (`work` kept) if that failed.
bool DeliveryCommitter::commit(Poco::Data::Session& s, std::vector<PendingMarks>& work) {
    // The trace's tables, made here rather than at start: the relay must start
    // on a store that is read-only for now, and deliver once it can write.
    if (!traced_) {
        try {
            hub::store::TraceLog::migrate(db_);
            traced_ = true;
        } catch (const std::exception& e) {
            if (!std::exchange(traceWarned_, true))
                logger().warning("deliveries are not traced until the store can write: %s", std::string(e.what()));
        }
    }
    try {
        std::size_t dropped = DeliveryStore(s).commit(names_, work, Outbox::nowMs(), traced_, fenced_ ? &fence_ : nullptr);
        if (dropped > 0)
            logger().information("delivery state of %z consumer(s) not committed: their lease has another holder now, "
                                 "which sends those events again",
                                 dropped);
    } catch (const std::exception& e) {
        logger().error("committing delivery state failed (will retry): %s", std::string(e.what()));
        return false;
    }
    report(work);
    return true;
}

// Tells the delivery thread what `work` made durable, and empties it.
void DeliveryCommitter::report(std::vector<PendingMarks>& work) {
    std::int64_t deadLettered = 0;
    std::vector<Completion> done;
    for (std::size_t i = 0; i < work.size(); ++i) {
        if (work[i].empty()) continue;
        Completion d;
        d.consumer = i;
        d.tenure = work[i].tenure;
        for (const auto& [seq, m] : work[i].marks) {
            if (m.kind != DeliveryMark::Kind::Retry) d.settled.push_back(seq);
            if (m.kind == DeliveryMark::Kind::Dead) ++deadLettered;
        }
        d.cursor = work[i].cursor;
        if (d.cursor) durableCursors_[i] = *d.cursor;
        done.push_back(std::move(d));
        work[i].marks.clear();
        work[i].cursor.reset();  // the tenure stays: marks of the same one are merged
    }
    counters_.deadLetters += deadLettered;
    if (done.empty()) return;
    {
        std::lock_guard lock(doneMutex_);
        for (auto& d : done) completions_.push_back(std::move(d));
    }
    try {
        // A full pipe means a wake-up is already waiting.
        wake_.send(::zmq::const_buffer("", 0), ::zmq::send_flags::dontwait);
    } catch (const ::zmq::error_t&) {
    }
}

// Deletes settled events past the retention: settled for every consumer (their
// committed cursors) and published.
void DeliveryCommitter::prune(Poco::Data::Session& s, std::int64_t at) {
    if (cfg_.retentionHours <= 0) return;
    std::int64_t horizon = at - static_cast<std::int64_t>(cfg_.retentionHours) * 3600 * 1000;
    std::int64_t settled = publisher_ ? publisher_->publishedUpTo() : std::numeric_limits<std::int64_t>::max();
    try {
        DeliveryStore store(s);
        if (fenced_) {
            // Other hubs deliver some consumers: their cursors are in the store.
            for (std::int64_t cursor : store.cursors(names_)) settled = std::min(settled, cursor);
        } else {
            for (const auto& cursor : durableCursors_) settled = std::min(settled, cursor.load());
        }
        store.prune(settled, horizon);
    } catch (const Poco::Exception& e) {
        logger().warning("pruning the outbox failed: %s", e.displayText());
    }
}

}  // namespace hub::events
