// hub::sql::DataSource against a real PostgreSQL 15 (tests/support's
// PostgresServer): types to JSON, bound parameters, read-only transactions,
// deadlines that cancel on the server, a server that stops and comes back, and
// the bad input the connector refuses before anything reaches the server.
#include "hub/sql/DataSource.h"
#include "hub/sql/Sources.h"
#include "hub/test/Eventually.h"
#include "hub/test/PostgresServer.h"

#include <Poco/AutoPtr.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>
#include <vector>

using hub::sql::Clock;
using hub::sql::DataSource;
using hub::sql::Failure;
using hub::sql::QueryError;
using hub::sql::SourceOptions;
using hub::test::PostgresServer;

namespace {

// One server for the whole executable (a ctest run starts one test per
// process), owned by a gtest environment so it is stopped and removed at the end.
std::unique_ptr<PostgresServer> shared;

class SharedServer : public ::testing::Environment {
public:
    void TearDown() override { shared.reset(); }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new SharedServer);

PostgresServer& server() {
    if (shared) return *shared;
    shared = std::make_unique<PostgresServer>();
    PostgresServer* s = shared.get();
    s->psql("CREATE ROLE reader LOGIN PASSWORD 'reader-pw';"
            "CREATE TABLE ledger (id int PRIMARY KEY, owner text, amount numeric(14,2), paid boolean,"
            " paid_on date, ratio float8, big int8, note text);"
            "INSERT INTO ledger VALUES (1, '张三', 1234.50, true, '2026-09-01', 0.25, 9007199254740993, NULL),"
            " (2, 'O''Brien', -0.01, false, NULL, 'NaN', 2, '差旅费 \"引号\" \\ 反斜杠');"
            "CREATE TABLE secret (x int);"
            "GRANT SELECT ON ledger TO reader;"
            // A vendor database in SQL_ASCII: the server holds whatever bytes it was given.
            "CREATE DATABASE legacy ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;");
    s->psql("CREATE TABLE names (n text); INSERT INTO names VALUES (convert_from('\\xb7d1'::bytea, 'SQL_ASCII'));"
            "GRANT SELECT ON names TO reader;",
            "legacy");
    return *s;
}

SourceOptions options(const std::string& database = "postgres", bool writable = false) {
    SourceOptions o;
    o.name = "finance";
    o.conninfo = server().conninfo(database);
    o.user = writable ? server().user() : "reader";
    o.password = writable ? server().password() : "reader-pw";
    o.poolSize = 2;
    o.writable = writable;
    return o;
}

Clock::time_point in(int ms) {
    return Clock::now() + std::chrono::milliseconds(ms);
}

Failure failureOf(DataSource& source, const std::string& sql, const std::string& params = "", int ms = 5000) {
    try {
        source.query(sql, params, in(ms));
    } catch (const QueryError& e) {
        // Whatever failed, the answer names neither the DSN nor the secret.
        EXPECT_EQ(std::string(e.what()).find(source.options().password), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("port="), std::string::npos) << e.what();
        return e.failure();
    }
    ADD_FAILURE() << "no error for " << sql;
    return Failure::BadAnswer;
}

}  // namespace

TEST(SqlDataSource, RowsBecomeJsonWithTypesAndBoundParameters) {
    DataSource source(options());
    std::string r = source.query("SELECT id, owner, amount, paid, paid_on, ratio, big, note FROM ledger "
                                 "WHERE id = ANY($1::int[]) ORDER BY id",
                                 R"(["{1,2}"])", in(5000));
    EXPECT_EQ(r,
              R"({"columns":[{"name":"id","type":"int4"},{"name":"owner","type":"text"},)"
              R"({"name":"amount","type":"numeric"},{"name":"paid","type":"bool"},{"name":"paid_on","type":"date"},)"
              R"({"name":"ratio","type":"float8"},{"name":"big","type":"int8"},{"name":"note","type":"text"}],)"
              R"("rows":[{"id":1,"owner":"张三","amount":"1234.50","paid":true,"paid_on":"2026-09-01","ratio":0.25,)"
              R"("big":9007199254740993,"note":null},{"id":2,"owner":"O'Brien","amount":"-0.01","paid":false,)"
              R"("paid_on":null,"ratio":"NaN","big":2,"note":"差旅费 \"引号\" \\ 反斜杠"}],"affected":2})");
    // A parameter is data, never SQL: the classic injection finds nobody.
    EXPECT_EQ(source.query("SELECT id FROM ledger WHERE owner = $1", R"(["x' OR '1'='1"])", in(5000)),
              R"({"columns":[{"name":"id","type":"int4"}],"rows":[],"affected":0})");
    // Numbers reach the server as written; null binds NULL.
    EXPECT_EQ(source.query("SELECT $1::numeric AS n, $2::int AS i, $3::text IS NULL AS missing, $4::bool AS b",
                           R"([12345678901234567890.12, 7, null, true])", in(5000)),
              R"({"columns":[{"name":"n","type":"numeric"},{"name":"i","type":"int4"},{"name":"missing","type":"bool"},)"
              R"({"name":"b","type":"bool"}],"rows":[{"n":"12345678901234567890.12","i":7,"missing":true,"b":true}],)"
              R"("affected":1})");
    EXPECT_LE(source.openConnections(), 2u);
}

