#pragma once
// The plain records the relay's parts hand each other: what the DeliveryStore
// reads (outbox rows, a consumer's saved delivery state), the marks the delivery
// thread hands the DeliveryCommitter, and the completions it reports back.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace hub::events {

/// The subject of an application's events ("applications/<id>"): their
/// deliveries are hops of the application's trace (store::TraceLog).
inline constexpr const char* kApplicationSubjectPrefix = "applications/";

/// One row of events_outbox.
struct OutboxEvent {
    std::int64_t seq = 0;
    std::string id;
    std::string type;
    std::string subject;
    std::string payload;
    std::int64_t createdAt = 0;
};

/// What the store holds of one consumer's delivery when the relay starts.
struct SavedDelivery {
    std::int64_t cursor = 0;  ///< events_cursor.seq: everything up to it is settled.
    /// Beyond the cursor: delivered events and dead letters (nothing to send).
    std::set<std::int64_t> settledBeyond;
    /// Beyond the cursor: events that failed before, as (attempts, next attempt at).
    std::map<std::int64_t, std::pair<int, std::int64_t>> attemptsBeyond;
    /// At or below the cursor and not delivered: replayed dead letters, as (seq, attempts).
    std::vector<std::pair<std::int64_t, int>> replays;
};

/// One durable change to a consumer's delivery state. Only the latest mark of an
/// event matters: a later one replaces an earlier one not yet committed.
struct DeliveryMark {
    enum class Kind { Delivered, Retry, Dead };
    Kind kind = Kind::Retry;
    /// Delivered: write a delivery row (the event lies beyond the cursor, or a
    /// retry row exists). Dead: delete the event's retry row.
    bool row = false;
    int attempts = 0;
    std::int64_t nextAttemptAt = 0;
    std::string id, type, subject, lastError;  // Dead; Delivered: an application's event (id, type, subject)
};

/// One consumer's marks not yet committed, by outbox seq, and the cursor to
/// store with them.
struct PendingMarks {
    std::map<std::int64_t, DeliveryMark> marks;
    std::optional<std::int64_t> cursor;
    /// Several hubs: the consumer's lease token and this node's tenure
    /// (DeliveryLoop counts them) the marks were taken under. Marks of an
    /// earlier tenure are dropped (its events are sent again), and the
    /// committer writes only while the lease still has this token.
    std::int64_t token = 0;
    std::uint64_t tenure = 0;

    bool empty() const { return marks.empty() && !cursor; }

    /// Takes `newer` (leaving it empty); its marks and cursor win, since the
    /// delivery thread hands marks over in order.
    void absorb(PendingMarks& newer) {
        if (newer.empty()) return;
        if (newer.tenure != tenure) {
            // A new tenure starts from the stored state: what the old one did
            // not commit is not to be committed now.
            marks.clear();
            cursor.reset();
            tenure = newer.tenure;
            token = newer.token;
        }
        if (marks.empty()) {
            marks.swap(newer.marks);  // the usual case: nothing was waiting
        } else {
            marks.merge(newer.marks);  // moves the nodes of events not marked here yet
            for (auto& [seq, mark] : newer.marks) marks[seq] = std::move(mark);  // the others replace theirs
            newer.marks.clear();
        }
        if (newer.cursor) cursor = newer.cursor;
        newer.cursor.reset();
    }
};

/// What one commit made durable for one consumer: the delivery thread releases
/// those events' window slots and moves its cursor.
struct Completion {
    std::size_t consumer = 0;           ///< Index in RelayConfig::consumers.
    std::uint64_t tenure = 0;           ///< PendingMarks::tenure: a report for an earlier tenure is ignored.
    std::vector<std::int64_t> settled;  ///< Seqs of its Delivered and Dead marks.
    std::optional<std::int64_t> cursor;
};

}  // namespace hub::events
