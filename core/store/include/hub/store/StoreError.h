#pragma once

#include <Poco/Data/DataException.h>

#include <exception>
#include <optional>
#include <string>

namespace hub::store {

/// Why the store cannot do what was asked, when the cause is the store itself
/// (the disk, the file system, the lock) rather than the request.
enum class StoreFault {
    Full,      ///< No space left (SQLITE_FULL): nothing more can be written until space is freed.
    ReadOnly,  ///< The file or its file system cannot be written (SQLITE_READONLY, SQLITE_PERM).
    Busy,      ///< Every session is in use, or the write lock was not granted in time (SQLITE_BUSY/LOCKED).
    Io         ///< The file could not be opened, read or written (SQLITE_IOERR, SQLITE_CANTOPEN).
};

inline constexpr std::size_t storeFaultCount = 4;

/// "full", "read_only", "busy", "io": the label used in metrics and /readyz.
const char* toString(StoreFault fault) noexcept;

/// The store refused an operation for a reason of its own (see StoreFault).
/// Whatever the operation was doing has been rolled back: nothing of it is
/// stored. A Poco::Data::DataException, so code that handles database errors
/// as such keeps working; classifyStoreFailure() recognises it.
class StoreUnavailable : public Poco::Data::DataException {
public:
    StoreUnavailable(StoreFault fault, const std::string& message);

    StoreFault fault() const noexcept { return fault_; }

    const char* name() const noexcept override;
    const char* className() const noexcept override;
    Poco::Exception* clone() const override;
    void rethrow() const override;

private:
    StoreFault fault_;
};

/// The one place that decides whether a failure is the store's: maps
/// StoreUnavailable, Poco's SQLite exceptions (DatabaseFullException,
/// ReadOnlyException, DBLockedException, IOErrorException, ...) and Poco::Data's
/// connection and pool errors to a StoreFault. Anything else (a constraint, bad
/// SQL, a corrupt file, an error of the caller's) gives nullopt.
std::optional<StoreFault> classifyStoreFailure(const std::exception& error) noexcept;

/// The same for a result code of SQLite's C API (primary or extended).
std::optional<StoreFault> classifySqliteCode(int code) noexcept;

/// The same for a PostgreSQL SQLSTATE (five characters): connection failures
/// (class 08), the server shutting down or restarting (57P01-57P03), read-only
/// transactions on a standby (25006) and resource limits (53xxx) are the
/// store's; serialization failures and deadlocks (40001, 40P01) are Busy: the
/// transaction was rolled back and may be tried again.
std::optional<StoreFault> classifyPostgresState(const char* sqlstate) noexcept;

}  // namespace hub::store
