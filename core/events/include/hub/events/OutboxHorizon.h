#pragma once

#include <Poco/Data/Session.h>

#include <cstdint>
#include <limits>
#include <optional>

namespace hub::events {

/// How far the outbox may be read. On SQLite one writer commits at a time, so
/// seq order is commit order and every committed row may be read. On
/// PostgreSQL transactions commit out of seq order: a row with a lower seq may
/// become visible after a higher one was read, and reading "everything after
/// seq N" would pass it over for good. So the relay reads only up to the
/// horizon: the highest seq up to which no row can still appear.
///
/// advance() reads the seqs after the horizon together with the snapshot's
/// transaction bounds (one statement). Seqs follow each other: the horizon
/// moves over them. At a missing seq it stops and notes the snapshot's xmax:
/// the transaction that drew the missing seq had its id before the later row
/// was committed (events_outbox_next_seq() takes the transaction id before the
/// seq), so it is below that xmax; once a snapshot's xmin reaches it, that
/// transaction has ended, and a seq still missing then was rolled back (or
/// pruned) and is passed. A gap costs the time the transactions running when
/// it was seen take to end: usually milliseconds, more behind a long write
/// transaction elsewhere in the cluster.
///
/// For any reader of events_outbox by seq (the relay's delivery thread; a
/// module that follows the outbox itself, as identity's provisioning forwarder
/// does, needs the same on PostgreSQL): one per reading thread,
///
///     OutboxHorizon horizon(db.dialect() == hub::store::Dialect::PostgreSql);
///     ...each round: horizon.advance(session);
///     ... WHERE seq > ? AND seq <= ? ..., use(after), use(horizon.upTo())
class OutboxHorizon {
public:
    static constexpr std::int64_t kUnbounded = std::numeric_limits<std::int64_t>::max();

    /// `bounded`: PostgreSQL. Otherwise upTo() is kUnbounded and advance() does nothing.
    explicit OutboxHorizon(bool bounded) : bounded_(bounded) {}

    bool bounded() const { return bounded_; }
    /// Every outbox row at or below this seq is committed or never will be.
    std::int64_t upTo() const { return bounded_ ? safe_ : kUnbounded; }
    /// Where to start: a seq at or below which everything is settled (the
    /// lowest stored cursor), so rows pruned below it are not waited for.
    void startAt(std::int64_t seq) {
        if (seq > safe_) safe_ = seq;
    }
    /// Moves the horizon as far as the store allows (one query on `session`,
    /// on PostgreSQL only; not inside a REPEATABLE READ transaction, whose
    /// snapshot would be old).
    void advance(Poco::Data::Session& session);

private:
    struct Gap {
        std::int64_t at;         // the first missing seq
        std::int64_t threshold;  // the xmax of the snapshot that first missed it
    };

    bool bounded_;
    std::int64_t safe_ = 0;
    std::optional<Gap> gap_;
};

}  // namespace hub::events
