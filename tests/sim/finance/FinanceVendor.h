#pragma once
// The simulated finance vendor: a private PostgreSQL (tests/support) holding
// the vendor's schema (vendor_schema.sql), its accounts for the hub, and the
// hub.xml that configures them as data sources. Header-only, for the adapter
// tests and bench/adapters.
#include "hub/test/PostgresServer.h"

#include <fstream>
#include <sstream>
#include <string>

namespace hub::test::finance {

class FinanceVendor {
public:
    static constexpr const char* kDatabase = "cw_finance";

    explicit FinanceVendor(const std::string& schemaFile) {
        std::ifstream in(schemaFile);
        std::ostringstream schema;
        schema << in.rdbuf();
        if (schema.str().empty()) throw std::runtime_error("cannot read " + schemaFile);
        pg_.psql("CREATE ROLE hub_reader LOGIN PASSWORD 'reader-secret-0123';"
                 "CREATE ROLE hub_writer LOGIN PASSWORD 'writer-secret-4567';"
                 "CREATE DATABASE cw_finance ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;");
        pg_.psql(schema.str(), kDatabase);
        std::ofstream(pg_.directory() + "/reader.pw") << "reader-secret-0123\n";
        std::ofstream(pg_.directory() + "/writer.pw") << "writer-secret-4567\n";
    }

    PostgresServer& server() { return pg_; }
    std::string sql(const std::string& statement) const { return pg_.psql(statement, kDatabase); }

    /// hub.xml's <sql> for plugin: "finance" (read-only, hub_reader) and
    /// "finance_rw" (writable, hub_writer), or a read-only finance_rw when
    /// writable is false.
    std::string sqlXml(const std::string& plugin = "finance", bool writable = true, int poolSize = 4) const {
        auto source = [&](const std::string& name, const std::string& user, const std::string& pw, bool w) {
            return "<" + name + "><dsn>" + pg_.conninfo(kDatabase) + "</dsn><user>" + user + "</user><passwordFile>" +
                   pg_.directory() + "/" + pw + "</passwordFile><poolSize>" + std::to_string(poolSize) +
                   "</poolSize><writable>" + (w ? "true" : "false") + "</writable><plugins>" + plugin +
                   "</plugins></" + name + ">";
        };
        return "<sql><sources>" + source("finance", "hub_reader", "reader.pw", false) +
               source("finance_rw", "hub_writer", "writer.pw", writable) + "</sources></sql>\n";
    }

private:
    PostgresServer pg_;
};

}  // namespace hub::test::finance
