#include "hub/store/PreparedStatement.h"

#include "ConnectionPool.h"

#include <sqlite3.h>

#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Exception.h>

namespace hub::store {

PreparedStatement::PreparedStatement(Poco::Data::Session& session, const char* sql) : sql_(sql) {
    if (auto* lease = dynamic_cast<detail::PooledSession*>(session.impl())) {
        db_ = lease->handle();
        // The engine's hot path is SQLite's C API; on PostgreSQL its modules
        // are not ported yet (docs/store.md).
        if (!db_) throw Poco::NotImplementedException("prepared statements of the store need its SQLite backend");
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
    if (owned_) {
        sqlite3_finalize(stmt_);
        return;
    }
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    cache_->release(sql_);
}

PreparedStatement& PreparedStatement::bind(int index, std::string_view text) {
    const int rc = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db_, rc, std::string("binding: ") + sql_);
    return *this;
}

PreparedStatement& PreparedStatement::bind(int index, std::int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_, index, value);
    if (rc != SQLITE_OK) Poco::Data::SQLite::Utility::throwException(db_, rc, std::string("binding: ") + sql_);
    return *this;
}

int PreparedStatement::execute() {
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
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    Poco::Data::SQLite::Utility::throwException(db_, rc, sql_);
    return false;
}

std::string PreparedStatement::text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))) : std::string();
}

std::int64_t PreparedStatement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }

}  // namespace hub::store
