#pragma once

#include <stdexcept>
#include <string>

namespace hub::sql {

/// What went wrong with a query, in the categories a caller acts on.
enum class Failure {
    InvalidRequest,  ///< The request itself: bad parameters, an empty or oversized statement.
    Unavailable,     ///< The database cannot be reached, went away, or is shutting down.
    Timeout,         ///< The call's deadline passed (the statement was cancelled on the server).
    BadQuery,        ///< The database refused the statement: syntax, a missing view or column, a data error.
    Permission,      ///< The database refused the hub's account: no grant, or a write in a read-only transaction.
    BadAnswer,       ///< The answer cannot be passed on: not UTF-8, too many rows, too large.
};

/// "invalid_request", "unavailable", "timeout", "bad_query", "permission", "bad_answer".
const char* toString(Failure failure) noexcept;

/// A failed query. what() is safe to show: it names the data source and the
/// failure, never the DSN, the password or the statement's text.
class QueryError : public std::runtime_error {
public:
    QueryError(Failure failure, const std::string& detail, std::string sqlState = {})
        : std::runtime_error(detail), failure_(failure), sqlState_(std::move(sqlState)) {}
    Failure failure() const noexcept { return failure_; }
    /// The server's SQLSTATE ("42P01"), empty when the failure is not the server's answer.
    const std::string& sqlState() const noexcept { return sqlState_; }

private:
    Failure failure_;
    std::string sqlState_;
};

/// The category of a server's SQLSTATE (57014 is Timeout, 42501 Permission, ...).
Failure failureOf(const std::string& sqlState) noexcept;

}  // namespace hub::sql
