#pragma once
// Internal to hub::store: the sessions Database hands out.

#include "hub/store/Database.h"

#include <Poco/Data/SessionImpl.h>

#include <atomic>
#include <memory>
#include <unordered_map>
#include <condition_variable>
#include <mutex>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;
struct pg_conn;
typedef struct pg_conn PGconn;

namespace hub::store::detail {

class FaultMonitor;

/// A connection's prepared statements, by their SQL text's address; used by
/// one thread at a time (the one holding the connection's lease).
class StatementCache {
public:
    StatementCache() = default;
    StatementCache(const StatementCache&) = delete;
    StatementCache& operator=(const StatementCache&) = delete;
    ~StatementCache();  ///< Finalizes them all.
    /// The statement for `sql` on `handle`, prepared on first use, marked in
    /// use until release(); nullptr while it is in use already (a nested use
    /// of the same text gets a statement of its own).
    sqlite3_stmt* acquire(sqlite3* handle, const char* sql);
    void release(const char* sql);

    /// PostgreSQL: the name `sql` is prepared under on this connection, empty
    /// before it is (then the caller prepares it and calls preparedOnPostgres()).
    /// Server-side statements go with the connection; nothing to finalize.
    const std::string& postgresName(const char* sql) const;
    void preparedOnPostgres(const char* sql, std::string name) { postgres_[sql] = std::move(name); }
    std::size_t postgresCount() const noexcept { return postgres_.size(); }

private:
    struct Entry {
        sqlite3_stmt* statement = nullptr;
        bool inUse = false;
    };
    std::unordered_map<const char*, Entry> statements_;
    std::unordered_map<const char*, std::string> postgres_;
};

/// Where the connections go: the SQLite file, or PostgreSQL's connection
/// string with the password (kept here only, never logged).
struct Target {
    Database::Backend backend = Database::Backend::Sqlite;
    std::string path;       // SQLite
    std::string conninfo;   // PostgreSQL, with password and timeouts
    std::string describe;   // for messages: the path, or the conninfo without password
};

/// Rolls back whatever transaction the connection still has open; false if it
/// could not (the connection is then not fit to be reused).
bool rollbackOpenTransaction(sqlite3* handle);
bool rollbackOpenTransaction(PGconn* handle);

/// The libpq connection under a session the Database handed out on PostgreSQL
/// (nullptr on SQLite): for the hot paths that bypass Poco::Data (the audit batch).
PGconn* postgresHandle(Poco::Data::Session& session);

/// The sessions: SQLite connections opened on demand up to a ceiling, handed
/// out wrapped in a PooledSession that brings them back. Poco's SessionPool throws when
/// exhausted, and cannot close the connections it has, which recovering from a
/// read-only file needs: SQLite shares one -shm mapping among all connections
/// of a process to a file, so while one read-only connection is open every new
/// one is read-only too. This pool waits, and can be drained.
class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
public:
    struct Connection {
        Poco::AutoPtr<Poco::Data::SessionImpl> impl;
        sqlite3* handle = nullptr;
        PGconn* pg = nullptr;
        /// Its cached statements (PreparedStatement.h). Declared last, so
        /// destroyed first: finalized before the connection closes.
        std::shared_ptr<StatementCache> statements = std::make_shared<StatementCache>();
    };

    ConnectionPool(Target target, const Database::Options& options, FaultMonitor& monitor)
        : target_(std::move(target)), max_(std::max<std::size_t>(1, options.maxSessions)),
          busyTimeoutSeconds_(static_cast<std::size_t>(std::max(0, options.busyTimeoutSeconds))),
          wait_(options.sessionWait), monitor_(monitor) {}

    Poco::Data::Session acquire();
    void release(Connection connection, std::uint64_t generation);

    /// False when `generation` is older than the pool's (the connection is
    /// closed when it comes back).
    bool current(std::uint64_t generation) const noexcept {
        return generation == generation_.load(std::memory_order_relaxed);
    }

    /// Closes every connection: the idle ones now; new sessions wait while
    /// those in use come back, and are closed, for at most `timeout`. True when
    /// none is left open; call resume() in any case.
    bool drain(std::chrono::milliseconds timeout);
    void resume();

