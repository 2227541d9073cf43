#pragma once

#include "hub/sql/QueryError.h"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>


namespace hub::sql {

using Clock = std::chrono::steady_clock;

/// One data source as campus IT configures it (hub.xml, sql/sources/<name>).
struct SourceOptions {
    std::string name;
    /// libpq conninfo, keyword/value ("host=10.0.0.5 port=5432 dbname=fin") or
    /// URI, WITHOUT a password (refused: the secret comes from a file).
    std::string conninfo;
    std::string user;
    std::string password;  ///< Secret: never logged, never in an error.
    std::size_t poolSize = 4;
    bool writable = false;  ///< false: every statement runs in a READ ONLY transaction.
    std::size_t maxRows = 10000;
    std::size_t maxAnswerBytes = 16 * 1024 * 1024;
    std::vector<std::string> plugins;  ///< The plugins that may use it.
};

/// Throws std::invalid_argument naming what is wrong with options (a name that
/// is not [a-z0-9_-], a conninfo libpq cannot parse or that holds a password, ...).
void validate(const SourceOptions& options);

/// A PostgreSQL data source: a bounded pool of libpq connections, and queries
/// run on it with parameters always bound, bounded by a deadline.
///
/// Each query is one statement (the extended protocol refuses two) in its own
/// transaction: BEGIN READ ONLY ... ROLLBACK unless the source is writable
/// (BEGIN ... COMMIT), with statement_timeout set to the time left, sent in one
/// round trip (libpq's pipeline mode). When the deadline passes first the
/// statement is cancelled on the server (PQcancel) and its connection dropped.
/// A read-only query that meets a connection the server closed (a restart) is
/// tried once more on a new one. Thread-safe.
///
/// The answer is JSON: {"columns":[{"name":"...","type":"numeric"},...],
/// "rows":[{"name":value,...},...],"affected":N}. Values: NULL is null; bool is
/// true/false; int2/int4/int8/oid and finite float4/float8 are JSON numbers
/// (int8 beyond 2^53 loses precision in JavaScript: cast it to text if that
/// matters); numeric (money amounts) and everything else are strings as the
/// server writes them, dates and times in ISO 8601 (DateStyle ISO, TimeZone UTC).
class DataSource {
public:
    explicit DataSource(SourceOptions options);  ///< validate()s; connects lazily.
    ~DataSource();
    DataSource(const DataSource&) = delete;
    DataSource& operator=(const DataSource&) = delete;

    const SourceOptions& options() const noexcept { return options_; }

    /// Runs sql with paramsJson (a JSON array of strings, numbers, booleans and
    /// nulls for $1..$n; empty text: no parameters). Throws QueryError.
    std::string query(std::string_view sql, std::string_view paramsJson, Clock::time_point deadline);

    /// Connections open now (idle and in use).
    std::size_t openConnections() const;

    struct Pool;  ///< Private (src/DataSource.cpp).

private:
    SourceOptions options_;
    std::unique_ptr<Pool> pool_;
};

/// Upper bounds on a request.
inline constexpr std::size_t kMaxStatementBytes = 64 * 1024;
inline constexpr std::size_t kMaxParameters = 100;
inline constexpr std::size_t kMaxParametersBytes = 1024 * 1024;

}  // namespace hub::sql