TEST(SqlDataSource, RefusesBadInputBeforeTheServer) {
    DataSource source(options());
    for (const auto& [sql, params] : std::vector<std::pair<std::string, std::string>>{
             {"", ""},
             {"  \n", ""},
             {std::string("SELECT 1\0", 9), ""},
             {"SELECT '\xff'", ""},
             {"SELECT " + std::string(70000, '1'), ""},
             {"SELECT $1", "{\"a\":1}"},
             {"SELECT $1", "[{\"a\":1}]"},
             {"SELECT $1", "[[1]]"},
             {"SELECT $1", "[1"},
             {"SELECT $1", "[1] trailing"},
             {"SELECT $1", "[\"\xc3\x28\"]"},
             {"SELECT $1", "[\"a\\u0000b\"]"},
         }) {
        EXPECT_EQ(failureOf(source, sql, params), Failure::InvalidRequest) << sql.substr(0, 40) << " " << params;
    }
    std::string many = "[";
    for (int i = 0; i < 101; ++i) many += (i ? ",1" : "1");
    EXPECT_EQ(failureOf(source, "SELECT 1", many + "]"), Failure::InvalidRequest);
    EXPECT_EQ(failureOf(source, "SELECT 1", std::string(2 * 1024 * 1024, ' ') + "[]"), Failure::InvalidRequest);
    // Two statements: the extended protocol takes one.
    EXPECT_EQ(failureOf(source, "SELECT 1; SELECT 2"), Failure::BadQuery);
}

TEST(SqlDataSource, ServerErrorsHaveTheirCategory) {
    DataSource source(options());
    EXPECT_EQ(failureOf(source, "SELECT * FROM no_such_view"), Failure::BadQuery);
    EXPECT_EQ(failureOf(source, "SELEC 1"), Failure::BadQuery);
    EXPECT_EQ(failureOf(source, "SELECT $1::int", R"(["abc"])"), Failure::BadQuery);
    EXPECT_EQ(failureOf(source, "SELECT * FROM secret"), Failure::Permission);
    EXPECT_EQ(failureOf(source, "SELECT id, id FROM ledger"), Failure::BadAnswer);
    EXPECT_EQ(failureOf(source, "SELECT generate_series(1, 10001)"), Failure::BadAnswer);
    // The pool is still good after all that.
    EXPECT_EQ(source.query("SELECT 1 AS one", "", in(5000)), R"({"columns":[{"name":"one","type":"int4"}],"rows":[{"one":1}],"affected":1})");

    SourceOptions wrong = options();
    wrong.password = "not-the-password";
    DataSource refused(wrong);
    EXPECT_EQ(failureOf(refused, "SELECT 1"), Failure::Permission);

    DataSource legacy(options("legacy"));
    try {
        legacy.query("SELECT n FROM names", "", in(5000));
        ADD_FAILURE() << "invalid UTF-8 passed";
    } catch (const QueryError& e) {
        EXPECT_EQ(e.failure(), Failure::BadAnswer) << e.what();
    }
}

TEST(SqlDataSource, ReadOnlyUnlessWritable) {
    server().psql("GRANT INSERT ON ledger TO reader");
    DataSource readOnly(options());
    EXPECT_EQ(failureOf(readOnly, "INSERT INTO ledger (id) VALUES (99)"), Failure::Permission);
    // A session setting cannot reopen the door: each query's transaction is rolled back.
    EXPECT_NO_THROW(readOnly.query("SET default_transaction_read_only = off", "", in(5000)));
    EXPECT_EQ(failureOf(readOnly, "INSERT INTO ledger (id) VALUES (99)"), Failure::Permission);
    EXPECT_EQ(server().psql("SELECT count(*) FROM ledger WHERE id = 99"), "0\n");

    DataSource writable(options("postgres", true));
    EXPECT_EQ(writable.query("INSERT INTO ledger (id, owner) VALUES ($1, $2)", R"([99, "李四"])", in(5000)),
              R"({"columns":[],"rows":[],"affected":1})");
    EXPECT_EQ(server().psql("SELECT owner FROM ledger WHERE id = 99"), "李四\n");
    server().psql("DELETE FROM ledger WHERE id = 99; REVOKE INSERT ON ledger FROM reader");
}

