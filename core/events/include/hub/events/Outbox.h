#pragma once

#include "hub/events/CloudEvent.h"

#include <hub/store/Database.h>

#include <Poco/Data/Session.h>

#include <cstdint>
#include <vector>

namespace hub::events {

/// The transactional outbox: events are written in the same database transaction
/// as the state change that caused them, so after a crash either both exist or
/// neither does. The Relay reads the outbox and delivers what is committed.
///
/// Usage, with `s` a session of the hub's Database:
///
///     s.begin();
///     s << "UPDATE flows_applications SET status = ? WHERE id = ?", use(status), use(id), now;
///     Outbox::append(s, CloudEvent::create(EventType::ApplicationStatusChanged,
///                                          "/campus-hub", id, dataJson));
///     s.commit();   // or s.rollback(): the event disappears with the update
class Outbox {
public:
    /// The "events" module's schema steps (outbox, delivery state, dead letters, inbox).
    static std::vector<hub::store::Migration> migrations();

    /// Applies migrations() to `db`. Idempotent; the Relay calls it too.
    static void migrate(hub::store::Database& db);

    /// Validates `event`, serializes it and INSERTs it into events_outbox using the
    /// caller's session, inside the caller's open transaction (throws
    /// Poco::InvalidAccessException if `session` has none, EventError for an
    /// invalid event, Poco::Data exceptions for database errors, including a
    /// repeated event id). Returns the event's outbox sequence number. Nothing is
    /// visible to the Relay until the caller commits.
    static std::int64_t append(Poco::Data::Session& session, const CloudEvent& event);

    /// Milliseconds since the Unix epoch, the unit of every time column of the
    /// events tables.
    static std::int64_t nowMs();
};

}  // namespace hub::events
