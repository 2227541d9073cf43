#pragma once

// A statement of a hot path (the flow engine's step: load, save) prepared once
// per connection and kept with it. Poco::Data prepares a statement anew on
// every execution; at a few statements per step that was most of a durable
// flow step's cost beyond its commit (docs/bench/flows.md).

#include <Poco/Data/Session.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;
struct pg_conn;
struct pg_result;

namespace hub::store {

namespace detail {
class StatementCache;
}

/// One use of a cached statement, for the duration of one session's use.
///
/// The statement is prepared the first time a connection of the Database's
/// pool meets `sql`, and kept in that connection's cache until the connection
/// closes (finalized just before). A session that is not the pool's, or a
/// second use of the same `sql` on a session while the first is alive, gets
/// a statement of its own, finalized with this object. When this object dies
/// the statement is reset and its bindings cleared, so it holds no lock and
/// no data between uses. Errors throw as Poco::Data's SQLite statements do
/// (Poco::Data::SQLite exceptions carrying SQLite's message).
///
/// On PostgreSQL the statement (`?` numbered by store::sql()) is prepared on
/// the server once per pooled connection (libpq's PQprepare, named after its
/// place in the connection's cache) and run with PQexecPrepared: one round
/// trip per execution, the rows read at once. Parameters go as text, typed by
/// the server. Errors throw StoreUnavailable for the store's own faults (a
/// lost connection: StoreFault::Io), else Poco::Data::DataException with the
/// server's message.
///
///     store::PreparedStatement update(session, "UPDATE t SET a = ? WHERE id = ?");
///     update.bind(1, a).bind(2, id);
///     if (update.execute() == 0) ...
class PreparedStatement {
public:
    /// `sql` is the cache's key: a literal, or text that lives as long as the
    /// Database (its address and content must not change).
    PreparedStatement(Poco::Data::Session& session, const char* sql);
    ~PreparedStatement();
    PreparedStatement(const PreparedStatement&) = delete;
    PreparedStatement& operator=(const PreparedStatement&) = delete;

    /// Binds parameter `index` (from 1); the text is copied.
    PreparedStatement& bind(int index, std::string_view text);
    PreparedStatement& bind(int index, std::int64_t value);
    PreparedStatement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }

    /// Runs a statement that returns no rows; the number of rows it changed.
    int execute();

    /// Steps to the next row: false when there is none (then done).
    bool next();
    std::string text(int column) const;
    std::int64_t integer(int column) const;

private:
    void runPostgres();

    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
    // PostgreSQL: the connection, the statement's name there, the parameters
    // bound so far (as text), and the rows of the last execution.
    pg_conn* pg_ = nullptr;
    std::string pgName_;
    std::vector<std::string> params_;
    pg_result* result_ = nullptr;
    int row_ = -1;
    bool owned_ = false;  // not from a connection's cache: finalized here
    detail::StatementCache* cache_ = nullptr;  // the cache it came from, given back to when done
    const char* sql_;
};

}  // namespace hub::store
