#include "hub/store/StoreError.h"

#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/DataException.h>
#include <Poco/Data/PostgreSQL/PostgreSQLException.h>

#include <sqlite3.h>

#include <cstring>
#include <typeinfo>

namespace hub::store {

const char* toString(StoreFault fault) noexcept {
    switch (fault) {
    case StoreFault::Full: return "full";
    case StoreFault::ReadOnly: return "read_only";
    case StoreFault::Busy: return "busy";
    case StoreFault::Io: return "io";
    }
    return "io";
}

StoreUnavailable::StoreUnavailable(StoreFault fault, const std::string& message)
    : Poco::Data::DataException(message), fault_(fault) {}

const char* StoreUnavailable::name() const noexcept { return "Store unavailable"; }

const char* StoreUnavailable::className() const noexcept { return typeid(*this).name(); }

Poco::Exception* StoreUnavailable::clone() const { return new StoreUnavailable(*this); }

void StoreUnavailable::rethrow() const { throw *this; }

std::optional<StoreFault> classifyStoreFailure(const std::exception& error) noexcept {
    namespace sqlite = Poco::Data::SQLite;
    const std::exception* e = &error;
    if (auto* own = dynamic_cast<const StoreUnavailable*>(e)) return own->fault();
    if (dynamic_cast<const sqlite::DatabaseFullException*>(e)) return StoreFault::Full;
    if (dynamic_cast<const sqlite::ReadOnlyException*>(e) || dynamic_cast<const sqlite::DBAccessDeniedException*>(e))
        return StoreFault::ReadOnly;
    if (dynamic_cast<const sqlite::DBLockedException*>(e) || dynamic_cast<const sqlite::TableLockedException*>(e) ||
        dynamic_cast<const sqlite::InterruptException*>(e) ||
        dynamic_cast<const Poco::Data::SessionPoolExhaustedException*>(e))
        return StoreFault::Busy;
    if (dynamic_cast<const sqlite::IOErrorException*>(e) || dynamic_cast<const sqlite::CantOpenDBFileException*>(e) ||
        dynamic_cast<const sqlite::LockProtocolException*>(e) || dynamic_cast<const sqlite::NoMemoryException*>(e) ||
        dynamic_cast<const Poco::Data::ConnectionFailedException*>(e) ||
        dynamic_cast<const Poco::Data::NotConnectedException*>(e) ||
        dynamic_cast<const Poco::Data::SessionUnavailableException*>(e) ||
        dynamic_cast<const Poco::Data::PostgreSQL::ConnectionException*>(e))
        return StoreFault::Io;
    if (dynamic_cast<const Poco::Data::PostgreSQL::PostgreSQLException*>(e)) {
        // Poco's PostgreSQL connector keeps only libpq's message, not the
        // connection or the SQLSTATE: a statement cut off by a lost connection is
        // recognised by libpq's own words (libpq 15, fe-exec.c, fe-misc.c) and the
        // server's message for an administrator's shutdown.
        const std::string message = dynamic_cast<const Poco::Exception*>(e)->displayText();
        for (const char* lost : {"server closed the connection", "no connection to the server",
                                 "terminating connection", "could not receive data from server",
                                 "could not send data to server", "connection to server", "SSL SYSCALL error",
                                 "the database system is shutting down", "the database system is starting up"})
            if (message.find(lost) != std::string::npos) return StoreFault::Io;
        if (message.find("read-only transaction") != std::string::npos) return StoreFault::ReadOnly;
        if (message.find("could not serialize access") != std::string::npos ||
            message.find("deadlock detected") != std::string::npos)
            return StoreFault::Busy;
    }
    return std::nullopt;
}

std::optional<StoreFault> classifyPostgresState(const char* sqlstate) noexcept {
    if (sqlstate == nullptr || std::strlen(sqlstate) != 5) return std::nullopt;
    const std::string state(sqlstate);
    if (state.compare(0, 2, "08") == 0) return StoreFault::Io;  // connection exception
    if (state == "57P01" || state == "57P02" || state == "57P03") return StoreFault::Io;  // shutdown, crash, starting
    if (state == "25006") return StoreFault::ReadOnly;  // read_only_sql_transaction: a standby
    if (state == "53100") return StoreFault::Full;      // disk_full
    if (state.compare(0, 2, "53") == 0) return StoreFault::Busy;  // out of memory, too many connections
    if (state == "40001" || state == "40P01" || state == "55P03") return StoreFault::Busy;
    return std::nullopt;
}

std::optional<StoreFault> classifySqliteCode(int code) noexcept {
    switch (code & 0xff) {
    case SQLITE_FULL: return StoreFault::Full;
    case SQLITE_READONLY:
    case SQLITE_PERM: return StoreFault::ReadOnly;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return StoreFault::Busy;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL: return StoreFault::Io;
    default: return std::nullopt;
    }
}

}  // namespace hub::store