    /// After the Database is gone, a session still out closes its connection
    /// when it comes back instead of returning it.
    void detach() {
        std::unique_lock lock(mutex_);
        detached_ = true;
        generation_.fetch_add(1, std::memory_order_relaxed);
        closeIdle(lock);
    }

private:
    Connection open();
    Connection openPostgres();
    void closeIdle(std::unique_lock<std::mutex>& lock);

    const Target target_;
    const std::size_t max_;
    const std::size_t busyTimeoutSeconds_;
    const std::chrono::milliseconds wait_;
    FaultMonitor& monitor_;
    std::mutex mutex_;
    std::condition_variable freed_;
    std::vector<Connection> idle_;
    std::size_t open_ = 0;  // idle, in use, and being opened
    std::atomic<std::uint64_t> generation_{0};  // written under mutex_; renew() reads it without
    bool draining_ = false;
    bool detached_ = false;
};

/// A pooled connection as callers see it: every call goes to the connection;
/// close() or the last Session copy gives it back to the pool.
class PooledSession final : public Poco::Data::SessionImpl {
public:
    PooledSession(std::shared_ptr<ConnectionPool> pool, ConnectionPool::Connection connection, std::uint64_t generation)
        : SessionImpl(connection.impl->connectionString(), connection.impl->getLoginTimeout()),
          pool_(std::move(pool)), connection_(std::move(connection)), generation_(generation) {}

    ~PooledSession() override { close(); }

    Poco::SharedPtr<Poco::Data::StatementImpl> createStatementImpl() override { return inner().createStatementImpl(); }
    void open(const std::string& connect) override { inner().open(connect); }
    void close() override {
        if (pool_) {
            auto pool = std::move(pool_);
            pool->release(std::move(connection_), generation_);
        }
    }
    /// False once the pool has been drained since this session was taken, or
    /// once it was closed.
    bool current() const noexcept { return pool_ && pool_->current(generation_); }
    /// The connection's statement cache and handle (PreparedStatement).
    StatementCache& statements() const { return (inner(), *connection_.statements); }
    sqlite3* handle() const noexcept { return connection_.handle; }
    PGconn* postgres() const noexcept { return connection_.pg; }

    bool isConnected() const override { return connection_.impl && connection_.impl->isConnected(); }
    bool isGood() const override { return connection_.impl && connection_.impl->isGood(); }
    void setConnectionTimeout(std::size_t timeout) override { inner().setConnectionTimeout(timeout); }
    std::size_t getConnectionTimeout() const override { return inner().getConnectionTimeout(); }
    void reset() override { inner().reset(); }
    void begin() override { inner().begin(); }
    void commit() override { inner().commit(); }
    void rollback() override { inner().rollback(); }
    bool canTransact() const override { return inner().canTransact(); }
    bool isTransaction() const override { return inner().isTransaction(); }
    void setTransactionIsolation(Poco::UInt32 level) override { inner().setTransactionIsolation(level); }
    Poco::UInt32 getTransactionIsolation() const override { return inner().getTransactionIsolation(); }
    bool hasTransactionIsolation(Poco::UInt32 level) const override { return inner().hasTransactionIsolation(level); }
    bool isTransactionIsolation(Poco::UInt32 level) const override { return inner().isTransactionIsolation(level); }
    const std::string& connectorName() const override { return inner().connectorName(); }
    void setFeature(const std::string& name, bool state) override { inner().setFeature(name, state); }
    bool getFeature(const std::string& name) override { return inner().getFeature(name); }
    void setProperty(const std::string& name, const Poco::Any& value) override { inner().setProperty(name, value); }
    Poco::Any getProperty(const std::string& name) override { return inner().getProperty(name); }

private:
    Poco::Data::SessionImpl& inner() const {
        if (!connection_.impl) throw Poco::Data::SessionUnavailableException("the session was returned to the pool");
        return *connection_.impl;
    }

    std::shared_ptr<ConnectionPool> pool_;
    mutable ConnectionPool::Connection connection_;  // const calls forward to the connection
    std::uint64_t generation_;
};

}  // namespace hub::store::detail
