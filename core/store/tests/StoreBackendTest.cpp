// hub/test/StoreBackend.h: a module test's store is on the run's backend, one
// fresh database per call, and a hub.xml's <store> says the same.

#include "hub/store/Database.h"
#include "hub/test/StoreBackend.h"
#include "hub/test/StoreOptions.h"
#include "hub/test/TempDir.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <gtest/gtest.h>

#include <cstdlib>

using namespace Poco::Data::Keywords;
using hub::store::Database;
using hub::store::Dialect;

TEST(StoreBackend, TheStoreIsOnTheRunsBackendAndEachCallIsAFreshOne) {
    const bool pg = std::getenv("HUB_TEST_POSTGRES") != nullptr;
    EXPECT_EQ(hub::test::storeOnPostgres(), pg);
    hub::test::TempDir dir;
    auto first = hub::test::storeOptions(dir.path());
    Database db(first);
    EXPECT_EQ(db.dialect(), pg ? Dialect::PostgreSql : Dialect::Sqlite);
    db.migrate("backend_test", {{1, {"CREATE TABLE t (name TEXT NOT NULL)"}}});
    {
        auto s = db.session();
        std::string name = "张三";
        s << db.sql("INSERT INTO t (name) VALUES (?)"), use(name), now;
    }
    hub::test::TempDir other;
    Database fresh(hub::test::storeOptions(other.path()));
    EXPECT_FALSE(fresh.hasTable("t")) << "a second store must be a database of its own";
    Database again(first);  // the same Options reopen the same store
    auto s = again.session();
    std::string name;
    s << "SELECT name FROM t", into(name), now;
    EXPECT_EQ(name, "张三");
}

TEST(StoreBackend, AHubXmlStoreElementNamesTheSameBackend) {
    hub::test::TempDir dir;
    const std::string xml = hub::test::storeXml(dir.path(), "<nodeId>n1</nodeId>");
    EXPECT_NE(xml.find("<path>" + dir.path() + "/hub.db</path>"), std::string::npos) << xml;
    EXPECT_NE(xml.find("<nodeId>n1</nodeId>"), std::string::npos) << xml;
    EXPECT_EQ(xml.find("<backend>postgresql</backend>") != std::string::npos, hub::test::storeOnPostgres()) << xml;
}
