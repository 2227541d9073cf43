#pragma once
// Which store a test runs on. ctest runs the store-using suites twice: as
// built (SQLite files in temp folders) and again with HUB_TEST_POSTGRES set
// (tests named "pg:..." and labelled postgresql; hub_test(... BOTH_BACKENDS)),
// where each test gets a fresh database on the one PostgreSQL 15 that the
// postgres_suite fixture starts for the run. A test writes its store through
// these helpers and so runs unchanged on both:
//
//     hub::test::TempDir dir;
//     hubXml << hub::test::storeXml(dir.path());              // hubd
//     hub::store::Database db(hub::test::storeOptions(dir.path()));  // hub/test/StoreOptions.h
//
// HUB_TEST_STORE=postgresql runs a test on a private server of its own instead
// (for a run by hand: ./events_test --gtest_filter=...).

#include "hub/test/PostgresServer.h"

#include <string>

namespace hub::test {

/// True when this process's tests run on PostgreSQL (HUB_TEST_POSTGRES or
/// HUB_TEST_STORE=postgresql in the environment).
bool storeOnPostgres();

/// The PostgreSQL this process's tests share: the suite's server when
/// HUB_TEST_POSTGRES names its folder, else a private one started on first
/// use (call that from the test's main thread: see PostgresServer).
PostgresServer& sharedPostgres();

struct PostgresDatabase {
    std::string name;          ///< The database's name.
    std::string connection;    ///< libpq conninfo with host, port, dbname and user; no password.
    std::string passwordFile;  ///< The user's password, first line.
};

/// A new, empty database on sharedPostgres(), named after the running test
/// and a counter (so a test that wants two hubs on one database creates one
/// and hands it to both).
PostgresDatabase freshPostgresDatabase();

/// The <store> element of a hub.xml whose files live in dir: <path>dir/hub.db</path>
/// (the relay keeps its keys beside it on either backend) and, on PostgreSQL, a
/// fresh database. `extra` is put inside the element (<maxSessions>, <nodeId>).
std::string storeXml(const std::string& dir, const std::string& extra = "");

/// The same with a given database (two hubs sharing one).
std::string storeXml(const std::string& dir, const PostgresDatabase& database, const std::string& extra = "");

}  // namespace hub::test
