// The sourced fields' submit (SourcedFields::submit, what the HR adapter's
// identity_submit calls), on SQLite and on a private PostgreSQL 15 side by side:
// batches of `batch` records of four fields each, as the HR adapter sends a
// staff file (500 records a call by default), into an empty table, then the
// same records again (nothing changes: the reads alone), then every value
// changed (the upsert's update path). Field rows per second per phase.
//
//   build/bench/identity/bench_sourced_fields [records=50000] [batch=500]
#include "hub/identity/SourcedFields.h"
#include "hub/store/Database.h"
#include "hub/test/PostgresServer.h"

#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> kOwned = {"employment_status", "title", "hire_date", "staff_category"};

// The batches' JSON, built before the clock starts.
std::vector<std::string> batches(int records, int batch, const std::string& title) {
    std::vector<std::string> out;
    std::string json;
    for (int i = 0; i < records; ++i) {
        if (i % batch == 0) json = "{\"records\":[";
        else json += ',';
        json += "{\"id\":\"E" + std::to_string(100000 + i) +
                "\",\"fields\":{\"employment_status\":\"在职\",\"title\":\"" + title +
                "\",\"hire_date\":\"2010-01-01\",\"staff_category\":\"合同制\"}}";
        if (i % batch == batch - 1 || i == records - 1) out.push_back(json + "]}");
    }
    return out;
}

double phase(hub::identity::SourcedFields& fields, const std::vector<std::string>& work, int records) {
    const auto t0 = Clock::now();
    for (const auto& json : work) fields.submit("hr", kOwned, json);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return records * static_cast<double>(kOwned.size()) / seconds;
}

void run(const char* name, hub::store::Database::Options options, int records, int batch) {
    hub::store::Database db(options);
    hub::identity::SourcedFields fields(db);
    const auto first = batches(records, batch, "讲师"), changed = batches(records, batch, "副教授");
    const double inserted = phase(fields, first, records);
    const double unchanged = phase(fields, first, records);
    const double updated = phase(fields, changed, records);
    std::printf("%-11s %14.0f %14.0f %14.0f\n", name, inserted, unchanged, updated);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    const int records = argc > 1 ? std::atoi(argv[1]) : 50000;
    const int batch = argc > 2 ? std::atoi(argv[2]) : 500;
    std::printf("%d records of %zu fields, %d records a submit; field rows per second\n", records, kOwned.size(),
                batch);
    std::printf("%-11s %14s %14s %14s\n", "backend", "new", "unchanged", "changed");
    Poco::TemporaryFile folder;
    folder.createDirectories();
    hub::store::Database::Options sqlite{Poco::Path(folder.path(), "bench.db").toString()};
    run("sqlite", sqlite, records, batch);
    hub::test::PostgresServer pg;
    pg.psql("CREATE DATABASE sourced_bench");
    hub::store::Database::Options postgres;
    postgres.backend = hub::store::Database::Backend::PostgreSql;
    postgres.connection = pg.conninfo("sourced_bench") + " user=" + pg.user();
    postgres.passwordFile = pg.passwordFile();
    run("postgresql", postgres, records, batch);
    return 0;
}
