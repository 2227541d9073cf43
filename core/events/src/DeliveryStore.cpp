#include "DeliveryStore.h"

#include "hub/store/TraceLog.h"

#include <Poco/Data/Statement.h>

#include <algorithm>

using namespace Poco::Data::Keywords;
using Poco::Int64;

namespace hub::events {

void rollbackQuietly(Poco::Data::Session& session) {
    try {
        if (session.isTransaction()) session.rollback();
    } catch (const Poco::Exception&) {
    }
}

// ---------------------------------------------------------------- reads

SavedDelivery DeliveryStore::load(const std::string& consumer) {
    SavedDelivery saved;
    std::string name = consumer;
    std::vector<Int64> cursor;
    s_ << sql("SELECT seq FROM events_cursor WHERE consumer = ?"), use(name), into(cursor), now;
    saved.cursor = cursor.empty() ? 0 : cursor.front();

    std::vector<Int64> seqs, nextAt, delivered;
    std::vector<int> attempts;
    s_ << sql("SELECT seq, attempts, next_attempt_at, CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END "
          "FROM events_delivery WHERE consumer = ? ORDER BY seq"),
        use(name), into(seqs), into(attempts), into(nextAt), into(delivered), now;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        if (seqs[i] > saved.cursor) {
            if (delivered[i])
                saved.settledBeyond.insert(seqs[i]);
            else
                saved.attemptsBeyond[seqs[i]] = {attempts[i], nextAt[i]};
        } else if (!delivered[i]) {
            saved.replays.emplace_back(seqs[i], attempts[i]);
        }
    }
    std::vector<Int64> dead;
    Int64 from = saved.cursor;
    s_ << sql("SELECT seq FROM events_dead_letters WHERE consumer = ? AND seq > ?"), use(name), use(from), into(dead), now;
    saved.settledBeyond.insert(dead.begin(), dead.end());
    return saved;
}

std::vector<OutboxEvent> DeliveryStore::readOutbox(std::int64_t after, std::size_t limit, std::int64_t upTo) {
    Int64 from = after, to = upTo;
    Int64 count = static_cast<Int64>(limit);
    std::vector<Int64> seq, created;
    std::vector<std::string> id, type, subject, payload;
    if (upTo == kNoHorizon) {
        s_ << sql("SELECT seq, id, type, subject, payload, created_at FROM events_outbox "
                  "WHERE seq > ? ORDER BY seq LIMIT ?"),
            use(from), use(count), into(seq), into(id), into(type), into(subject), into(payload), into(created), now;
    } else {
        s_ << sql("SELECT seq, id, type, subject, payload, created_at FROM events_outbox "
                  "WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"),
            use(from), use(to), use(count), into(seq), into(id), into(type), into(subject), into(payload),
            into(created), now;
    }
    std::vector<OutboxEvent> rows(seq.size());
    for (std::size_t i = 0; i < seq.size(); ++i)
        rows[i] = {seq[i],    std::move(id[i]), std::move(type[i]), std::move(subject[i]), std::move(payload[i]),
                   created[i]};
    return rows;
}

std::vector<OutboxEvent> DeliveryStore::readForPublish(std::int64_t after, std::size_t limit, std::int64_t upTo) {
    Int64 from = after, to = upTo;
    Int64 count = static_cast<Int64>(limit);
    std::vector<Int64> seq;
    std::vector<std::string> type, payload;
    if (upTo == kNoHorizon) {
        s_ << sql("SELECT seq, type, payload FROM events_outbox WHERE seq > ? ORDER BY seq LIMIT ?"), use(from),
            use(count), into(seq), into(type), into(payload), now;
    } else {
        s_ << sql("SELECT seq, type, payload FROM events_outbox WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"),
            use(from), use(to), use(count), into(seq), into(type), into(payload), now;
    }
    std::vector<OutboxEvent> rows(seq.size());
    for (std::size_t i = 0; i < seq.size(); ++i) {
        rows[i].seq = seq[i];
        rows[i].type = std::move(type[i]);
        rows[i].payload = std::move(payload[i]);
    }
    return rows;
}

