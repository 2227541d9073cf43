#include "hub/store/StoreError.h"

#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/DataException.h>

#include <sqlite3.h>

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
        dynamic_cast<const Poco::Data::SessionUnavailableException*>(e))
        return StoreFault::Io;
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
