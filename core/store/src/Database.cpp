#include "hub/store/Database.h"

#include "ConnectionPool.h"
#include "FaultMonitor.h"
#include "hub/store/Lease.h"

#include <sqlite3.h>

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/String.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <libpq-fe.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string_view>

using namespace Poco::Data::Keywords;

namespace hub::store {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("hub.store"); }

std::string describe(const std::exception& e) {
    if (auto* poco = dynamic_cast<const Poco::Exception*>(&e)) return poco->displayText();
    return e.what();
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

std::once_flag sqliteOnce;
std::once_flag postgresOnce;

// The advisory lock key under which hubs sharing one PostgreSQL create the
// store's tables and apply migrations ("hubstore" in ASCII).
constexpr long long kSchemaLock = 0x687562'73746f7265LL;

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

Database::Database(const Options& options)
    : path_(options.path), nodeId_(options.nodeId.empty() ? Lease::defaultNodeId() : options.nodeId) {
    if (options.backend == Backend::PostgreSql)
        openPostgres(options);
    else
        openSqlite(options);
}

void Database::openSqlite(const Options& options) {
    location_ = path_;
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

    detail::Target target;
    target.path = path_;
    target.describe = path_;
    monitor_ = std::make_unique<detail::FaultMonitor>(target, options);
    pool_ = std::make_shared<detail::ConnectionPool>(target, options, *monitor_);
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

namespace {

// `value` with a backslash before each character that is in `special`.
std::string backslashed(const std::string& value, std::string_view special) {
    std::string out;
    out.reserve(value.size() + 2);
    for (char c : value) {
        if (special.find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

// The password for libpq's conninfo: single-quoted, with \ and ' escaped.
std::string quoteConninfo(const std::string& value) { return "'" + backslashed(value, "\\'") + "'"; }

// One line of a libpq passfile for any host, port, database and user: ':' and
// '\' escaped with a backslash.
std::string escapePassfile(const std::string& password) { return "*:*:*:*:" + backslashed(password, ":\\") + "\n"; }

std::string readPassword(const std::string& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && (st.st_mode & 0077) != 0)
        logger().warning("store.postgresql.passwordFile %s can be read by others (mode %o): make it 0600 or 0400",
                         file, static_cast<unsigned>(st.st_mode & 07777));
    std::ifstream in(file);
    if (!in) throw Poco::FileNotFoundException("store.postgresql.passwordFile: cannot read " + file);
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) throw Poco::DataFormatException("store.postgresql.passwordFile: " + file + " holds no password");
    return line;
}

// The keys the connection string sets (libpq's own parser), checked: a password
// belongs in the password file, not in hub.xml or the log.
std::vector<std::string> conninfoKeys(const std::string& conninfo) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    if (options == nullptr) {
        std::string message = error ? error : "out of memory";
        PQfreemem(error);
        while (!message.empty() && message.back() == '\n') message.pop_back();
        throw Poco::InvalidArgumentException("store.postgresql.connection: " + message);
    }
    std::vector<std::string> keys;
    std::string spaced;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
        if (o->val == nullptr || *o->val == '\0') continue;
        keys.emplace_back(o->keyword);
        if (spaced.empty() && std::string_view(o->val).find_first_of(" \t\n\r\f\v") != std::string_view::npos)
            spaced = o->keyword;
    }
    PQconninfoFree(options);
    // Poco's PostgreSQL connector splits the string at white space before libpq
    // sees it: a quoted value with a space would fail later with a puzzling message.
    if (!spaced.empty() && spaced != "password")
        throw Poco::InvalidArgumentException("store.postgresql.connection: the value of " + spaced +
                                             " holds white space, which Poco's PostgreSQL connector cannot pass on");
    return keys;
}

}  // namespace

namespace detail {

/// A file only this user can read (0600 in a new 0700 folder under the temp
/// directory), removed with the object: a libpq passfile.
class PrivateFile {
public:
    PrivateFile(const std::string& prefix, const std::string& content);
    ~PrivateFile();
    PrivateFile(const PrivateFile&) = delete;
    PrivateFile& operator=(const PrivateFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string folder_;
    std::string path_;
};

PrivateFile::PrivateFile(const std::string& prefix, const std::string& content) {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr)
        throw Poco::CreateFileException("cannot create a private folder for the database password: " +
                                        std::string(std::strerror(errno)));
    folder_ = pattern;
    path_ = folder_ + "/pgpass";
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    bool written = fd >= 0 && ::fchmod(fd, 0600) == 0 &&
                   ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    if (fd >= 0) ::close(fd);
    if (!written) {
        ::unlink(path_.c_str());
        ::rmdir(folder_.c_str());
        throw Poco::CreateFileException("cannot write the private passfile for the database password");
    }
}

PrivateFile::~PrivateFile() {
    ::unlink(path_.c_str());
    ::rmdir(folder_.c_str());
}

}  // namespace detail

void Database::openPostgres(const Options& options) {
    dialect_ = Dialect::PostgreSql;
    std::call_once(postgresOnce, [] { Poco::Data::PostgreSQL::Connector::registerConnector(); });
    const auto keys = conninfoKeys(options.connection);
    auto has = [&](const char* key) { return std::find(keys.begin(), keys.end(), key) != keys.end(); };
    if (has("password"))
        throw Poco::InvalidArgumentException(
            "store.postgresql.connection holds a password: put it in the file store.postgresql.passwordFile names");
    location_ = options.connection;
    detail::Target target;
    target.backend = Backend::PostgreSql;
    target.describe = location_;
    target.conninfo = options.connection;
    if (!options.passwordFile.empty()) {
        const std::string password = readPassword(options.passwordFile);
        // Poco's PostgreSQL connector splits the connection string at white
        // space before libpq sees it, quotes or not: such a password goes to
        // libpq through a passfile of its own (0600 in a 0700 folder, removed
        // with the Database) instead.
        if (password.find_first_of(" \t\n\r\f\v") == std::string::npos) {
            target.conninfo += " password=" + quoteConninfo(password);
        } else {
            passfile_ = std::make_unique<detail::PrivateFile>("campushub-pgpass", escapePassfile(password));
            target.conninfo += " passfile=" + passfile_->path();
        }
    }
    // A server that does not answer must not hold a request for long; dead
    // connections are found by TCP keepalives rather than by the next caller.
    if (!has("connect_timeout")) target.conninfo += " connect_timeout=" + std::to_string(options.connectTimeout.count());
    if (!has("keepalives_idle")) target.conninfo += " keepalives_idle=10 keepalives_interval=5 keepalives_count=3";
    if (!has("application_name")) target.conninfo += " application_name=hubd";

    monitor_ = std::make_unique<detail::FaultMonitor>(target, options);
    pool_ = std::make_shared<detail::ConnectionPool>(target, options, *monitor_);
    {
        Poco::Data::Session s = session();
        // Several hubs may start together: one at a time creates the store's
        // own tables (CREATE TABLE IF NOT EXISTS alone races on the catalogue).
        s << "BEGIN", now;
        s << "SELECT pg_advisory_xact_lock(" + std::to_string(kSchemaLock) + ")", now;
        s << "CREATE TABLE IF NOT EXISTS schema_version ("
             " module TEXT PRIMARY KEY,"
             " version INTEGER NOT NULL,"
             " applied_at TEXT NOT NULL DEFAULT (to_char(clock_timestamp() AT TIME ZONE 'UTC',"
             " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')))",
            now;
        s << "CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL)", now;
        s << "COMMIT", now;
    }
    monitor_->start(pool_);
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
    auto* pooled = dynamic_cast<detail::PooledSession*>(session.impl());
    if (pooled == nullptr || pooled->current()) return false;
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
    s << sql("SELECT version FROM schema_version WHERE module = ?"), use(name), into(version), now;
    return version;
}

bool Database::hasTable(const std::string& name) {
    Poco::Data::Session s = session();
    int tables = 0;
    std::string table = name;
    if (dialect_ == Dialect::PostgreSql)
        s << "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
            use(table), into(tables), now;
    else
        s << "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", use(table), into(tables), now;
    return tables > 0;
}

void Database::migrate(const std::string& module, const std::vector<Migration>& migrations) {
    std::vector<const Migration*> ordered;
    ordered.reserve(migrations.size());
    for (const auto& m : migrations) ordered.push_back(&m);
    std::sort(ordered.begin(), ordered.end(),
              [](const Migration* a, const Migration* b) { return a->version < b->version; });

    if (dialect_ == Dialect::PostgreSql) {
        migratePostgres(module, ordered);
        return;
    }
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
            detail::rollbackOpenTransaction(handle);
            const std::string message =
                "schema migration " + module + " v" + std::to_string(m->version) + " failed: " + e.displayText();
            if (auto fault = classifyStoreFailure(e)) throw StoreUnavailable(*fault, message);
            throw Poco::DataException(message);
        }
    }
}

}  // namespace hub::store