DeliveryStore::SeqsInSnapshot DeliveryStore::readSeqs(std::int64_t after, std::size_t limit) {
    Int64 from = after;
    Int64 count = static_cast<Int64>(limit);
    std::vector<Int64> seq, xmin, xmax;
    // One statement, so one snapshot: the seqs it sees and the transactions it
    // counts as running. The left join gives the snapshot a row when no seq
    // is there (-1 then).
    s_ << sql("SELECT COALESCE(o.seq, -1), pg_snapshot_xmin(x.s)::text::bigint, pg_snapshot_xmax(x.s)::text::bigint "
              "FROM (SELECT pg_current_snapshot() AS s) x LEFT JOIN LATERAL "
              "(SELECT seq FROM events_outbox WHERE seq > ? ORDER BY seq LIMIT ?) o ON true ORDER BY 1"),
        use(from), use(count), into(seq), into(xmin), into(xmax), now;
    SeqsInSnapshot r;
    if (xmin.empty()) return r;
    r.xmin = xmin.front();
    r.xmax = xmax.front();
    for (Int64 v : seq)
        if (v >= 0) r.seqs.push_back(v);
    return r;
}

std::optional<OutboxEvent> DeliveryStore::readEvent(std::int64_t seq) {
    Int64 key = seq;
    std::vector<std::string> id, type, subject, payload;
    std::vector<Int64> created;
    s_ << sql("SELECT id, type, subject, payload, created_at FROM events_outbox WHERE seq = ?"), use(key), into(id),
        into(type), into(subject), into(payload), into(created), now;
    if (id.empty()) return std::nullopt;
    return OutboxEvent{seq,       std::move(id[0]), std::move(type[0]), std::move(subject[0]), std::move(payload[0]),
                       created[0]};
}

std::vector<std::int64_t> DeliveryStore::replayRequests(const std::string& consumer) {
    std::string name = consumer;
    std::vector<Int64> seqs;
    // replay() writes rows with attempts = 0; retry rows always have attempts >= 1.
    s_ << sql("SELECT seq FROM events_delivery WHERE consumer = ? AND delivered_at IS NULL AND attempts = 0"), use(name),
        into(seqs), now;
    return {seqs.begin(), seqs.end()};
}

std::int64_t DeliveryStore::lastSeq() {
    Int64 maxSeq = 0;
    s_ << sql("SELECT COALESCE(MAX(seq), 0) FROM events_outbox"), into(maxSeq), now;
    return maxSeq;
}

std::optional<std::int64_t> DeliveryStore::createdAtAfter(std::int64_t after) {
    Int64 from = after;
    std::vector<Int64> created;
    s_ << sql("SELECT created_at FROM events_outbox WHERE seq > ? ORDER BY seq LIMIT 1"), use(from), into(created), now;
    if (created.empty()) return std::nullopt;
    return created[0];
}

// ---------------------------------------------------------------- writes

namespace {

// The marks of every consumer sorted by what they write, as columns to bind in
// bulk: one statement per kind, however many consumers and events.
struct MarkColumns {
    std::vector<std::string> doneName, retryName, deadName, dropName, cursorName;
    std::vector<Int64> doneSeq, doneAttempts, doneAt;
    std::vector<Int64> retrySeq, retryAttempts, retryNext;
    std::vector<Int64> deadSeq, deadAttempts, deadAt;
    std::vector<std::string> deadId, deadType, deadSubject, deadError;
    std::vector<Int64> dropSeq, cursorSeq;

    bool empty() const { return doneSeq.empty() && retrySeq.empty() && deadSeq.empty() && cursorSeq.empty(); }

    void add(const std::string& name, const PendingMarks& pending, std::int64_t at) {
        for (const auto& [seq, m] : pending.marks) {
            switch (m.kind) {
                case DeliveryMark::Kind::Delivered:
                    if (m.row) {
                        doneName.push_back(name);
                        doneSeq.push_back(seq);
                        doneAttempts.push_back(m.attempts);
                        doneAt.push_back(at);
                    }
                    break;
                case DeliveryMark::Kind::Dead:
                    deadName.push_back(name);
                    deadSeq.push_back(seq);
                    deadId.push_back(m.id);
                    deadType.push_back(m.type);
                    deadSubject.push_back(m.subject);
                    deadAttempts.push_back(m.attempts);
                    deadError.push_back(m.lastError);
                    deadAt.push_back(at);
                    if (m.row) {
                        dropName.push_back(name);
                        dropSeq.push_back(seq);
                    }
                    break;
                case DeliveryMark::Kind::Retry:
                    retryName.push_back(name);
                    retrySeq.push_back(seq);
                    retryAttempts.push_back(m.attempts);
                    retryNext.push_back(m.nextAttemptAt);
                    break;
            }
        }
        if (pending.cursor) {
            cursorName.push_back(name);
            cursorSeq.push_back(*pending.cursor);
        }
    }
};

}  // namespace