TEST(SqlDataSource, TheDeadlineCancelsTheStatementOnTheServer) {
    DataSource source(options());
    auto started = Clock::now();
    EXPECT_EQ(failureOf(source, "SELECT pg_sleep(30) AS slept", "", 300), Failure::Timeout);
    EXPECT_LT(Clock::now() - started, std::chrono::seconds(10));
    EXPECT_TRUE(hub::test::waitUntil([] {
        return server().psql("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'") == "0\n";
    })) << server().psql("SELECT state, query FROM pg_stat_activity");

    // Every connection busy until the deadline: a timeout, not a wait past it.
    auto slow = std::async(std::launch::async, [&] { return failureOf(source, "SELECT pg_sleep(2) AS a", "", 1500); });
    auto slow2 = std::async(std::launch::async, [&] { return failureOf(source, "SELECT pg_sleep(2) AS b", "", 1500); });
    EXPECT_TRUE(hub::test::waitUntil([&] { return source.openConnections() == 2; }));
    EXPECT_EQ(failureOf(source, "SELECT 1", "", 200), Failure::Timeout);
    EXPECT_EQ(slow.get(), Failure::Timeout);
    EXPECT_EQ(slow2.get(), Failure::Timeout);
}

// More callers than poolSize: each waits for a connection up to its own
// deadline, a freed one goes to a waiter, the server never sees more than
// poolSize connections, and whoever cannot be served in time gets a timeout
// that says why, at its deadline, not later. The two halves are arranged so
// that no outcome depends on how fast a loaded machine hands a connection
// over: in the first every waiter has time to spare, in the second the
// holders keep both connections well past every waiter's deadline.
TEST(SqlDataSource, MoreCallersThanThePoolWaitTheirTurnOrTimeOutClearly) {
    DataSource source(options());  // poolSize 2
    std::atomic<bool> storming{true};
    std::atomic<int> peak{0};
    const auto activeSleeps = [] {
        return std::stoi(server().psql(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'reader' AND state = 'active' AND query LIKE 'SELECT pg_sleep%'"));
    };
    auto watcher = std::async(std::launch::async, [&] {
        while (storming) {
            const int n = std::stoi(server().psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'reader'"));
            peak = std::max(peak.load(), n);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });
    struct Outcome {
        bool ok = false;
        Failure failure = Failure::BadAnswer;
        std::string what;
        Clock::duration took{};
    };
    const auto call = [&](double sleepSeconds, int deadlineMs) {
        return std::async(std::launch::async, [&, sleepSeconds, deadlineMs] {
            Outcome o;
            const auto began = Clock::now();
            try {
                source.query("SELECT pg_sleep(" + std::to_string(sleepSeconds) + ") AS slept", "", in(deadlineMs));
                o.ok = true;
            } catch (const QueryError& e) {
                o.failure = e.failure();
                o.what = e.what();
            }
            o.took = Clock::now() - began;
            return o;
        });
    };

    // Six short calls on two connections, each with a deadline far beyond the
    // 0.6 s they need in all: every one is served, four of them on a
    // connection another caller freed.
    std::vector<std::future<Outcome>> handedOver;
    for (int i = 0; i < 6; ++i) handedOver.push_back(call(0.2, 20000));
    for (auto& f : handedOver) {
        const Outcome o = f.get();
        EXPECT_TRUE(o.ok) << "a waiter was not served on a freed connection: " << o.what;
    }

    // Two holders keep both connections for 3 s; three waiters with a 0.8 s
    // deadline start once both holders are on the server. No connection can
    // free up in time, so each waiter times out at its deadline saying the
    // pool stayed busy, before anything reached the server.
    auto holder1 = call(3.0, 20000);
    auto holder2 = call(3.0, 20000);
    ASSERT_TRUE(hub::test::waitUntil([&] { return activeSleeps() == 2; }, std::chrono::seconds(10), std::chrono::milliseconds(20)))
        << "the holders never reached the server";
    constexpr int kWaiterDeadlineMs = 800;
    std::vector<std::future<Outcome>> waiters;
    for (int i = 0; i < 3; ++i) waiters.push_back(call(0.1, kWaiterDeadlineMs));
    for (auto& f : waiters) {
        const Outcome o = f.get();
        ASSERT_FALSE(o.ok) << "a waiter got a connection while both were held";
        EXPECT_EQ(o.failure, Failure::Timeout) << o.what;
        EXPECT_NE(o.what.find("all 2 connections of data source finance stayed busy until the call's deadline"),
                  std::string::npos)
            << o.what;
        EXPECT_GE(o.took, std::chrono::milliseconds(kWaiterDeadlineMs - 50)) << "gave up before its deadline";
        EXPECT_LT(o.took, std::chrono::milliseconds(kWaiterDeadlineMs + 1500)) << "a caller was held past its deadline";
    }
    EXPECT_TRUE(holder1.get().ok);
    EXPECT_TRUE(holder2.get().ok);

    storming = false;
    watcher.get();
    EXPECT_LE(peak.load(), 2) << "the server saw more connections than poolSize";
    // Nothing leaked: the pool serves at once afterwards, within its size.
    const auto began = Clock::now();
    EXPECT_NO_THROW(source.query("SELECT 1 AS one", "", in(1000)));
    EXPECT_LT(Clock::now() - began, std::chrono::milliseconds(1000));
    EXPECT_LE(source.openConnections(), 2u);
}

TEST(SqlDataSource, AServerThatStopsIsUnavailableAndComesBack) {
    DataSource source(options());
    ASSERT_NO_THROW(source.query("SELECT 1 AS one", "", in(5000)));
    server().stop();
    EXPECT_EQ(failureOf(source, "SELECT 1 AS one"), Failure::Unavailable);
    EXPECT_EQ(failureOf(source, "SELECT 1 AS one"), Failure::Unavailable);
    server().start();
    // The pooled connection died with the old server: the query gets a new one.
    EXPECT_NO_THROW(source.query("SELECT 1 AS one", "", in(5000)));
}

TEST(SqlSources, ReadFromConfigWithTheSecretFromAFile) {
    std::istringstream xml("<hub><sql><sources><finance><dsn>" + server().conninfo() +
                           "</dsn><user>reader</user><passwordFile>" + server().directory() +
                           "/reader.pw</passwordFile><plugins>finance, audit</plugins></finance></sources></sql></hub>");
    std::ofstream(server().directory() + "/reader.pw") << "reader-pw\n";
    Poco::AutoPtr<Poco::Util::XMLConfiguration> config(new Poco::Util::XMLConfiguration(xml));
    auto sources = hub::sql::Sources::fromConfig(*config);
    auto* finance = sources->find("finance");
    ASSERT_TRUE(finance);
    EXPECT_FALSE(finance->options().writable);
    EXPECT_TRUE(hub::sql::Sources::allows(*finance, "audit"));
    EXPECT_FALSE(hub::sql::Sources::allows(*finance, "kiosk"));
    EXPECT_NO_THROW(finance->query("SELECT 1 AS one", "", in(5000)));
    // What a worker process gets: only its sources, and they work there the same.
    EXPECT_EQ(sources->toJson("kiosk"), "");
    auto copy = hub::sql::Sources::fromJson(sources->toJson("finance"));
    ASSERT_TRUE(copy->find("finance"));
    EXPECT_NO_THROW(copy->find("finance")->query("SELECT 1 AS one", "", in(5000)));

    auto refused = [](const std::string& body) {
        std::istringstream in("<hub><sql><sources>" + body + "</sources></sql></hub>");
        Poco::AutoPtr<Poco::Util::XMLConfiguration> c(new Poco::Util::XMLConfiguration(in));
        EXPECT_THROW(hub::sql::Sources::fromConfig(*c), std::invalid_argument) << body;
    };
    refused("<x><dsn>host=h password=p</dsn></x>");
    refused("<x><dsn>postgresql://u:secret@h/db</dsn></x>");
    refused("<x><dsn>host=h</dsn><password>p</password></x>");
    refused("<x><dsn>host=h</dsn><passwordFile>/nonexistent/pw</passwordFile></x>");
    refused("<x><dsn>host='unterminated</dsn></x>");
    refused("<x><dsn></dsn></x>");
    refused("<x><dsn>host=h</dsn><poolSize>0</poolSize></x>");
    refused("<x><dsn>host=h</dsn><poolSize>many</poolSize></x>");
    refused("<x><dsn>host=h</dsn><writable>perhaps</writable></x>");
    refused("<X_Upper><dsn>host=h</dsn></X_Upper>");
    EXPECT_THROW(hub::sql::Sources::fromJson("{"), std::invalid_argument);
    EXPECT_THROW(hub::sql::Sources::fromJson(R"([{"name":"x"}])"), std::invalid_argument);
}