namespace hub::store {

void Database::migratePostgres(const std::string& module, const std::vector<const Migration*>& ordered) {
    Poco::Data::Session s = session();
    PGconn* handle = detail::postgresHandle(s);
    std::string name = module;
    int stored = 0;
    s << "SELECT version FROM schema_version WHERE module = $1", use(name), into(stored), now;
    for (const Migration* m : ordered) {
        if (m->version <= stored) continue;  // nothing written, nothing locked
        try {
            // One hub at a time (the advisory lock ends with the transaction);
            // DDL is transactional here, so a failing step leaves nothing behind.
            s << "BEGIN", now;
            s << "SELECT pg_advisory_xact_lock(" + std::to_string(kSchemaLock) + ")", now;
            int current = 0;
            s << "SELECT version FROM schema_version WHERE module = $1", use(name), into(current), now;
            stored = current;
            if (m->version <= current) {
                s << "ROLLBACK", now;
                continue;
            }
            if (m->version != current + 1)
                throw Poco::DataException("migration gap: at version " + std::to_string(current) +
                                          ", next step is " + std::to_string(m->version));
            for (const auto& statement : m->postgresql.empty() ? m->statements : m->postgresql) {
                std::string text = statement;
                s << text, now;
            }
            int version = m->version;
            s << "INSERT INTO schema_version(module, version) VALUES($1, $2) "
                 "ON CONFLICT(module) DO UPDATE SET version = excluded.version, "
                 "applied_at = to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
                use(name), use(version), now;
            s << "COMMIT", now;
            stored = version;
        } catch (const Poco::Exception& e) {
            if (handle != nullptr) detail::rollbackOpenTransaction(handle);
            const std::string message =
                "schema migration " + module + " v" + std::to_string(m->version) + " failed: " + e.displayText();
            if (auto fault = classifyStoreFailure(e)) throw StoreUnavailable(*fault, message);
            throw Poco::DataException(message);
        }
    }
}

const char* toString(Dialect dialect) noexcept {
    return dialect == Dialect::PostgreSql ? "postgresql" : "sqlite";
}

std::string sql(Dialect dialect, const std::string& text) {
    if (dialect == Dialect::Sqlite) return text;
    std::string out;
    out.reserve(text.size() + 16);
    int next = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\'' || c == '"') {  // a literal or a quoted name, to its closing quote ('' and "" stay inside)
            const std::size_t end = text.find(c, i + 1);
            const std::size_t stop = end == std::string::npos ? text.size() : end + 1;
            out.append(text, i, stop - i);
            i = stop - 1;
        } else if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {  // a comment to the end of the line
            const std::size_t end = text.find('\n', i);
            const std::size_t stop = end == std::string::npos ? text.size() : end;
            out.append(text, i, stop - i);
            i = stop - 1;
        } else if (c == '?') {
            out += '$';
            out += std::to_string(next++);
        } else {
            out += c;
        }
    }
    return out;
}

