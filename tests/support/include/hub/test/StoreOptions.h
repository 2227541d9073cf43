#pragma once
// The store of a module's test on the backend this run uses (hub/test/StoreBackend.h).

#include "hub/store/Database.h"
#include "hub/test/StoreBackend.h"

#include <string>

namespace hub::test {

/// Options for a store whose files live in dir: SQLite's dir/hub.db, or a fresh
/// PostgreSQL database when storeOnPostgres(). Each call on PostgreSQL is a new
/// database: keep the Options to reopen the same store.
hub::store::Database::Options storeOptions(const std::string& dir);

/// Options for the given database (two stores, or two hubs, on one).
hub::store::Database::Options storeOptions(const std::string& dir, const PostgresDatabase& database);

}  // namespace hub::test
