#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace Poco::Data {
class Session;
}

namespace hub::store {

class Database;

/// One hop of an application's way through the hub (docs/privacy.md, "Trace").
struct TraceHop {
    std::int64_t seq = 0;        ///< Filled by list(): the order hops were written.
    std::string applicationId;
    std::string traceId;         ///< Filled by record() from the application's trace id.
    std::int64_t atMs = 0;       ///< When the hop began; record() takes now when 0.
    std::string kind;            ///< api, flow, plugin, event, decision.
    std::string name;            ///< e.g. "POST /api/v1/applications", "student_affairs.lookup".
    std::string outcome;         ///< e.g. "201", "ok", "unavailable", "delivered".
    std::string detail;          ///< Short, no personal data (ids and names of steps only).
    std::int64_t durationMs = -1;  ///< -1 when the hop has no duration.
};

/// The trace of each application: its W3C trace id (fixed at submit: the
/// portal's traceparent, or a new one) and every hop recorded under it.
/// Writers insert inside their own transaction (the hop commits with the state
/// change it describes) or, for hops without one, in a transaction of its own.
class TraceLog {
public:
    /// Creates the tables (schema module "trace"); idempotent.
    static void migrate(Database& db);

    /// A new random trace id: 32 lowercase hex digits, never all zero.
    static std::string newTraceId();

    /// Binds the application to its trace id, in the caller's transaction. A
    /// second bind of the same application keeps the first.
    static void bind(Poco::Data::Session& session, const std::string& applicationId, const std::string& traceId);
    /// The application's trace id, or "" when it has none.
    static std::string traceIdFor(Poco::Data::Session& session, const std::string& applicationId);

    /// Records a hop in the caller's session (inside its transaction, if open).
    static void record(Poco::Data::Session& session, TraceHop hop);

    explicit TraceLog(Database& db) : db_(db) {}

    /// Records a hop in a transaction of its own. Never throws: a trace that
    /// cannot be written is logged (hub.trace), and the work it describes goes on.
    void record(TraceHop hop) noexcept;

    /// The application's trace id and its hops in the order they happened (by
    /// atMs, then by write order); nullopt when the application has no trace.
    struct Trace {
        std::string traceId;
        std::vector<TraceHop> hops;
    };
    std::optional<Trace> list(const std::string& applicationId, std::size_t limit = 1000);

    /// Now, in milliseconds since the epoch.
    static std::int64_t nowMs();

private:
    Database& db_;
};

}  // namespace hub::store
