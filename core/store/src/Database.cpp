#include "hub/store/Database.h"

#include <sqlite3.h>

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/SessionImpl.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

using namespace Poco::Data::Keywords;

namespace hub::store {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("hub.store"); }

std::string describe(const std::exception& e) {
    if (auto* poco = dynamic_cast<const Poco::Exception*>(&e)) return poco->displayText();
    return e.what();
}

// Below this much free space a store that ran full is not called writable
// again, even if a probe's single page still fits (the WAL reuses its own
// space): otherwise /readyz would flap on a disk that is still full.
constexpr unsigned long long kMinFreeBytes = 1024 * 1024;

// Rolls back whatever transaction the connection still has open; false if it
// could not (the connection is then not fit to be reused).
bool rollbackOpenTransaction(sqlite3* handle) {
    if (sqlite3_get_autocommit(handle)) return true;
    return sqlite3_exec(handle, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK;
}

// Creates what is missing of the store's folder (0700) and file (0600) with
// these modes whatever the umask: the store holds personal data, and SQLite
// would create the file 0644 & ~umask (and its -wal and -shm alike).
void createPrivately(const std::filesystem::path& file) {
    namespace fs = std::filesystem;
    std::vector<fs::path> missing;
    for (fs::path p = file.parent_path(); !p.empty() && !fs::exists(p); p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.root_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        if (::mkdir(it->c_str(), 0700) != 0) {
            if (errno == EEXIST) continue;
            throw Poco::CreateFileException("cannot create the store's folder " + it->string() + ": " +
                                            std::strerror(errno));
        }
        ::chmod(it->c_str(), 0700);
    }
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        // An empty file is an empty SQLite database; fchmod undoes a umask
        // stricter than 0600's complement.
        ::fchmod(fd, 0600);
        ::close(fd);
    } else if (errno != EEXIST) {
        const int error = errno;
        const std::string message = "cannot create the database " + file.string() + ": " + std::strerror(error);
        if (error == EROFS || error == EACCES || error == EPERM) throw StoreUnavailable(StoreFault::ReadOnly, message);
        if (error == ENOSPC || error == EDQUOT) throw StoreUnavailable(StoreFault::Full, message);
        throw StoreUnavailable(StoreFault::Io, message);
    }
}

// One write through a connection of its own (a pooled one may have been
// opened read-only): nullopt when it committed, else the fault and why.
// Busy means another writer held the lock; it proves nothing either way.
std::optional<std::pair<StoreFault, std::string>> probeWrite(const std::string& path, bool needSpace) {
    if (needSpace) {
        struct statvfs fs {};
        const std::string folder = std::filesystem::absolute(path).parent_path().string();
        if (::statvfs(folder.c_str(), &fs) == 0) {
            const unsigned long long available = static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize;
            if (available < kMinFreeBytes)
                return std::make_pair(StoreFault::Full,
                                      "only " + std::to_string(available) + " bytes free on the store's file system");
        }
    }
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, &sqlite3_close_v2);
    auto failure = [&](int code) {
        return std::make_pair(classifySqliteCode(code).value_or(StoreFault::Io),
                              std::string(db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(code)));
    };
    if (rc != SQLITE_OK) return failure(rc);
    if (sqlite3_db_readonly(db.get(), "main") == 1)
        return std::make_pair(StoreFault::ReadOnly, std::string("the database file or its file system is read-only"));
    sqlite3_busy_timeout(db.get(), 1000);
    rc = sqlite3_exec(db.get(),
                      "BEGIN IMMEDIATE;"
                      "CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL);"
                      "INSERT INTO store_probe(id, at) VALUES(1, strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
                      " ON CONFLICT(id) DO UPDATE SET at = excluded.at;"
                      "COMMIT;",
                      nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
        auto result = failure(rc);
        rollbackOpenTransaction(db.get());
        return result;
    }
    return std::nullopt;
}

}  // namespace

namespace detail {

class FaultMonitor;

/// The sessions: SQLite connections opened on demand up to a ceiling, handed
/// out wrapped in a Lease that brings them back. Poco's SessionPool throws when
/// exhausted, and cannot close the connections it has, which recovering from a
/// read-only file needs: SQLite shares one -shm mapping among all connections
/// of a process to a file, so while one read-only connection is open every new
/// one is read-only too. This pool waits, and can be drained.
class ConnectionPool : public std::enable_shared_from_this<ConnectionPool> {
public:
    struct Connection {
        Poco::AutoPtr<Poco::Data::SessionImpl> impl;
        sqlite3* handle = nullptr;
    };

    ConnectionPool(std::string path, const Database::Options& options, FaultMonitor& monitor)
        : path_(std::move(path)), max_(std::max<std::size_t>(1, options.maxSessions)),
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
    void closeIdle(std::unique_lock<std::mutex>& lock);

