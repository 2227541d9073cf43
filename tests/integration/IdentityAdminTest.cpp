// The identity admin routes end to end: a real hubd syncing from a private slapd
// (tests/ldap), talked to over HTTP on loopback.
#include "hub/test/StoreBackend.h"
#include "hub/ldaptest/DirectoryGenerator.h"
#include "hub/ldaptest/SlapdServer.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/Json.h"
#include "hub/test/TempDir.h"
#include "hub/test/Tokens.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <set>
#include <thread>

using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::parse;
using hub::test::TempDir;

namespace {

const std::string kSecret = "identity-admin-test-secret-0123456789-abcdef";
constexpr std::size_t kPersons = 2500;  // more than two pages of the largest page size (1000)

std::string adminToken() { return hub::test::token(kSecret, "admin"); }

// hubd with `ldapXml` as its identity.ldap section; the admin is a static person.
std::unique_ptr<ChildProcess> startHubd(TempDir& dir, const std::string& ldapXml) {
    std::filesystem::create_directories(dir.file("no-plugins"));
    return hub::test::startHubd(HUBD_EXE, dir, R"(<hub>
  <http><port>0</port><portFile>)" + dir.file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir.file("var")) + R"(
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <plugins><dir>)" + dir.file("no-plugins") + R"(</dir></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity>
    <static><person id="admin" name="Hub operator" audience="staff" roles="hub:admin"/></static>
    )" + ldapXml + R"(
    <sync><intervalSeconds>3600</intervalSeconds></sync>
  </identity>
</hub>)");
}

hub::test::HttpResponse asAdmin(ChildProcess& hubd, const std::string& method, const std::string& path) {
    return httpRequest(method, hubd.url(path), "", bearer(adminToken()));
}

// POST /admin/identity/sync, waiting out the scheduled first run (409 while it runs).
hub::test::HttpResponse runSync(ChildProcess& hubd, const std::string& query = "") {
    hub::test::HttpResponse r;
    hub::test::waitUntil(
        [&] {
            r = asAdmin(hubd, "POST", "/admin/identity/sync" + query);
            return r.status != 409 || r.body.find("sync-running") == std::string::npos;
        },
        std::chrono::seconds(60), std::chrono::milliseconds(100));
    return r;
}

class IdentityAdminTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = std::make_unique<hub::ldaptest::SlapdServer>(hub::ldaptest::SlapdOptions{});
        hub::ldaptest::DirectoryShape shape;
        shape.persons = kPersons;
        hub::ldaptest::DirectoryGenerator generator(shape);
        std::string ldif = server_->directory() + "/people.ldif";
        generator.writeLdifFile(ldif);
        server_->slapadd(ldif);
        server_->start();
    }
    static void TearDownTestSuite() { server_.reset(); }

    static std::string ldapXml(const std::string& uri) {
        return "<ldap><uri>" + uri + "</uri><base>" + server_->suffix() + "</base><bindDn>" + server_->rootDn() +
               "</bindDn><passwordFile>" + server_->passwordFile() +
               "</passwordFile><connectAttempts>1</connectAttempts><connectTimeoutMs>2000</connectTimeoutMs></ldap>";
    }

    static inline std::unique_ptr<hub::ldaptest::SlapdServer> server_;
};

}  // namespace

// Issue 13: paging at limit=1000 ended after the first page with an empty cursor.
TEST_F(IdentityAdminTest, PagingAtTheLargestLimitReachesEveryPerson) {
    TempDir dir("identity-admin-paging");
    auto hubd = startHubd(dir, ldapXml(server_->uri()));
    auto sync = runSync(*hubd, "?full=1");
    ASSERT_EQ(sync.status, 200) << sync.body << hubd->output();

    std::set<std::string> ids;
    std::vector<std::size_t> pages;
    std::string cursor;
    for (int page = 0; page < 10; ++page) {
        auto r = asAdmin(*hubd, "GET", "/api/v1/identities?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
        ASSERT_EQ(r.status, 200) << r.body;
        auto body = parse(r.body);
        auto items = body->getArray("items");
        pages.push_back(items->size());
        for (std::size_t i = 0; i < items->size(); ++i)
            EXPECT_TRUE(ids.insert(items->getObject(static_cast<unsigned>(i))->getValue<std::string>("id")).second)
                << "a person on two pages";
        cursor = body->getValue<std::string>("nextCursor");
        if (cursor.empty()) break;
    }
    EXPECT_TRUE(cursor.empty()) << "paging did not end";
    EXPECT_EQ(ids.size(), kPersons);
    EXPECT_EQ(pages, (std::vector<std::size_t>{1000, 1000, kPersons - 2000}));
    // One more than the largest page is refused, not cut.
    EXPECT_EQ(asAdmin(*hubd, "GET", "/api/v1/identities?limit=1001").status, 400);
}

// Issue 13: a failed sync was answered 200.
TEST_F(IdentityAdminTest, FailedSyncIsAnErrorNamingTheFailure) {
    TempDir dir("identity-admin-unreachable");
    int closedPort = hub::ldaptest::freeLoopbackPort();  // nothing listens there
    auto hubd = startHubd(dir, ldapXml("ldap://127.0.0.1:" + std::to_string(closedPort) + "/"));
    for (const char* query : {"", "?full=1"}) {
        auto r = runSync(*hubd, query);
        EXPECT_EQ(r.status, 502) << r.body;
        EXPECT_NE(r.header("Content-Type").find("application/problem+json"), std::string::npos)
            << r.header("Content-Type");
        auto problem = parse(r.body);
        EXPECT_EQ(problem->getValue<int>("status"), 502);
        EXPECT_EQ(problem->getValue<std::string>("type"), "urn:campushub:problem:directory-unavailable");
        std::string detail = problem->getValue<std::string>("detail");
        EXPECT_NE(detail.find("failed"), std::string::npos) << detail;
        EXPECT_NE(detail.find("nothing was departed"), std::string::npos) << detail;
        EXPECT_GT(detail.size(), std::string("the directory sync (full) failed: ; nothing was departed").size())
            << "the failure itself is not named: " << detail;
    }
    auto status = parse(asAdmin(*hubd, "GET", "/admin/identity/sync").body);
    EXPECT_EQ(status->getValue<std::string>("lastStatus"), "failed");
    // Every run so far (the scheduled first one, and the two asked for), newest first, each failed with its error.
    auto runs = status->getArray("recentRuns");
    ASSERT_TRUE(runs);
    ASSERT_GE(runs->size(), 2u);
    EXPECT_EQ(runs->getObject(0)->getValue<std::string>("what"), "full");
    for (std::size_t i = 0; i < runs->size(); ++i) {
        auto run = runs->getObject(static_cast<unsigned>(i));
        EXPECT_EQ(run->getValue<std::string>("status"), "failed");
        EXPECT_FALSE(run->getValue<std::string>("error").empty());
        EXPECT_GE(run->getValue<long long>("finishedMs"), run->getValue<long long>("startedMs"));
        if (i > 0) {
            EXPECT_LT(run->getValue<long long>("id"),
                      runs->getObject(static_cast<unsigned>(i - 1))->getValue<long long>("id"));
        }
    }
}
