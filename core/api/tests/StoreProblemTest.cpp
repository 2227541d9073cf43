// The one mapping of store failures to HTTP: every fault a 503 with
// Retry-After and its problem type, counted by the store; anything else is not
// the store's and left to the caller.
#include "../src/StoreProblem.h"

#include "hub/store/Database.h"
#include "hub/store/StoreError.h"

#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/TemporaryFile.h>

#include <gtest/gtest.h>

#include <stdexcept>

using hub::api::storeProblem;
using hub::store::StoreFault;

namespace {

std::string header(const hub::api::Response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
        if (n == name) return v;
    return {};
}

std::string problemType(const hub::api::Response& r) {
    Poco::JSON::Parser parser;
    return parser.parse(r.body).extract<Poco::JSON::Object::Ptr>()->getValue<std::string>("type");
}

}  // namespace

TEST(StoreProblem, EachFaultIsA503WithRetryAfterAndItsType) {
    Poco::TemporaryFile dir;
    dir.createDirectories();
    hub::store::Database db({dir.path() + "/hub.db"});
    struct Case {
        std::exception_ptr error;
        std::string type;
        std::string retryAfter;
    };
    const std::vector<Case> cases = {
        {std::make_exception_ptr(Poco::Data::SQLite::DatabaseFullException("database or disk is full")),
         "urn:campushub:problem:store-full", "10"},
        {std::make_exception_ptr(Poco::Data::SQLite::ReadOnlyException("attempt to write a readonly database")),
         "urn:campushub:problem:store-read-only", "10"},
        {std::make_exception_ptr(hub::store::StoreUnavailable(StoreFault::Busy, "all 32 database sessions are in use")),
         "urn:campushub:problem:store-busy", "1"},
        {std::make_exception_ptr(Poco::Data::SQLite::DBLockedException("database is locked")),
         "urn:campushub:problem:store-busy", "1"},
        {std::make_exception_ptr(Poco::Data::SQLite::IOErrorException("disk I/O error")),
         "urn:campushub:problem:store-unavailable", "10"},
    };
    for (const auto& c : cases) {
        try {
            std::rethrow_exception(c.error);
        } catch (const std::exception& e) {
            auto r = storeProblem(e, &db);
            ASSERT_TRUE(r) << c.type;
            EXPECT_EQ(r->status, 503u);
            EXPECT_EQ(r->contentType, "application/problem+json");
            EXPECT_EQ(problemType(*r), c.type);
            EXPECT_EQ(header(*r, "Retry-After"), c.retryAfter) << c.type;
        }
    }
    auto health = db.health();
    EXPECT_EQ(health.failures[static_cast<std::size_t>(StoreFault::Full)], 1u);
    EXPECT_EQ(health.failures[static_cast<std::size_t>(StoreFault::ReadOnly)], 1u);
    EXPECT_EQ(health.failures[static_cast<std::size_t>(StoreFault::Busy)], 2u);
    EXPECT_EQ(health.failures[static_cast<std::size_t>(StoreFault::Io)], 1u);
}

TEST(StoreProblem, OtherFailuresAreNotTheStores) {
    Poco::TemporaryFile dir;
    dir.createDirectories();
    hub::store::Database db({dir.path() + "/hub.db"});
    EXPECT_FALSE(storeProblem(std::runtime_error("a bug"), &db));
    EXPECT_FALSE(storeProblem(Poco::Data::SQLite::ConstraintViolationException("UNIQUE constraint failed"), &db));
    EXPECT_FALSE(storeProblem(Poco::Data::SQLite::InvalidSQLStatementException("no such table: x"), nullptr));
    EXPECT_TRUE(db.writable());
    for (auto n : db.health().failures) EXPECT_EQ(n, 0u);
}
