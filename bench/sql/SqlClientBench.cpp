// Which PostgreSQL client library connectors/sql is built on, measured side by
// side against one private PostgreSQL 15 (tests/support's PostgresServer):
//   libpq            PQexecParams, the C library every other candidate wraps
//   hub::sql         connectors/sql as built: libpq in pipeline mode, each query in
//                    its own READ ONLY transaction with a statement_timeout
//   Poco PostgreSQL  Poco::Data's PostgreSQL connector (Debian's libpoco-dev 1.11)
//   Poco ODBC        Poco::Data over unixODBC and psqlODBC (odbc-postgresql)
// Two loads: a small query (one row by key, one bound parameter, as the finance
// adapter sends) in microseconds per query, and a wide read (10,000 rows of 5
// columns) in rows per second. One connection, one thread: the client's own cost.
//
//   build/bench/sql/bench_sql_clients [small-queries=5000] [wide-reads=20]
#include "hub/sql/DataSource.h"
#include "hub/test/PostgresServer.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/ODBC/Connector.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;
using namespace Poco::Data::Keywords;

const char* kSmall = "SELECT claim_no, applicant_name, amount, status_code FROM claims WHERE claim_no = $1";
const char* kWide = "SELECT id, owner, amount, paid_on, note FROM claims ORDER BY id LIMIT 10000";

struct Result {
    double microsPerQuery = 0;
    double rowsPerSecond = 0;
};

double seconds(Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
}

Result measure(int small, int wide, const std::function<void(const std::string&)>& one,
               const std::function<std::size_t()>& many) {
    for (int i = 0; i < 200; ++i) one("BX" + std::to_string(i % 100));  // warm up
    auto start = Clock::now();
    for (int i = 0; i < small; ++i) one("BX" + std::to_string(i % 10000));
    Result r;
    r.microsPerQuery = seconds(start) * 1e6 / small;
    many();
    std::size_t rows = 0;
    start = Clock::now();
    for (int i = 0; i < wide; ++i) rows += many();
    r.rowsPerSecond = static_cast<double>(rows) / seconds(start);
    return r;
}

// Poco::Data the way an application uses it: a Statement per query, a RecordSet
// read value by value.
Result measurePoco(Poco::Data::Session& session, const std::string& smallSql, int small, int wide) {
    return measure(
        small, wide,
        [&](const std::string& key) {
            std::string k = key;
            Poco::Data::Statement s(session);
            s << smallSql, use(k), now;
            Poco::Data::RecordSet rs(s);
            if (rs.rowCount() != 1) throw std::runtime_error("Poco: small query");
        },
        [&] {
            Poco::Data::Statement s(session);
            s << kWide, now;
            Poco::Data::RecordSet rs(s);
            std::size_t bytes = 0;
            for (std::size_t i = 0; i < rs.rowCount(); ++i)
                for (std::size_t j = 0; j < rs.columnCount(); ++j) bytes += rs.value(j, i).convert<std::string>().size();
            return bytes ? rs.rowCount() : 0;
        });
}

void print(const char* name, const Result& r, const Result& base) {
    std::printf("%-16s %10.1f us %8.2fx %14.0f rows/s %8.2fx\n", name, r.microsPerQuery,
                r.microsPerQuery / base.microsPerQuery, r.rowsPerSecond, r.rowsPerSecond / base.rowsPerSecond);
}

}  // namespace

int main(int argc, char** argv) {
    const int small = argc > 1 ? std::stoi(argv[1]) : 5000;
    const int wide = argc > 2 ? std::stoi(argv[2]) : 20;
    hub::test::PostgresServer pg;
    pg.psql("CREATE TABLE claims (id int PRIMARY KEY, claim_no text UNIQUE, owner text, applicant_name text,"
            " amount numeric(14,2), status_code smallint, paid_on date, note text);"
            "INSERT INTO claims SELECT i, 'BX' || i, 'T' || (i % 500), '王老师' || i, i * 1.25, i % 5,"
            " date '2026-01-01' + (i % 300), '差旅费：学术会议 ' || i FROM generate_series(0, 19999) i;"
            "ANALYZE claims;");
    const std::string conninfo = pg.conninfo() + " user=" + pg.user() + " password=" + pg.password();

    // libpq, plain.
    PGconn* c = PQconnectdb(conninfo.c_str());
    if (PQstatus(c) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(c));
    Result libpq = measure(
        small, wide,
        [&](const std::string& key) {
            const char* values[] = {key.c_str()};
            PGresult* r = PQexecParams(c, kSmall, 1, nullptr, values, nullptr, nullptr, 0);
            if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) throw std::runtime_error("libpq: small");
            PQclear(r);
        },
        [&] {
            PGresult* r = PQexecParams(c, kWide, 0, nullptr, nullptr, nullptr, nullptr, 0);
            std::size_t n = static_cast<std::size_t>(PQntuples(r));
            // Touch every value, as any client that hands rows on must.
            std::size_t bytes = 0;
            for (int i = 0; i < PQntuples(r); ++i)
                for (int j = 0; j < PQnfields(r); ++j) bytes += static_cast<std::size_t>(PQgetlength(r, i, j));
            PQclear(r);
            return bytes ? n : 0;
        });
    PQfinish(c);

    // connectors/sql as the host uses it (answers JSON).
    hub::sql::SourceOptions o;
    o.name = "bench";
    o.conninfo = pg.conninfo();
    o.user = pg.user();
    o.password = pg.password();
    o.poolSize = 1;
    hub::sql::DataSource source(o);
    auto deadline = [] { return Clock::now() + std::chrono::seconds(10); };
    Result hubSql = measure(
        small, wide,
        [&](const std::string& key) { source.query(kSmall, "[\"" + key + "\"]", deadline()); },
        [&] {
            std::string json = source.query(kWide, "", deadline());
            return json.size() > 100 ? std::size_t(10000) : 0;
        });

    // Poco::Data, PostgreSQL connector ($n placeholders) and over ODBC (psqlODBC; "?").
    Poco::Data::PostgreSQL::Connector::registerConnector();
    Poco::Data::Session poco("postgresql", conninfo);
    Result pocoPg = measurePoco(poco, kSmall, small, wide);
    Poco::Data::ODBC::Connector::registerConnector();
    Poco::Data::Session odbc("ODBC", "DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;PORT=" + std::to_string(pg.port()) +
                                         ";DATABASE=postgres;UID=" + pg.user() + ";PWD=" + pg.password() + ";");
    std::string smallOdbc = kSmall;
    smallOdbc.replace(smallOdbc.find("$1"), 2, "?");
    Result pocoOdbc = measurePoco(odbc, smallOdbc, small, wide);

    std::printf("PostgreSQL 15 on loopback, one connection; %d small queries, %d reads of 10000 rows\n", small, wide);
    std::printf("%-16s %13s %9s %21s %9s\n", "client", "small query", "vs libpq", "wide read", "vs libpq");
    print("libpq", libpq, libpq);
    print("hub::sql", hubSql, libpq);
    print("Poco PostgreSQL", pocoPg, libpq);
    print("Poco ODBC", pocoOdbc, libpq);
    return 0;
}
