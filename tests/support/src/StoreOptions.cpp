#include "hub/test/StoreOptions.h"

namespace hub::test {

hub::store::Database::Options storeOptions(const std::string& dir) {
    return storeOptions(dir, storeOnPostgres() ? freshPostgresDatabase() : PostgresDatabase{});
}

hub::store::Database::Options storeOptions(const std::string& dir, const PostgresDatabase& database) {
    hub::store::Database::Options o;
    o.path = dir + "/hub.db";
    if (!database.name.empty()) {
        o.backend = hub::store::Database::Backend::PostgreSql;
        o.connection = database.connection;
        o.passwordFile = database.passwordFile;
    }
    return o;
}

}  // namespace hub::test