    const std::string path_;
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

/// Whether the store can write, the fault counters, and the thread that probes
/// a store that cannot write until it can.
class FaultMonitor {
public:
    FaultMonitor(std::string path, const Database::Options& options) : path_(std::move(path)), options_(options) {}

    ~FaultMonitor() { stop(); }

    /// Probes once now (the answer is known when the constructor of Database
    /// returns), then watches.
    void start(std::shared_ptr<ConnectionPool> pool) {
        pool_ = std::move(pool);
        if (auto failure = probeWrite(path_, false); failure && failure->first != StoreFault::Busy)
            degrade(failure->first, failure->second);
        thread_ = std::thread([this] { run(); });
    }

    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    bool writable() const noexcept { return writable_.load(std::memory_order_relaxed); }

    void count(StoreFault fault) noexcept {
        failures_[static_cast<std::size_t>(fault)].fetch_add(1, std::memory_order_relaxed);
    }

    void degrade(StoreFault fault, const std::string& detail) {
        if (fault == StoreFault::Busy) return;  // contention, not a store that cannot write
        std::lock_guard lock(mutex_);
        if (!writable_.load(std::memory_order_relaxed)) return;
        writable_.store(false, std::memory_order_relaxed);
        fault_ = fault;
        detail_ = detail;
        since_ = std::chrono::system_clock::now();
        sinceSteady_ = std::chrono::steady_clock::now();
        logger().error("store %s cannot write (%s): %s; probing until a write commits", path_,
                       std::string(toString(fault)), detail);
        wake_.notify_all();
    }

    /// SQLite reported a failure somewhere in the process: probe soon.
    void suspect() {
        {
            std::lock_guard lock(mutex_);
            suspected_ = true;
        }
        wake_.notify_all();
    }

    Database::Health health() const {
        Database::Health h;
        {
            std::lock_guard lock(mutex_);
            h.writable = writable_.load(std::memory_order_relaxed);
            if (!h.writable) {
                h.fault = fault_;
                h.detail = detail_;
                h.since = since_;
            }
        }
        for (std::size_t i = 0; i < storeFaultCount; ++i) h.failures[i] = failures_[i].load(std::memory_order_relaxed);
        h.reopens = reopens_.load(std::memory_order_relaxed);
        return h;
    }

private:
    void run();
    std::optional<std::pair<StoreFault, std::string>> recover(StoreFault fault);

    const std::string path_;
    const Database::Options options_;
    std::shared_ptr<ConnectionPool> pool_;
    std::atomic<bool> writable_{true};
    std::array<std::atomic<std::uint64_t>, storeFaultCount> failures_{};
    std::atomic<std::uint64_t> reopens_{0};
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::optional<StoreFault> fault_;
    std::string detail_;
    std::chrono::system_clock::time_point since_;
    std::chrono::steady_clock::time_point sinceSteady_;
    bool stopping_ = false;
    bool suspected_ = false;
    std::thread thread_;
};

void FaultMonitor::run() {
    std::unique_lock lock(mutex_);
    std::chrono::milliseconds interval = options_.probeInterval;
    while (!stopping_) {
        if (writable_.load(std::memory_order_relaxed)) {
            wake_.wait(lock, [this] { return stopping_ || suspected_ || !writable_.load(std::memory_order_relaxed); });
            interval = options_.probeInterval;
            if (stopping_ || !writable_.load(std::memory_order_relaxed)) continue;
            suspected_ = false;
            lock.unlock();
            auto failure = probeWrite(path_, false);
            if (failure && failure->first != StoreFault::Busy) degrade(failure->first, failure->second);
            lock.lock();
            // At most one probe per interval, however often SQLite complains.
            wake_.wait_for(lock, options_.probeInterval, [this] { return stopping_; });
            continue;
        }
        // Cannot write: probe with backoff until a write commits.
        wake_.wait_for(lock, interval, [this] { return stopping_; });
        if (stopping_) break;
        suspected_ = false;
        const StoreFault fault = fault_.value_or(StoreFault::Io);
        lock.unlock();
        auto failure = recover(fault);
        lock.lock();
        if (failure) {
            if (failure->first != StoreFault::Busy) {  // the fault may have changed (a full disk remounted read-only)
                fault_ = failure->first;
                detail_ = failure->second;
            }
            interval = std::min(interval * 2, options_.maxProbeInterval);
            continue;
        }
        if (fault != StoreFault::Full) reopens_.fetch_add(1, std::memory_order_relaxed);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - sinceSteady_).count();
        logger().information("store %s writable again after %.1f s (was %s)%s", path_, seconds,
                             std::string(toString(fault)),
                             std::string(fault != StoreFault::Full ? "; sessions reopened" : ""));
        fault_.reset();
        detail_.clear();
        writable_.store(true, std::memory_order_relaxed);
        interval = options_.probeInterval;
    }
}

// One attempt to get out of `fault`: nullopt when a probe write committed on
// fresh connections.
std::optional<std::pair<StoreFault, std::string>> FaultMonitor::recover(StoreFault fault) {
    // A full disk leaves the connections as they were: space is all it needs.
    if (fault == StoreFault::Full) return probeWrite(path_, true);
    // Read-only or failing: first the file system itself, without SQLite (whose
    // connections share the read-only mapping), then with no connection open.
    const std::string folder = std::filesystem::absolute(path_).parent_path().string();
    struct statvfs fs {};
    if (::statvfs(folder.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY) != 0)
        return std::make_pair(StoreFault::ReadOnly, std::string("the store's file system is mounted read-only"));
    if (::access(path_.c_str(), W_OK) != 0)
        return std::make_pair(fault, "the database file cannot be written: " + std::string(std::strerror(errno)));
    // New sessions wait while the pool drains: a second at most, so a session
    // held long (a sync's page) costs a short stall per attempt, not a hang.
    if (!pool_->drain(std::min(options_.sessionWait, std::chrono::milliseconds(1000)))) {
        pool_->resume();
        return std::make_pair(StoreFault::Busy, std::string("sessions in use did not come back in time"));
    }
    auto failure = probeWrite(path_, false);
    pool_->resume();
    return failure;
}

/// A pooled connection as callers see it: every call goes to the connection;
/// close() or the last Session copy gives it back to the pool.
class Lease final : public Poco::Data::SessionImpl {
public:
    Lease(std::shared_ptr<ConnectionPool> pool, ConnectionPool::Connection connection, std::uint64_t generation)
        : SessionImpl(connection.impl->connectionString(), connection.impl->getLoginTimeout()),
          pool_(std::move(pool)), connection_(std::move(connection)), generation_(generation) {}

