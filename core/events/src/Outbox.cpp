#include "hub/events/Outbox.h"

#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include <chrono>

using namespace Poco::Data::Keywords;

namespace hub::events {

std::vector<hub::store::Migration> Outbox::migrations() {
    // Times are INTEGER milliseconds since the epoch (cheap to compare, portable).
    // seq orders the outbox; SQLite serializes writers, so seq order is commit
    // order and the relay can read "everything after seq N" without gaps.
    return {{1,
             {"CREATE TABLE events_outbox ("
              " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
              " id TEXT NOT NULL UNIQUE,"
              " type TEXT NOT NULL,"
              " subject TEXT NOT NULL DEFAULT '',"
              " payload TEXT NOT NULL,"
              " created_at INTEGER NOT NULL)",
              // Per consumer: every event with seq <= cursor is settled
              // (delivered, dead-lettered, or filtered out by type).
              "CREATE TABLE events_cursor ("
              " consumer TEXT PRIMARY KEY,"
              " seq INTEGER NOT NULL)",
              // Per consumer and event, only where the cursor does not tell the
              // whole story: retries (attempts, next_attempt_at), events settled
              // out of order beyond the cursor, and replays of dead letters.
              "CREATE TABLE events_delivery ("
              " consumer TEXT NOT NULL,"
              " seq INTEGER NOT NULL,"
              " attempts INTEGER NOT NULL DEFAULT 0,"
              " next_attempt_at INTEGER NOT NULL DEFAULT 0,"
              " delivered_at INTEGER,"
              " PRIMARY KEY (consumer, seq))",
              "CREATE TABLE events_dead_letters ("
              " consumer TEXT NOT NULL,"
              " seq INTEGER NOT NULL,"
              " id TEXT NOT NULL,"
              " type TEXT NOT NULL,"
              " subject TEXT NOT NULL,"
              " attempts INTEGER NOT NULL,"
              " last_error TEXT NOT NULL,"
              " dead_at INTEGER NOT NULL,"
              " PRIMARY KEY (consumer, seq))",
              // Inbound events applied once: a repeated id is acknowledged and ignored.
              "CREATE TABLE events_inbox ("
              " id TEXT PRIMARY KEY,"
              " type TEXT NOT NULL,"
              " source TEXT NOT NULL,"
              " subject TEXT NOT NULL,"
              " received_at INTEGER NOT NULL)",
              "CREATE INDEX events_outbox_created ON events_outbox(created_at)"},
             // PostgreSQL: several hubs append at once, and transactions commit
             // out of seq order. The relay passes a seq only once every
             // transaction that may still commit a lower one has ended
             // (OutboxHorizon), which needs each appending transaction to have
             // its id before it draws its seq: the default takes both, in that
             // order. (An identity column draws the seq before the row's insert
             // assigns the transaction id.) Times are BIGINT.
             {"CREATE SEQUENCE events_outbox_seq",
              "CREATE FUNCTION events_outbox_next_seq() RETURNS BIGINT LANGUAGE plpgsql AS "
              "'BEGIN PERFORM pg_current_xact_id(); RETURN nextval(''events_outbox_seq''); END'",
              "CREATE TABLE events_outbox ("
              " seq BIGINT PRIMARY KEY DEFAULT events_outbox_next_seq(),"
              " id TEXT NOT NULL UNIQUE,"
              " type TEXT NOT NULL,"
              " subject TEXT NOT NULL DEFAULT '',"
              " payload TEXT NOT NULL,"
              " created_at BIGINT NOT NULL)",
              "ALTER SEQUENCE events_outbox_seq OWNED BY events_outbox.seq",
              "CREATE TABLE events_cursor ("
              " consumer TEXT PRIMARY KEY,"
              " seq BIGINT NOT NULL)",
              "CREATE TABLE events_delivery ("
              " consumer TEXT NOT NULL,"
              " seq BIGINT NOT NULL,"
              " attempts INTEGER NOT NULL DEFAULT 0,"
              " next_attempt_at BIGINT NOT NULL DEFAULT 0,"
              " delivered_at BIGINT,"
              " PRIMARY KEY (consumer, seq))",
              "CREATE TABLE events_dead_letters ("
              " consumer TEXT NOT NULL,"
              " seq BIGINT NOT NULL,"
              " id TEXT NOT NULL,"
              " type TEXT NOT NULL,"
              " subject TEXT NOT NULL,"
              " attempts INTEGER NOT NULL,"
              " last_error TEXT NOT NULL,"
              " dead_at BIGINT NOT NULL,"
              " PRIMARY KEY (consumer, seq))",
              // The primary key is the de-duplication across hubs: a second
              // hub inserting the same id waits for the first one's commit,
              // then inserts nothing.
              "CREATE TABLE events_inbox ("
              " id TEXT PRIMARY KEY,"
              " type TEXT NOT NULL,"
              " source TEXT NOT NULL,"
              " subject TEXT NOT NULL,"
              " received_at BIGINT NOT NULL)",
              "CREATE INDEX events_outbox_created ON events_outbox(created_at)"}}};
}

void Outbox::migrate(hub::store::Database& db) { db.migrate("events", migrations()); }

std::int64_t Outbox::nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t Outbox::append(Poco::Data::Session& session, const CloudEvent& event) {
    if (!session.isTransaction())
        throw Poco::InvalidAccessException(
            "Outbox::append must run inside the caller's open transaction (call begin() first)");
    std::string payload = event.toJson();
    std::string id = event.id;
    std::string type = event.type;
    std::string subject = event.subject;
    Poco::Int64 createdAt = nowMs();
    // One statement (RETURNING: SQLite 3.35+, PostgreSQL) instead of a second
    // round for last_insert_rowid(): appends sit in the caller's transaction.
    Poco::Int64 seq = 0;
    session << hub::store::sql(session, "INSERT INTO events_outbox(id, type, subject, payload, created_at) "
                                        "VALUES(?, ?, ?, ?, ?) RETURNING seq"),
        use(id), use(type), use(subject), use(payload), use(createdAt), into(seq), now;
    return seq;
}

}  // namespace hub::events
