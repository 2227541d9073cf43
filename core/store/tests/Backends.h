#pragma once
// The store's tests run on each backend: SQLite in a temp folder, and a fresh
// database per test on one private PostgreSQL 15 shared by the test process
// (tests/support's PostgresServer, started on first use from the main thread).

#include "hub/store/Database.h"
#include "hub/test/PostgresServer.h"

#include <Poco/TemporaryFile.h>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace hub::store::testing {

inline hub::test::PostgresServer& sharedPostgres() {
    static hub::test::PostgresServer server;
    return server;
}

/// A new, empty PostgreSQL database on the shared server; its Options.
inline Database::Options freshPostgres() {
    static std::atomic<int> counter{0};
    const std::string name = "store_test_" + std::to_string(counter++);
    auto& pg = sharedPostgres();
    pg.psql("CREATE DATABASE " + name);
    Database::Options o;
    o.backend = Database::Backend::PostgreSql;
    o.connection = pg.conninfo(name) + " user=" + pg.user();
    o.passwordFile = pg.passwordFile();
    return o;
}

inline std::string backendName(const ::testing::TestParamInfo<Database::Backend>& info) {
    return info.param == Database::Backend::PostgreSql ? "PostgreSQL" : "SQLite";
}

/// Parameterised on the backend. options() is the one store of the test (the
/// same on every call: a test that reopens gets the same data).
class OnEachBackend : public ::testing::TestWithParam<Database::Backend> {
protected:
    bool postgres() const { return GetParam() == Database::Backend::PostgreSql; }

    Database::Options options() {
        if (!options_) {
            if (postgres()) {
                options_ = std::make_unique<Database::Options>(freshPostgres());
            } else {
                dir_.createDirectories();
                options_ = std::make_unique<Database::Options>();
                options_->path = dir_.path() + "/hub.db";
            }
        }
        return *options_;
    }

    /// Statements that make inserts into `table` fail with "refused" when `condition` (on NEW) holds.
    std::vector<std::string> refuseTrigger(const std::string& table, const std::string& condition) const {
        if (!postgres())
            return {"CREATE TRIGGER refuse BEFORE INSERT ON " + table + " WHEN " + condition +
                    " BEGIN SELECT RAISE(ABORT, 'refused'); END"};
        return {"CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN IF " + condition +
                    " THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $fn$",
                "CREATE TRIGGER refuse BEFORE INSERT ON " + table + " FOR EACH ROW EXECUTE FUNCTION refuse()"};
    }
    std::vector<std::string> dropRefuseTrigger(const std::string& table) const {
        if (!postgres()) return {"DROP TRIGGER refuse"};
        return {"DROP TRIGGER refuse ON " + table, "DROP FUNCTION refuse()"};
    }

private:
    Poco::TemporaryFile dir_;
    std::unique_ptr<Database::Options> options_;
};

#define HUB_STORE_ON_EACH_BACKEND(Suite)                                                                   \
    INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                              \
                             ::testing::Values(hub::store::Database::Backend::Sqlite,                     \
                                               hub::store::Database::Backend::PostgreSql),                \
                             hub::store::testing::backendName)

}  // namespace hub::store::testing