Dialect dialectOf(Poco::Data::Session& session) {
    return session.connector() == Poco::Data::PostgreSQL::Connector::KEY ? Dialect::PostgreSql : Dialect::Sqlite;
}

std::string sql(Poco::Data::Session& session, const std::string& text) {
    return sql(dialectOf(session), text);
}

Database::Options Database::Options::fromConfig(const Poco::Util::AbstractConfiguration& config,
                                                const std::string& prefix) {
    Options o;
    o.path = config.getString(prefix + ".path", "var/hub.db");
    o.maxSessions = static_cast<std::size_t>(std::max(1, config.getInt(prefix + ".maxSessions", 32)));
    o.nodeId = config.getString(prefix + ".nodeId", "");
    const std::string backend = Poco::toLower(config.getString(prefix + ".backend", "sqlite"));
    if (backend == "sqlite") return o;
    if (backend != "postgresql")
        throw Poco::InvalidArgumentException(prefix + ".backend: '" + backend + "' is neither sqlite nor postgresql");
    o.backend = Backend::PostgreSql;
    o.connection = config.getString(prefix + ".postgresql.connection", "");
    if (o.connection.empty())
        throw Poco::InvalidArgumentException(prefix + ".postgresql.connection: a libpq connection string is needed "
                                                      "with " + prefix + ".backend postgresql");
    const auto keys = conninfoKeys(o.connection);
    if (std::find(keys.begin(), keys.end(), "password") != keys.end())
        throw Poco::InvalidArgumentException(prefix + ".postgresql.connection holds a password: put it in the file " +
                                             prefix + ".postgresql.passwordFile names");
    o.passwordFile = config.getString(prefix + ".postgresql.passwordFile", "");
    o.connectTimeout = std::chrono::seconds(std::max(1, config.getInt(prefix + ".postgresql.connectTimeoutSeconds", 2)));
    return o;
}

}  // namespace hub::store
