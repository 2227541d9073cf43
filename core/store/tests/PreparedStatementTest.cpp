// store::PreparedStatement on the run's backend (store_backend_test; the pg:
// run is PostgreSQL, through libpq's PQprepare/PQexecPrepared).

#include "hub/store/Database.h"
#include "hub/store/PreparedStatement.h"
#include "hub/test/StoreOptions.h"
#include "hub/test/TempDir.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Transaction.h>
#include <Poco/Exception.h>

#include <gtest/gtest.h>

using namespace Poco::Data::Keywords;
using hub::store::Database;
using hub::store::PreparedStatement;

namespace {

const char kInsert[] = "INSERT INTO prepared_t (id, n, note) VALUES (?, ?, ?)";
const char kByMin[] = "SELECT id, n, note FROM prepared_t WHERE n >= ? ORDER BY n";
const char kBump[] = "UPDATE prepared_t SET n = n + 1 WHERE id = ? AND n = ?";
const char kBroken[] = "SELECT nothing FROM no_such_table WHERE id = ?";

struct PreparedFixture {
    PreparedFixture() : db(options()) {
        db.migrate("prepared_test", {{1, {"CREATE TABLE prepared_t (id TEXT PRIMARY KEY, n BIGINT NOT NULL,"
                                          " note TEXT NOT NULL)"}}});
    }
    Database::Options options() {
        auto o = hub::test::storeOptions(dir.path());
        o.maxSessions = 1;  // one connection: every use after the first is the cached statement
        return o;
    }
    hub::test::TempDir dir;
    Database db;
};

TEST(PreparedStatement, BindsRunsAndReadsOnEachBackendAndKeepsItsStatementWithTheConnection) {
    PreparedFixture f;
    const std::int64_t big = std::int64_t{1} << 40;  // past 32 bits: a time in milliseconds
    for (int round = 0; round < 3; ++round) {  // the first prepares, the others reuse
        auto s = f.db.session();
        PreparedStatement insert(s, kInsert);
        EXPECT_EQ(insert.bind(1, "row" + std::to_string(round)).bind(2, big + round).bind(3, "张三 'quoted' ?").execute(), 1);
    }
    auto s = f.db.session();
    PreparedStatement select(s, kByMin);
    select.bind(1, big + 1);
    std::vector<std::string> ids;
    while (select.next()) {
        ids.push_back(select.text(0));
        EXPECT_EQ(select.integer(1), big + static_cast<std::int64_t>(ids.size()));
        EXPECT_EQ(select.text(2), "张三 'quoted' ?");
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"row1", "row2"}));
    // A compare-and-set says by its count whether it changed the row.
    EXPECT_EQ(PreparedStatement(s, kBump).bind(1, "row0").bind(2, big).execute(), 1);
    EXPECT_EQ(PreparedStatement(s, kBump).bind(1, "row0").bind(2, big).execute(), 0);
    EXPECT_EQ(PreparedStatement(s, kBump).bind(1, "none").bind(2, big).execute(), 0);
}

TEST(PreparedStatement, ASecondUseOfOneTextWhileTheFirstIsAliveGetsItsOwn) {
    PreparedFixture f;
    auto s = f.db.session();
    for (int n = 0; n < 3; ++n) PreparedStatement(s, kInsert).bind(1, "r" + std::to_string(n)).bind(2, n).bind(3, "").execute();
    PreparedStatement outer(s, kByMin);
    outer.bind(1, 0);
    int pairs = 0;
    while (outer.next()) {
        PreparedStatement inner(s, kByMin);
        inner.bind(1, outer.integer(1));
        while (inner.next()) ++pairs;
    }
    EXPECT_EQ(pairs, 3 + 2 + 1);
}

TEST(PreparedStatement, AFailureThrowsAndTheConnectionAndItsStatementsStayUsable) {
    PreparedFixture f;
    auto s = f.db.session();
    PreparedStatement(s, kInsert).bind(1, "a").bind(2, 1).bind(3, "").execute();
    {
        Poco::Data::Transaction tx(s, true);
        EXPECT_THROW(PreparedStatement(s, kInsert).bind(1, "a").bind(2, 2).bind(3, "").execute(), Poco::Exception);
        tx.rollback();
    }
    EXPECT_THROW(PreparedStatement(s, kBroken), Poco::Exception);
    EXPECT_THROW(PreparedStatement(s, kBroken), Poco::Exception);  // not cached as prepared
    PreparedStatement select(s, kByMin);
    ASSERT_TRUE(select.bind(1, 0).next());
    EXPECT_EQ(select.text(0), "a");
    EXPECT_EQ(select.integer(1), 1);
    EXPECT_FALSE(select.next());
}

}  // namespace