std::size_t DeliveryStore::commit(const std::vector<std::string>& consumers, std::vector<PendingMarks>& marks,
                                  std::int64_t at, bool trace, const LeaseFence* fence) {
    MarkColumns c;
    auto columns = [&] {
        for (std::size_t i = 0; i < marks.size(); ++i) c.add(consumers[i], marks[i], at);
    };
    if (!fence) {
        columns();
        if (c.empty()) return 0;
    } else if (std::all_of(marks.begin(), marks.end(), [](const PendingMarks& p) { return p.empty(); })) {
        return 0;
    }
    std::size_t dropped = 0;
    try {
        // Every statement below writes, so the transaction asks for the write
        // lock with its first statement and waits (busy timeout) only here,
        // never on the delivery thread. With a fence (PostgreSQL, several
        // hubs) the lease rows are locked first.
        s_.begin();
        if (fence) {
            dropped = dropFenced(*fence, marks);
            columns();
            if (c.empty()) {
                s_.commit();
                return dropped;
            }
        }
        if (!c.doneSeq.empty()) {
            s_ << sql("INSERT INTO events_delivery(consumer, seq, attempts, next_attempt_at, delivered_at) "
                  "VALUES(?, ?, ?, 0, ?) ON CONFLICT(consumer, seq) DO UPDATE SET "
                  "attempts = excluded.attempts, delivered_at = excluded.delivered_at"),
                use(c.doneName), use(c.doneSeq), use(c.doneAttempts), use(c.doneAt), now;
        }
        if (!c.retrySeq.empty()) {
            s_ << sql("INSERT INTO events_delivery(consumer, seq, attempts, next_attempt_at, delivered_at) "
                  "VALUES(?, ?, ?, ?, NULL) ON CONFLICT(consumer, seq) DO UPDATE SET "
                  "attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at"),
                use(c.retryName), use(c.retrySeq), use(c.retryAttempts), use(c.retryNext), now;
        }
        if (!c.deadSeq.empty()) {
            s_ << sql("INSERT INTO events_dead_letters(consumer, seq, id, type, subject, attempts, "
                  "last_error, dead_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT(consumer, seq) DO UPDATE SET attempts = excluded.attempts, "
                  "last_error = excluded.last_error, dead_at = excluded.dead_at"),
                use(c.deadName), use(c.deadSeq), use(c.deadId), use(c.deadType), use(c.deadSubject),
                use(c.deadAttempts), use(c.deadError), use(c.deadAt), now;
        }
        if (!c.dropSeq.empty()) {
            s_ << sql("DELETE FROM events_delivery WHERE consumer = ? AND seq = ?"), use(c.dropName), use(c.dropSeq), now;
        }
        if (trace)
            for (std::size_t i = 0; i < marks.size(); ++i) traceDeliveries(consumers[i], marks[i], at);
        if (!c.cursorSeq.empty()) {
            s_ << sql("INSERT INTO events_cursor(consumer, seq) VALUES(?, ?) "
                  "ON CONFLICT(consumer) DO UPDATE SET seq = excluded.seq"),
                use(c.cursorName), use(c.cursorSeq), now;
            s_ << sql("DELETE FROM events_delivery WHERE consumer = ? AND seq <= ? AND delivered_at IS NOT NULL"),
                use(c.cursorName), use(c.cursorSeq), now;
        }
        s_.commit();
    } catch (...) {
        rollbackQuietly(s_);
        throw;
    }
    return dropped;
}

// Share-locks the lease row of each consumer that has marks, in name order (two
// committers never wait on each other in a cycle), and drops the marks of every
// consumer whose lease no longer names this node with the marks' token.
std::size_t DeliveryStore::dropFenced(const LeaseFence& fence, std::vector<PendingMarks>& marks) {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < marks.size(); ++i)
        if (!marks[i].empty()) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return fence.leases[a] < fence.leases[b]; });
    std::size_t dropped = 0;
    for (std::size_t i : order) {
        std::string name = fence.leases[i], holder = fence.holder;
        std::vector<Int64> tokens;
        s_ << sql("SELECT token FROM store_leases WHERE name = ? AND holder = ? FOR SHARE"), use(name), use(holder),
            into(tokens), now;
        if (tokens.size() == 1 && tokens.front() == marks[i].token) continue;
        marks[i].marks.clear();
        marks[i].cursor.reset();
        ++dropped;
    }
    return dropped;
}

