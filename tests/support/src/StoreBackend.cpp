#include "hub/test/StoreBackend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>

#include <unistd.h>

namespace hub::test {

namespace {

const char* suiteServerDirectory() {
    const char* dir = std::getenv("HUB_TEST_POSTGRES");
    return dir && *dir ? dir : nullptr;
}

// PostgreSQL folds unquoted names to lower case and allows 63 bytes.
std::string databaseName() {
    static std::atomic<int> counter{0};
    std::string name = "t";
    if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
        name += "_";
        name += info->test_suite_name();
        name += "_";
        name += info->name();
    }
    for (char& c : name)
        c = std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                                                         : '_';
    // The suite's server is shared by every test process of the run: the pid
    // keeps two processes' names apart.
    std::string suffix = "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    if (name.size() + suffix.size() > 63) name.resize(63 - suffix.size());
    return name + suffix;
}

}  // namespace

bool storeOnPostgres() {
    if (suiteServerDirectory()) return true;
    const char* store = std::getenv("HUB_TEST_STORE");
    return store && std::string(store) == "postgresql";
}

PostgresServer& sharedPostgres() {
    static std::once_flag once;
    static std::unique_ptr<PostgresServer> server;
    std::call_once(once, [] {
        if (const char* dir = suiteServerDirectory())
            server = PostgresServer::attach(dir);
        else
            server = std::make_unique<PostgresServer>();
    });
    return *server;
}

PostgresDatabase freshPostgresDatabase() {
    auto& pg = sharedPostgres();
    PostgresDatabase db;
    db.name = databaseName();
    pg.psql("CREATE DATABASE " + db.name);
    db.connection = pg.conninfo(db.name) + " user=" + pg.user();
    db.passwordFile = pg.passwordFile();
    return db;
}

std::string storeXml(const std::string& dir, const std::string& extra) {
    if (!storeOnPostgres()) return storeXml(dir, PostgresDatabase{}, extra);
    return storeXml(dir, freshPostgresDatabase(), extra);
}

std::string storeXml(const std::string& dir, const PostgresDatabase& database, const std::string& extra) {
    std::string xml = "<store><path>" + dir + "/hub.db</path>";
    if (!database.name.empty())
        xml += "<backend>postgresql</backend><postgresql><connection>" + database.connection +
               "</connection><passwordFile>" + database.passwordFile + "</passwordFile></postgresql>";
    return xml + extra + "</store>";
}

}  // namespace hub::test
