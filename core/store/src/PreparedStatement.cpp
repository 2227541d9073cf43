#include "hub/store/PreparedStatement.h"

#include "ConnectionPool.h"

#include "hub/store/StoreError.h"

#include <sqlite3.h>

#include <Poco/Data/DataException.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Exception.h>

#include <libpq-fe.h>

#include <charconv>

namespace hub::store {

namespace {

// A failed libpq call as the exception the store's callers classify (as the
// audit batch does): StoreUnavailable for the store's own faults, else the
// server's message.
[[noreturn]] void throwPreparedFailure(PGconn* db, PGresult* result, const std::string& what) {
    const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    std::string message = what + ": " + (result ? PQresultErrorMessage(result) : PQerrorMessage(db));
    while (!message.empty() && message.back() == '\n') message.pop_back();
    auto fault =
        PQstatus(db) != CONNECTION_OK ? std::optional<StoreFault>(StoreFault::Io) : classifyPostgresState(state);
    if (result) PQclear(result);
    if (fault) throw StoreUnavailable(*fault, message);
    throw Poco::Data::DataException(message);
}

}  // namespace

PreparedStatement::PreparedStatement(Poco::Data::Session& session, const char* sql) : sql_(sql) {
    if (auto* lease = dynamic_cast<detail::PooledSession*>(session.impl())) {
        db_ = lease->handle();
        if (!db_) {
            pg_ = lease->postgres();
            auto& cache = lease->statements();
            pgName_ = cache.postgresName(sql);
            if (pgName_.empty()) {
                std::string name = "hub_prepared_" + std::to_string(cache.postgresCount() + 1);
                PGresult* prepared =
                    PQprepare(pg_, name.c_str(), store::sql(Dialect::PostgreSql, sql).c_str(), 0, nullptr);
                if (PQresultStatus(prepared) != PGRES_COMMAND_OK)
                    throwPreparedFailure(pg_, prepared, std::string("preparing: ") + sql);
                PQclear(prepared);
                cache.preparedOnPostgres(sql, name);
                pgName_ = std::move(name);
            }
            return;
        }
        stmt_ = lease->statements().acquire(db_, sql);
        if (stmt_) {
            cache_ = &lease->statements();
            return;
        }
    } else {
        db_ = Poco::Data::SQLite::Utility::dbHandle(session);
    }
    // Not the pool's session, or the cached statement is in use here already.
    const int rc = sqlite3_prepare_v2(db_, sql, -1, &stmt_, nullptr);
    if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db_, rc, std::string("preparing: ") + sql);
    owned_ = true;
}

PreparedStatement::~PreparedStatement() {
    if (pg_) {
        if (result_) PQclear(result_);
        return;
    }
    if (owned_) {
        sqlite3_finalize(stmt_);
        return;
    }
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    cache_->release(sql_);
}

PreparedStatement& PreparedStatement::bind(int index, std::string_view text) {
    if (pg_) {
        if (params_.size() < static_cast<std::size_t>(index)) params_.resize(static_cast<std::size_t>(index));
        params_[static_cast<std::size_t>(index) - 1].assign(text);
        return *this;
    }
    const int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db_, rc, std::string("binding: ") + sql_);
    return *this;
}

PreparedStatement& PreparedStatement::bind(int index, std::int64_t value) {
    if (pg_) return bind(index, std::string_view(std::to_string(value)));
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db_, rc, std::string("binding: ") + sql_);
    return *this;
}

void PreparedStatement::runPostgres() {
    if (result_) PQclear(result_);
    result_ = nullptr;
    row_ = -1;
    std::vector<const char*> values;
    values.reserve(params_.size());
    for (const auto& param : params_) values.push_back(param.c_str());
    PGresult* result =
        PQexecPrepared(pg_, pgName_.c_str(), static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0);
    const auto status = PQresultStatus(result);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throwPreparedFailure(pg_, result, sql_);
    result_ = result;
}

int PreparedStatement::execute() {
    if (pg_) {
        runPostgres();
        const char* changed = PQcmdTuples(result_);
        return changed && *changed ? std::atoi(changed) : 0;
    }
    int rc;
    while ((rc = sqlite3_step(stmt_)) == SQLITE_ROW) {
    }
    // On an error the statement stays as it is (SQLite's message intact) until the destructor resets it.
    if (rc != SQLITE_DONE) Poco::Data::SQLite::Utility::throwException(db_, rc, sql_);
    const int changed = sqlite3_changes(db_);
    sqlite3_reset(stmt_);
    return changed;
}

bool PreparedStatement::next() {
    if (pg_) {
        if (!result_) runPostgres();
        return ++row_ < PQntuples(result_);
    }
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    Poco::Data::SQLite::Utility::throwException(db_, rc, sql_);
    return false;
}

std::string PreparedStatement::text(int column) const {
    if (pg_)
        return std::string(PQgetvalue(result_, row_, column),
                           static_cast<std::size_t>(PQgetlength(result_, row_, column)));
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
}

std::int64_t PreparedStatement::integer(int column) const {
    if (pg_) {
        const char* value = PQgetvalue(result_, row_, column);
        std::int64_t out = 0;
        std::from_chars(value, value + PQgetlength(result_, row_, column), out);
        return out;
    }
    return sqlite3_column_int64(stmt_, column);
}

}  // namespace hub::store
