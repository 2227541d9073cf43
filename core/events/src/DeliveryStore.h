#pragma once

#include "DeliveryRecords.h"

#include "hub/events/Relay.h"

#include <hub/store/Database.h>

#include <Poco/Data/Session.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace hub::events {

/// Rolls back `session`'s open transaction, if any, and swallows a failure of
/// the ROLLBACK itself: after SQLITE_FULL, an I/O error or SQLITE_NOMEM, SQLite
/// may have rolled the transaction back already, and Poco's ROLLBACK then fails
/// ("cannot rollback - no transaction is active"), which says nothing new.
void rollbackQuietly(Poco::Data::Session& session);

/// The SQL of the relay's delivery state, on a session of the calling thread:
/// reading the outbox and each consumer's saved state (events_cursor,
/// events_delivery, events_dead_letters), committing the delivery thread's
/// marks, pruning, and the dead letters an operator lists and replays. Table
/// layout: docs/events/README.md ("Tables"). The store holds no state of its own;
/// a session the caller renews (Database::renew) is seen at the next call.
class DeliveryStore {
public:
    explicit DeliveryStore(Poco::Data::Session& session)
        : s_(session), dialect_(hub::store::dialectOf(session)) {}

    Poco::Data::Session& session() { return s_; }

    /// No outbox horizon: every committed row may be read (SQLite, where seq
    /// order is commit order).
    static constexpr std::int64_t kNoHorizon = std::numeric_limits<std::int64_t>::max();

    // Reads (the delivery thread: in WAL mode they never wait for a writer).

    /// One consumer's cursor, and its delivery rows and dead letters.
    SavedDelivery load(const std::string& consumer);
    /// Up to `limit` events after seq `after` and up to `upTo` (the outbox
    /// horizon on PostgreSQL: OutboxHorizon), in seq order.
    std::vector<OutboxEvent> readOutbox(std::int64_t after, std::size_t limit, std::int64_t upTo = kNoHorizon);
    /// The same, with only seq, type and payload: what the PUB socket sends.
    std::vector<OutboxEvent> readForPublish(std::int64_t after, std::size_t limit, std::int64_t upTo = kNoHorizon);
    /// PostgreSQL: up to `limit` seqs after `after` and the current snapshot's
    /// xmin and xmax (transaction ids), all read in one snapshot.
    struct SeqsInSnapshot {
        std::vector<std::int64_t> seqs;
        std::int64_t xmin = 0, xmax = 0;
    };
    SeqsInSnapshot readSeqs(std::int64_t after, std::size_t limit);
    /// The event with `seq`, if the outbox still holds it.
    std::optional<OutboxEvent> readEvent(std::int64_t seq);
    /// Seqs replay() moved back to delivery for `consumer` and nobody sent yet.
    std::vector<std::int64_t> replayRequests(const std::string& consumer);
    /// The highest seq in the outbox, 0 when empty.
    std::int64_t lastSeq();
    /// When the first event after seq `after` was created (ms), if there is one.
    std::optional<std::int64_t> createdAtAfter(std::int64_t after);

    // Writes (the committer thread).

    /// Writes the marks of every consumer (`consumers[i]` names `marks[i]`) and
    /// their cursors in one transaction, stamped `at`; nothing when there is
    /// nothing to write. Throws what the database threw, after rolling back.
    /// With `trace`, each delivered event of an application is also a hop of
    /// its trace (store::TraceLog, whose tables must exist).
    ///
    /// With `fence` (several hubs: one leader per consumer), a consumer's marks
    /// are written only while its lease (fence->leases[i]) still names this
    /// node (fence->holder) with the token the marks were taken under; the
    /// lease row is share-locked until the commit, so a node taking it over
    /// waits for this commit before it reads the state. The marks of a
    /// consumer whose lease is gone are dropped (emptied in `marks`): its new
    /// leader sends those events again. Returns how many consumers' marks
    /// were dropped.
    struct LeaseFence {
        std::string holder;
        std::vector<std::string> leases;  ///< One per consumer.
    };
    std::size_t commit(const std::vector<std::string>& consumers, std::vector<PendingMarks>& marks, std::int64_t at,
                       bool trace = false, const LeaseFence* fence = nullptr);
    /// The stored cursor of each of `consumers` (0 when it has none).
    std::vector<std::int64_t> cursors(const std::vector<std::string>& consumers);
    /// Deletes outbox events up to seq `settledUpTo` created before `before`
    /// (except dead letters and pending replays, kept for replay) and inbox ids
    /// received before `before`.
    void prune(std::int64_t settledUpTo, std::int64_t before);

    // Dead letters (any thread, on a session of its own).

    std::int64_t countDeadLetters();
    /// See Relay::deadLetters().
    std::vector<DeadLetter> deadLetters(const std::string& consumer, std::size_t limit, std::size_t offset);
    /// Moves dead letters back to delivery (Relay::replay()) in one transaction;
    /// returns how many.
    std::size_t replay(const std::string& consumer, const std::string& eventId);

private:
    void traceDeliveries(const std::string& consumer, const PendingMarks& pending, std::int64_t at);
    std::size_t dropFenced(const LeaseFence& fence, std::vector<PendingMarks>& marks);
    /// `text` with PostgreSQL's numbered placeholders there (SQLite: as it is).
    std::string sql(const char* text) const {
        return dialect_ == hub::store::Dialect::Sqlite ? std::string(text) : hub::store::sql(dialect_, text);
    }

    Poco::Data::Session& s_;
    hub::store::Dialect dialect_;
};

}  // namespace hub::events