std::vector<std::int64_t> DeliveryStore::cursors(const std::vector<std::string>& consumers) {
    std::vector<std::int64_t> out;
    for (const auto& consumer : consumers) {
        std::string name = consumer;
        std::vector<Int64> cursor;
        s_ << sql("SELECT seq FROM events_cursor WHERE consumer = ?"), use(name), into(cursor), now;
        out.push_back(cursor.empty() ? 0 : cursor.front());
    }
    return out;
}

// Each delivered event of an application, a hop of its trace, in the
// transaction that makes the delivery durable.
void DeliveryStore::traceDeliveries(const std::string& consumer, const PendingMarks& pending, std::int64_t at) {
    static const std::size_t prefix = std::string_view(kApplicationSubjectPrefix).size();
    for (const auto& [seq, m] : pending.marks) {
        if (m.kind != DeliveryMark::Kind::Delivered || m.subject.size() <= prefix) continue;
        hub::store::TraceLog::record(
            s_, {0, m.subject.substr(prefix), "", at, "event", m.type, "delivered", consumer + " " + m.id, -1});
    }
}

void DeliveryStore::prune(std::int64_t settledUpTo, std::int64_t before) {
    Int64 settled = settledUpTo;
    Int64 horizon = before;
    // Dead letters and pending replays keep their event for replay.
    s_ << sql("DELETE FROM events_outbox WHERE seq <= ? AND created_at < ? "
          "AND seq NOT IN (SELECT seq FROM events_dead_letters) "
          "AND seq NOT IN (SELECT seq FROM events_delivery WHERE delivered_at IS NULL)"),
        use(settled), use(horizon), now;
    s_ << sql("DELETE FROM events_inbox WHERE received_at < ?"), use(horizon), now;
}

// ---------------------------------------------------------------- dead letters

std::int64_t DeliveryStore::countDeadLetters() {
    Int64 dead = 0;
    s_ << sql("SELECT COUNT(*) FROM events_dead_letters"), into(dead), now;
    return dead;
}

std::vector<DeadLetter> DeliveryStore::deadLetters(const std::string& consumer, std::size_t limit, std::size_t offset) {
    std::string name = consumer;
    Int64 lim = static_cast<Int64>(limit), off = static_cast<Int64>(offset);
    std::vector<std::string> consumers, ids, types, subjects, errors, payloads;
    std::vector<Int64> seqs, deadAt;
    std::vector<int> attempts;
    s_ << sql("SELECT d.consumer, d.seq, d.id, d.type, d.subject, d.attempts, d.last_error, d.dead_at, "
          "COALESCE(o.payload, '') FROM events_dead_letters d LEFT JOIN events_outbox o ON o.seq = d.seq "
          "WHERE ? = '' OR d.consumer = ? ORDER BY d.dead_at, d.seq LIMIT ? OFFSET ?"),
        use(name), use(name), use(lim), use(off), into(consumers), into(seqs), into(ids), into(types), into(subjects),
        into(attempts), into(errors), into(deadAt), into(payloads), now;
    std::vector<DeadLetter> out;
    for (std::size_t i = 0; i < seqs.size(); ++i)
        out.push_back(
            {consumers[i], seqs[i], ids[i], types[i], subjects[i], attempts[i], errors[i], deadAt[i], payloads[i]});
    return out;
}

std::size_t DeliveryStore::replay(const std::string& consumer, const std::string& eventId) {
    std::string name = consumer, id = eventId;
    std::vector<Int64> seqs;
    s_.begin();
    try {
        // SQLite: a harmless write first, so the transaction takes the write
        // lock at once. (PostgreSQL locks rows, not the database.)
        if (dialect_ == hub::store::Dialect::Sqlite) s_ << "DELETE FROM events_dead_letters WHERE 0", now;
        s_ << sql("SELECT seq FROM events_dead_letters WHERE consumer = ? AND (? = '' OR id = ?)"), use(name), use(id),
            use(id), into(seqs), now;
        for (Int64 seq : seqs) {
            Int64 key = seq;
            s_ << sql("DELETE FROM events_dead_letters WHERE consumer = ? AND seq = ?"), use(name), use(key), now;
            s_ << sql("INSERT INTO events_delivery(consumer, seq, attempts, next_attempt_at, delivered_at) "
                  "VALUES(?, ?, 0, 0, NULL) ON CONFLICT(consumer, seq) DO UPDATE SET attempts = 0, "
                  "next_attempt_at = 0, delivered_at = NULL"),
                use(name), use(key), now;
        }
        s_.commit();
    } catch (...) {
        rollbackQuietly(s_);
        throw;
    }
    return seqs.size();
}

}  // namespace hub::events
