#include "ConnectionPool.h"

#include "FaultMonitor.h"

#include <sqlite3.h>

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/PostgreSQL/SessionImpl.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Exception.h>

#include <libpq-fe.h>

#include <poll.h>

#include <algorithm>

namespace hub::store::detail {

bool rollbackOpenTransaction(sqlite3* handle) {
    if (sqlite3_get_autocommit(handle)) return true;
    return sqlite3_exec(handle, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK;
}

StatementCache::~StatementCache() {
    for (auto& [sql, entry] : statements_) sqlite3_finalize(entry.statement);
}

sqlite3_stmt* StatementCache::acquire(sqlite3* handle, const char* sql) {
    auto& entry = statements_[sql];
    if (entry.inUse) return nullptr;
    if (!entry.statement) {
        const int rc = sqlite3_prepare_v3(handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &entry.statement, nullptr);
        if (rc != SQLITE_OK) {
            statements_.erase(sql);
            Poco::Data::SQLite::Utility::throwException(handle, rc, std::string("preparing: ") + sql);
        }
    }
    entry.inUse = true;
    return entry.statement;
}

const std::string& StatementCache::postgresName(const char* sql) const {
    static const std::string none;
    auto found = postgres_.find(sql);
    return found == postgres_.end() ? none : found->second;
}

void StatementCache::release(const char* sql) {
    auto found = statements_.find(sql);
    if (found != statements_.end()) found->second.inUse = false;
}

bool rollbackOpenTransaction(PGconn* handle) {
    if (PQstatus(handle) != CONNECTION_OK) return false;
    const PGTransactionStatusType state = PQtransactionStatus(handle);
    if (state == PQTRANS_IDLE) return true;
    if (state == PQTRANS_ACTIVE || state == PQTRANS_UNKNOWN) return false;  // mid-command: not reusable
    PGresult* result = PQexec(handle, "ROLLBACK");
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
    return ok && PQtransactionStatus(handle) == PQTRANS_IDLE;
}

// Whether an idle connection is still fit, without a round trip: nothing is
// due from the server on an idle connection, so a socket with something to
// read has been told goodbye (a shutdown sends FATAL 57P01, then closes) or
// was closed; one poll(2) with no wait. Such a connection is dropped, never
// repaired: a fresh one costs a connect.
bool alive(PGconn* connection) {
    if (PQstatus(connection) != CONNECTION_OK) return false;
    pollfd socket{PQsocket(connection), POLLIN, 0};
    if (socket.fd < 0) return false;
    return ::poll(&socket, 1, 0) == 0;
}

PGconn* postgresHandle(Poco::Data::Session& session) {
    auto* pooled = dynamic_cast<PooledSession*>(session.impl());
    return pooled ? pooled->postgres() : nullptr;
}

// Closes a connection that is being dropped. Poco 1.11's PostgreSQL session
// calls PQfinish only on a connection whose status is still OK, so one the
// server dropped (a restart, a cut network) kept its libpq buffers, 35 KiB and
// more, for ever (LeakSanitizer). Such a one is finished here, and Poco's
// session object, which still points at it, is parked where it is never
// destroyed (a few hundred bytes per connection lost, at most maxSessions per
// outage) rather than let its destructor read what was freed.
namespace {

void closeConnection(ConnectionPool::Connection& c) {
    c.statements.reset();  // finalized while the connection is still open
    if (c.pg != nullptr && PQstatus(c.pg) != CONNECTION_OK) {
        PQfinish(c.pg);
        c.pg = nullptr;
        static std::mutex parkedMutex;
        static auto* parked = new std::vector<Poco::AutoPtr<Poco::Data::SessionImpl>>();
        std::lock_guard lock(parkedMutex);
        parked->push_back(std::move(c.impl));
    }
    c = ConnectionPool::Connection();
}

}  // namespace

ConnectionPool::Connection ConnectionPool::openPostgres() {
    Connection c;
    // Poco 1.11's connector does not PQfinish a connection that failed (found
    // by LeakSanitizer: about 35 KiB a try), and a store that is down is tried
    // again and again. So libpq tries first, and frees what it made whatever
    // the outcome; Poco connects only to a server that has just let us in.
    {
        PGconn* trial = PQconnectdb(target_.conninfo.c_str());
        const bool ok = trial && PQstatus(trial) == CONNECTION_OK;
        std::string why = ok || !trial ? std::string() : PQerrorMessage(trial);
        PQfinish(trial);
        if (!ok) {
            while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
            const std::string message = "cannot connect to PostgreSQL (" + target_.describe + "): " +
                                        (why.empty() ? std::string("out of memory") : why);
            monitor_.degrade(StoreFault::Io, message);
            throw StoreUnavailable(StoreFault::Io, message);
        }
    }
    try {
        Poco::Data::Session session(Poco::Data::PostgreSQL::Connector::KEY, target_.conninfo);
        c.impl = Poco::AutoPtr<Poco::Data::SessionImpl>(session.impl(), true);
        c.pg = static_cast<Poco::Data::PostgreSQL::SessionImpl*>(c.impl.get())->handle();
        // libpq prints NOTICEs ("relation already exists, skipping") on stderr; they say nothing to an operator.
        PQsetNoticeProcessor(c.pg, [](void*, const char*) {}, nullptr);
    } catch (const Poco::Exception& e) {
        // libpq's message names host and port, never the password.
        const std::string message = "cannot connect to PostgreSQL (" + target_.describe + "): " + e.displayText();
        monitor_.degrade(StoreFault::Io, message);
        throw StoreUnavailable(StoreFault::Io, message);
    }
    return c;
}

ConnectionPool::Connection ConnectionPool::open() {
    if (target_.backend == Database::Backend::PostgreSql) return openPostgres();
    Connection c;
    const std::string& path_ = target_.path;
    try {
        // Login timeout 1 s: Poco retries a failing open that long, not its 60 s default.
        Poco::Data::Session session(Poco::Data::SQLite::Connector::KEY, path_, 1);
        c.impl = Poco::AutoPtr<Poco::Data::SessionImpl>(session.impl(), true);
        c.handle = Poco::Data::SQLite::Utility::dbHandle(session);
        // SQLite's busy timeout: concurrent writers wait for the lock instead of
        // failing with SQLITE_BUSY.
        c.impl->setConnectionTimeout(busyTimeoutSeconds_);
    } catch (const Poco::Exception& e) {
        if (auto fault = classifyStoreFailure(e))
            throw StoreUnavailable(*fault, "cannot open the database " + path_ + ": " + e.displayText());
        throw;
    }
    // SQLite quietly opens a file it cannot write read-only; every write on
    // this connection would fail, so the store is not writable.
    if (sqlite3_db_readonly(c.handle, "main") == 1)
        monitor_.degrade(StoreFault::ReadOnly, "SQLite opened the database read-only: the file or its file system "
                                               "cannot be written");
    return c;
}

Poco::Data::Session ConnectionPool::acquire() {
    std::unique_lock lock(mutex_);
    if (!freed_.wait_for(lock, wait_, [this] { return !draining_ && (!idle_.empty() || open_ < max_); })) {
        throw StoreUnavailable(StoreFault::Busy, (draining_ ? std::string("the store is reopening its sessions")
                                                            : "all " + std::to_string(max_) +
                                                                  " database sessions are in use") +
                                                     "; waited " + std::to_string(wait_.count()) + " ms for one");
    }
    const std::uint64_t generation = generation_.load(std::memory_order_relaxed);
    Connection c;
    // An idle PostgreSQL connection the server has closed meanwhile (a restart
    // between two requests) is dropped here, not handed to a caller to fail on.
    while (!idle_.empty() && idle_.back().pg != nullptr && !alive(idle_.back().pg)) {
        Connection dead = std::move(idle_.back());
        idle_.pop_back();
        lock.unlock();
        closeConnection(dead);
        lock.lock();
        --open_;
    }
    if (!idle_.empty()) {
        c = std::move(idle_.back());  // the most recently used: warm caches
        idle_.pop_back();
        lock.unlock();
        // Again at every hand-out: a caller may have set a busy handler of its
        // own (the relay's committer does). A plain setter, no I/O.
        if (c.handle != nullptr) sqlite3_busy_timeout(c.handle, static_cast<int>(busyTimeoutSeconds_ * 1000));
    } else {
        ++open_;
        lock.unlock();
        try {
            c = open();
        } catch (...) {
            lock.lock();
            --open_;
            lock.unlock();
            freed_.notify_all();
            throw;
        }
    }
    return Poco::Data::Session(
        Poco::AutoPtr<Poco::Data::SessionImpl>(new PooledSession(shared_from_this(), std::move(c), generation)));
}

void ConnectionPool::release(Connection connection, std::uint64_t generation) {
    // A transaction left open (a caller that threw between BEGIN and COMMIT, a
    // COMMIT that failed) must not reach the next caller; nor may Poco's idea
    // of one that SQLite has already rolled back.
    bool keep = connection.impl->isConnected();
    if (connection.pg != nullptr && PQstatus(connection.pg) != CONNECTION_OK) {
        // Lost under its caller (the server restarted, the network cut): the
        // others opened before are likely gone too. The monitor probes, and
        // drops them all once a fresh connection commits.
        keep = false;
        monitor_.degrade(StoreFault::Io, std::string("the connection to PostgreSQL was lost: ") +
                                             PQerrorMessage(connection.pg));
    }
    if (keep && connection.impl->isTransaction()) {
        try {
            connection.impl->rollback();
        } catch (...) {
            keep = false;
        }
    }
    if (keep) keep = connection.pg != nullptr ? rollbackOpenTransaction(connection.pg)
                                              : rollbackOpenTransaction(connection.handle);
    {
        std::lock_guard lock(mutex_);
        if (keep && current(generation) && !draining_ && !detached_) {
            idle_.push_back(std::move(connection));
            keep = true;
        } else {
            keep = false;
        }
    }
    if (keep) {
        freed_.notify_one();
        return;
    }
    closeConnection(connection);  // closed before it stops counting: drain() waits for the close
    {
        std::lock_guard lock(mutex_);
        --open_;
    }
    freed_.notify_all();
}

void ConnectionPool::closeIdle(std::unique_lock<std::mutex>& lock) {
    std::vector<Connection> closing;
    closing.swap(idle_);
    lock.unlock();
    const std::size_t closed = closing.size();
    for (auto& c : closing) closeConnection(c);
    closing.clear();
    lock.lock();
    open_ -= closed;
}

bool ConnectionPool::drain(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    draining_ = true;
    generation_.fetch_add(1, std::memory_order_relaxed);
    closeIdle(lock);
    return freed_.wait_for(lock, timeout, [this] { return open_ == 0; });
}

void ConnectionPool::resume() {
    {
        std::lock_guard lock(mutex_);
        draining_ = false;
    }
    freed_.notify_all();
}

}  // namespace hub::store::detail