    ~Lease() override { close(); }

    Poco::SharedPtr<Poco::Data::StatementImpl> createStatementImpl() override { return inner().createStatementImpl(); }
    void open(const std::string& connect) override { inner().open(connect); }
    void close() override {
        if (pool_) {
            auto pool = std::move(pool_);
            pool->release(std::move(connection_), generation_);
        }
    }
    /// False once the pool has been drained since this lease was taken, or
    /// once the lease was closed.
    bool current() const noexcept { return pool_ && pool_->current(generation_); }

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

ConnectionPool::Connection ConnectionPool::open() {
    Connection c;
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
    if (!idle_.empty()) {
        c = std::move(idle_.back());  // the most recently used: warm caches
        idle_.pop_back();
        lock.unlock();
        // Again at every hand-out: a caller may have set a busy handler of its
        // own (the relay's committer does). A plain setter, no I/O.
        sqlite3_busy_timeout(c.handle, static_cast<int>(busyTimeoutSeconds_ * 1000));
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
        Poco::AutoPtr<Poco::Data::SessionImpl>(new Lease(shared_from_this(), std::move(c), generation)));
}

void ConnectionPool::release(Connection connection, std::uint64_t generation) {
    // A transaction left open (a caller that threw between BEGIN and COMMIT, a
    // COMMIT that failed) must not reach the next caller; nor may Poco's idea
    // of one that SQLite has already rolled back.
    bool keep = connection.impl->isConnected();
    if (keep && connection.impl->isTransaction()) {
        try {
            connection.impl->rollback();
        } catch (...) {
            keep = false;
        }
    }
    if (keep) keep = rollbackOpenTransaction(connection.handle);
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
    connection = Connection();  // closed before it stops counting: drain() waits for the close
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

}  // namespace detail

namespace {

std::once_flag sqliteOnce;

// Every open Database's monitor, for SQLite's error log.
std::mutex registryMutex;
std::vector<detail::FaultMonitor*>& registry() {
    static std::vector<detail::FaultMonitor*> monitors;
    return monitors;
}

// SQLite's global error log sees every failure of every connection, whichever
// module's statement hit it (the relay, the identity sync, a plugin's kv call):
// one that may mean the store stopped writing makes the stores probe now. The
// probe decides; nothing here changes their state. Called with SQLite's
// connection mutex held: no SQLite calls here.
void onSqliteLog(void*, int code, const char*) {
    auto fault = classifySqliteCode(code);
    if (!fault || *fault == StoreFault::Busy) return;
    std::lock_guard lock(registryMutex);
    for (auto* monitor : registry()) monitor->suspect();
}

}  // namespace

Database::Database(const Options& options) : path_(options.path) {
    std::call_once(sqliteOnce, [] {
        // Before SQLite initialises (it refuses later, harmlessly): no global
        // memory statistics, which cost a process-wide mutex on every one of
        // SQLite's allocations (about a dozen per audit row). Nothing here reads them.
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        if (sqlite3_config(SQLITE_CONFIG_LOG, &onSqliteLog, nullptr) != SQLITE_OK)
            logger().warning("SQLite was initialised before the store: its failures reach the store only through "
                             "the callers that report them");
        Poco::Data::SQLite::Connector::registerConnector();
    });
    createPrivately(std::filesystem::absolute(path_));

    monitor_ = std::make_unique<detail::FaultMonitor>(path_, options);
    pool_ = std::make_shared<detail::ConnectionPool>(path_, options, *monitor_);
    {
        Poco::Data::Session s = session();
        // WAL lets readers run beside the one writer; it is a property of the file, so
        // once is enough. synchronous stays FULL (the default): a commit is durable.
        std::string mode;
        s << "PRAGMA journal_mode=WAL", into(mode), now;
        int tables = 0;
        s << "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", into(tables), now;
        if (tables == 0) {
            s << "CREATE TABLE IF NOT EXISTS schema_version ("
                 " module TEXT PRIMARY KEY,"
                 " version INTEGER NOT NULL,"
                 " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))",
                now;
        }
    }
    monitor_->start(pool_);
    std::lock_guard lock(registryMutex);
    registry().push_back(monitor_.get());
}

Database::~Database() {
    {
        std::lock_guard lock(registryMutex);
        auto& monitors = registry();
        monitors.erase(std::remove(monitors.begin(), monitors.end(), monitor_.get()), monitors.end());
    }
    monitor_->stop();
    pool_->detach();
}

Poco::Data::Session Database::session() {
    return pool_->acquire();
}

bool Database::renew(Poco::Data::Session& session) {
    auto* lease = dynamic_cast<detail::Lease*>(session.impl());
    if (lease == nullptr || lease->current()) return false;
    session.close();  // back first: the pool may be waiting for it to finish a reopen
    session = pool_->acquire();
    return true;
}

bool Database::writable() const noexcept {
    return monitor_->writable();
}

Database::Health Database::health() const {
    return monitor_->health();
}

std::optional<StoreFault> Database::recordFailure(const std::exception& error) {
    auto fault = classifyStoreFailure(error);
    if (!fault) return std::nullopt;
    monitor_->count(*fault);
    monitor_->degrade(*fault, describe(error));
    return fault;
}

int Database::schemaVersion(const std::string& module) {
    Poco::Data::Session s = session();
    int version = 0;
    std::string name = module;
    s << "SELECT version FROM schema_version WHERE module = ?", use(name), into(version), now;
    return version;
}

void Database::migrate(const std::string& module, const std::vector<Migration>& migrations) {
    std::vector<const Migration*> ordered;
    ordered.reserve(migrations.size());
    for (const auto& m : migrations) ordered.push_back(&m);
    std::sort(ordered.begin(), ordered.end(),
              [](const Migration* a, const Migration* b) { return a->version < b->version; });

    Poco::Data::Session s = session();
    sqlite3* handle = Poco::Data::SQLite::Utility::dbHandle(s);
    std::string name = module;
    int stored = 0;
    s << "SELECT version FROM schema_version WHERE module = ?", use(name), into(stored), now;
    for (const Migration* m : ordered) {
        if (m->version <= stored) continue;  // nothing written: a read-only store with its schema still opens
        try {
            // IMMEDIATE takes the write lock before the version is read again, so
            // two hubs starting together on one file apply each step once (a
            // deferred transaction reads first and cannot become the writer once
            // the other hub has committed).
            s << "BEGIN IMMEDIATE", now;
            int current = 0;
            s << "SELECT version FROM schema_version WHERE module = ?", use(name), into(current), now;
            stored = current;
            if (m->version <= current) {
                s << "ROLLBACK", now;
                continue;
            }
            if (m->version != current + 1)
                throw Poco::DataException("migration gap: at version " + std::to_string(current) +
                                          ", next step is " + std::to_string(m->version));
            for (const auto& sql : m->statements) {
                std::string text = sql;
                s << text, now;
            }
            int version = m->version;
            s << "INSERT INTO schema_version(module, version) VALUES(?, ?) "
                 "ON CONFLICT(module) DO UPDATE SET version = excluded.version, "
                 "applied_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
                use(name), use(version), now;
            s << "COMMIT", now;
            stored = version;
        } catch (const Poco::Exception& e) {
            rollbackOpenTransaction(handle);
            const std::string message =
                "schema migration " + module + " v" + std::to_string(m->version) + " failed: " + e.displayText();
            if (auto fault = classifyStoreFailure(e)) throw StoreUnavailable(*fault, message);
            throw Poco::DataException(message);
        }
    }
}

}  // namespace hub::store
