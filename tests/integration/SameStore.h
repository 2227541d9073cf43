#pragma once
// A hubd's <store> and the same store opened by the test itself, on the run's
// backend (hub/test/StoreBackend.h): on PostgreSQL one database made for the
// test, on SQLite dir/hub.db. For a test that reads what hubd wrote.
#include "hub/store/Database.h"
#include "hub/test/StoreBackend.h"
#include "hub/test/StoreOptions.h"

#include <string>
#include <utility>

namespace hub::test {

struct SameStore {
    explicit SameStore(std::string folder)
        : dir(std::move(folder)), database(storeOnPostgres() ? freshPostgresDatabase() : PostgresDatabase{}) {}

    /// The <store> element for hub.xml.
    std::string xml(const std::string& extra = "") const { return storeXml(dir, database, extra); }
    /// Options that open the same store.
    hub::store::Database::Options options() const { return storeOptions(dir, database); }

    std::string dir;
    PostgresDatabase database;
};

}  // namespace hub::test
