// Who may call what, route by route: every route of docs/api/openapi.json
// against every way a token can be wrong and every caller that must be refused,
// on a real hubd (and the simulated student affairs system behind the
// reference plugin). The table below has one row per documented route; a route
// added to the document without its row fails the test, and so does a row for a
// route the document does not have.
#include "../integration/SameStore.h"
#include "hub/test/StoreBackend.h"
#include "hub/auth/TokenIssuer.h"
#include "hub/store/Database.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/TempDir.h"

#include <Poco/Base64Encoder.h>
#include <Poco/Data/Session.h>
#include <Poco/Exception.h>
#include <Poco/HMACEngine.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/SHA2Engine.h>
#include <Poco/Timestamp.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

namespace fs = std::filesystem;
using namespace Poco::Data::Keywords;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::HttpResponse;
using hub::test::TempDir;
using Poco::JSON::Object;

namespace {

const std::string kSecret = "authz-table-test-secret-0123456789-abcdef";
const std::string kIssuer = "authz-table-test";

// The callers. The sample application and the records belong to kOwner, a
// student of the student affairs department, which handles the application.
const std::string kOwner = "2023010001";         // student
const std::string kOtherStudent = "2023010002";  // another student
const std::string kOtherClerk = "clerk.lib";     // a clerk of the library, not of student affairs
const std::string kAdmin = "admin";
const std::string kClerk = "clerk.xsc";  // a clerk of student affairs
const std::string kTutor = "ta.wang";    // a doctoral student who is also a student affairs clerk
const std::string kDeptAdmin = "admin.xsc";       // dept:student-affairs:admin, the application's department
const std::string kOtherDeptAdmin = "admin.lib";  // dept:library:admin

// ---------------------------------------------------------------------------
// Tokens, good and bad

std::string b64url(const std::string& bytes) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    encoder << bytes;
    encoder.close();
    return out.str();
}

// SHA-256 as Poco's HMACEngine wants it: with its block and digest sizes.
class Sha256Engine : public Poco::SHA2Engine {
public:
    enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
};

std::string hmac(const std::string& input, const std::string& secret) {
    Poco::HMACEngine<Sha256Engine> engine(secret);
    engine.update(input);
    const auto& d = engine.digest();
    return b64url(std::string(d.begin(), d.end()));
}

std::string payload(const std::string& subject, const std::string& extra = "") {
    const auto now = Poco::Timestamp().epochTime();
    return R"({"sub":")" + subject + R"(","aud":"campushub","iss":")" + kIssuer + R"(","iat":)" + std::to_string(now) +
           R"(,"exp":)" + std::to_string(now + 600) + extra + "}";
}

hub::auth::TokenClaims claims(const std::string& subject) {
    hub::auth::TokenClaims c;
    c.subject = subject;
    c.audience = {"campushub"};
    c.issuer = kIssuer;
    c.lifetime = Poco::Timespan(600, 0);
    return c;
}

std::string token(const std::string& subject) {
    return hub::auth::TokenIssuer::hs256(kSecret).issue(claims(subject));
}

// Each way a bearer token must be refused with 401, all for the owner.
std::vector<std::pair<std::string, std::string>> badTokens() {
    auto issuer = hub::auth::TokenIssuer::hs256(kSecret);
    std::vector<std::pair<std::string, std::string>> out;
    out.emplace_back("no token", "");
    out.emplace_back("expired", issuer.issue(claims(kOwner), Poco::Timestamp() - Poco::Timespan(2 * 3600, 0)));
    auto early = claims(kOwner);
    early.notBefore = Poco::Timestamp() + Poco::Timespan(3600, 0);
    out.emplace_back("not yet valid", issuer.issue(early));
    out.emplace_back("wrong signature",
                     hub::auth::TokenIssuer::hs256("another-secret-0123456789-abcdefghijkl").issue(claims(kOwner)));
    auto foreign = claims(kOwner);
    foreign.issuer = "someone-else";
    out.emplace_back("wrong issuer", issuer.issue(foreign));
    auto elsewhere = claims(kOwner);
    elsewhere.audience = {"another-app"};
    out.emplace_back("wrong audience", issuer.issue(elsewhere));
    out.emplace_back("alg none", b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(payload(kOwner)) + ".");
    // The classic confusion: RS256 named, the HS256 secret used as if it were the public key.
    const std::string rsInput = b64url(R"({"alg":"RS256","typ":"JWT"})") + "." + b64url(payload(kOwner));
    out.emplace_back("RS256 header on an HS256 hub", rsInput + "." + hmac(rsInput, kSecret));
    // Correctly signed, but larger than auth.jwt.maxTokenBytes (8 KiB).
    const std::string bigInput = b64url(R"({"alg":"HS256","typ":"JWT"})") + "." +
                                 b64url(payload(kOwner, R"(,"pad":")" + std::string(9000, 'x') + "\""));
    out.emplace_back("oversized", bigInput + "." + hmac(bigInput, kSecret));
    return out;
}

// ---------------------------------------------------------------------------
// The table

enum class Expect {
    Allowed,  ///< Not refused: neither 401 nor 403 (the handler's own answer, 200, 404, 409...).
    Refused,  ///< 403 problem+json.
    NotApplicable,
};
constexpr Expect A = Expect::Allowed, R = Expect::Refused, NA = Expect::NotApplicable;

struct Row {
    std::string method;
    std::string path;    ///< As in the document.
    Expect owner;        ///< The student whose resources the request names (student on admin routes).
    Expect otherClerk;   ///< A clerk of another department than the resource's.
    Expect otherPerson;  ///< Another student, on the owner's resource.
};

// One row per route of docs/api/openapi.json. The open probes ignore tokens;
// every other route needs one, which the token columns check from the
// document's own security requirements.
const std::vector<Row> kTable = {
    {"GET", "/healthz", A, A, NA},
    {"GET", "/readyz", A, A, NA},
    {"GET", "/metrics", A, A, NA},
    {"GET", "/api/v1/openapi.json", A, A, NA},
    {"GET", "/api/v1/systems", A, A, NA},
    // get_student of the owner: a student reads only their own record, a
    // student affairs clerk anyone's; a clerk of the library nobody's.
    {"POST", "/api/v1/systems/{system}/operations/{operation}", A, R, R},
    // Vendors' callbacks: no token makes a difference (signed; tests/adapters).
    {"POST", "/api/v1/webhooks/{plugin}/{operation}", NA, NA, NA},
    {"GET", "/api/v1/catalog/services", A, A, NA},
    {"GET", "/api/v1/catalog/services/{id}", A, A, NA},
    {"GET", "/api/v1/catalog/categories", A, A, NA},
    // The caller's own data in the form: anyone offered the item.
    {"GET", "/api/v1/catalog/services/{id}/prefill", A, A, NA},
    // A student leave for the owner; a clerk (staff) is not offered it.
    {"POST", "/api/v1/applications", A, R, NA},
    // The student affairs department's list: clerks of that department only.
    {"GET", "/api/v1/applications", R, R, R},
    {"GET", "/api/v1/applications/{id}", A, R, R},
    // The owner's cancel changes the application: ApplicationsTest covers it.
    {"POST", "/api/v1/applications/{id}/cancel", NA, R, R},
    {"POST", "/api/v1/applications/{id}/supplement", A, R, R},
    {"POST", "/api/v1/applications/{id}/transitions", R, R, R},
    // The applicant rates (409 while open); nobody else may.
    {"POST", "/api/v1/applications/{id}/rating", A, R, R},
    // Read back by the applicant, hub:admin and the department's roles.
    {"GET", "/api/v1/applications/{id}/rating", A, R, R},
    // hub:admin, or a department role: a clerk sees their own department's figures.
    {"GET", "/admin/evaluation", R, A, NA},
    {"GET", "/admin/plugins/activity", R, R, NA},
    {"GET", "/admin/events/consumers", R, R, NA},
    {"GET", "/api/v1/identities/me", A, A, NA},
    // Staff read anyone's record, with the fields the answer policy gives them (PrivacyTest).
    {"GET", "/api/v1/identities/{id}", A, A, R},
    {"GET", "/api/v1/identities", R, R, NA},
    {"GET", "/admin/identity/sync", R, R, NA},
    {"POST", "/admin/identity/sync", R, R, NA},
    {"GET", "/admin/identity/sync/preview", R, R, NA},
    {"GET", "/admin/audit", R, R, NA},
    {"GET", "/admin/events/dead-letters", R, R, NA},
    {"POST", "/admin/events/dead-letters/replay", R, R, NA},
    {"GET", "/admin/plugins", R, R, NA},
    {"POST", "/admin/plugins/{name}/reload", R, R, NA},
    {"DELETE", "/admin/plugins/{name}", R, R, NA},
    {"POST", "/admin/plugins/rescan", R, R, NA},
    {"GET", "/admin/cluster", R, R, NA},
    {"POST", "/admin/catalog/reload", R, R, NA},
    {"GET", "/admin/applications/{id}/trace", R, R, NA},
    // The flows' user tasks: no flow runs here, so every task id is the
    // handler's 404; who may act on a task is checked in FlowRunsTest.
    {"GET", "/api/v1/tasks", A, A, NA},
    {"POST", "/api/v1/tasks/{id}/claim", A, A, NA},
    {"POST", "/api/v1/tasks/{id}/unclaim", A, A, NA},
    {"POST", "/api/v1/tasks/{id}/complete", A, A, NA},
    {"POST", "/admin/flows/reload", R, R, NA},
    {"GET", "/admin/flows", R, R, NA},
    {"GET", "/admin/flows/incidents", R, R, NA},
    {"POST", "/admin/flows/incidents/{id}/retry", R, R, NA},
    {"POST", "/admin/flows/messages", R, R, NA},
    // The owner's leave has no flow here: 404 for the owner, 403 for others.
    {"GET", "/api/v1/applications/{id}/flow", A, R, R},
    // Issue 18: one's own data; retention and legal holds.
    {"GET", "/api/v1/me/export", A, A, NA},
    {"POST", "/admin/retention/run", R, R, NA},
    {"GET", "/admin/retention/runs", R, R, NA},
    {"PUT", "/admin/applications/{id}/legal-hold", R, R, NA},
    {"DELETE", "/admin/applications/{id}/legal-hold", R, R, NA},
    // A department's own catalogue file and flows: hub:admin and that department's admin.
    {"PUT", "/admin/catalog/departments/{department}", R, R, NA},
    {"DELETE", "/admin/catalog/departments/{department}", R, R, NA},
    {"POST", "/admin/catalog/departments/{department}/reload", R, R, NA},
    {"PUT", "/admin/flows/departments/{department}/{file}", R, R, NA},
    {"DELETE", "/admin/flows/departments/{department}/{file}", R, R, NA},
    {"POST", "/admin/flows/departments/{department}/reload", R, R, NA},
};

// Delegated administration (issue 18): every admin route, and the portal routes
// a department admin reaches further on, as the admin of the student affairs
// department (whose the application and the student_affairs plugin are) and as
// the library's admin. A route's own answer (200, 400, 404) counts as allowed.
struct DepartmentRow {
    std::string method;
    std::string path;
    Expect ownDepartment;
    Expect otherDepartment;
    std::string target = {};  ///< Instead of the table's request: a plugin that is configured but not loaded.
};

const std::vector<DepartmentRow> kDepartmentTable = {
    {"GET", "/api/v1/applications", A, R},  // ?department=student-affairs
    {"GET", "/api/v1/applications/{id}", A, R},
    {"GET", "/api/v1/applications/{id}/rating", A, R},
    {"GET", "/api/v1/identities/{id}", A, A},
    {"GET", "/api/v1/identities", R, R},
    {"GET", "/admin/evaluation", A, A},  // each sees its own department's figures
    {"GET", "/admin/plugins/activity", R, R},
    {"GET", "/admin/events/consumers", R, R},
    {"GET", "/admin/identity/sync", R, R},
    {"POST", "/admin/identity/sync", R, R},
    {"GET", "/admin/identity/sync/preview", R, R},
    {"GET", "/admin/audit", R, R},
    {"GET", "/admin/events/dead-letters", A, A},  // each its own department's
    // A whole consumer's queue: hub:admin's; one dead letter (?id=) of one's department is allowed.
    {"POST", "/admin/events/dead-letters/replay", R, R},
    {"GET", "/admin/plugins", A, A},  // each its own department's refusals
    {"POST", "/admin/plugins/{name}/reload", A, R, "/admin/plugins/ghost_affairs/reload"},
    {"DELETE", "/admin/plugins/{name}", A, R, "/admin/plugins/ghost_affairs"},
    {"POST", "/admin/plugins/rescan", R, R},
    {"GET", "/admin/cluster", R, R},
    {"POST", "/admin/catalog/reload", R, R},
    {"GET", "/admin/flows", A, A},  // each the flows its department's items use
    {"GET", "/admin/flows/incidents", A, A},
    {"POST", "/admin/flows/incidents/{id}/retry", A, A},  // no incident: 404 for both
    {"POST", "/admin/flows/reload", R, R},
    {"POST", "/admin/flows/messages", R, R},  // a message may move any department's flows
    {"GET", "/admin/applications/{id}/trace", R, R},
    {"POST", "/admin/retention/run", R, R},
    {"GET", "/admin/retention/runs", R, R},
    {"PUT", "/admin/applications/{id}/legal-hold", A, R},
    {"DELETE", "/admin/applications/{id}/legal-hold", A, R},
    // The student affairs department's own files (an invalid body: 422; no file: 404).
    {"PUT", "/admin/catalog/departments/{department}", A, R},
    {"DELETE", "/admin/catalog/departments/{department}", A, R},
    {"POST", "/admin/catalog/departments/{department}/reload", A, R},
    {"PUT", "/admin/flows/departments/{department}/{file}", A, R},
    {"DELETE", "/admin/flows/departments/{department}/{file}", A, R},
    {"POST", "/admin/flows/departments/{department}/reload", A, R},
};

// ---------------------------------------------------------------------------
// The document

struct Documented {
    std::string method;
    std::string path;
    bool secured = true;  ///< Takes the bearer token.
    bool signedByVendor = false;  ///< A webhook: signed by the vendor instead (webhookSignature).
};

std::vector<Documented> documentedRoutes() {
    std::ifstream in(OPENAPI_JSON);
    std::stringstream text;
    text << in.rdbuf();
    Poco::JSON::Parser parser;
    auto root = parser.parse(text.str()).extract<Object::Ptr>();
    const bool securedByDefault = root->getArray("security") && root->getArray("security")->size() > 0;
    std::vector<Documented> out;
    for (const auto& [path, item] : *root->getObject("paths")) {
        auto pathItem = item.extract<Object::Ptr>();
        for (const char* method : {"get", "put", "post", "delete", "patch"}) {
            if (!pathItem->has(method)) continue;
            auto operation = pathItem->getObject(method);
            std::string upper = method;
            for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            bool secured = operation->has("security") ? operation->getArray("security")->size() > 0 : securedByDefault;
            bool signedByVendor = secured && operation->has("security") &&
                                  operation->getArray("security")->getObject(0)->has("webhookSignature");
            out.push_back({upper, path, secured && !signedByVendor, signedByVendor});
        }
    }
    return out;
}

Object::Ptr parse(const std::string& body) {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Object::Ptr>();
}

class AuthorizationTable : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        try {
            start();
        } catch (const Poco::Exception& e) {
            startError_ = e.displayText();
        } catch (const std::exception& e) {
            startError_ = e.what();
        }
    }
    static void TearDownTestSuite() {
        delete hubd_;
        delete sim_;
        delete store_;
        delete dir_;
    }
    void SetUp() override {
        if (!startError_.empty()) FAIL() << "could not start the simulated system and hubd: " << startError_;
    }

    static void start() {
        dir_ = new TempDir("authz-table-test");
        store_ = new hub::test::SameStore(dir_->file("var"));
        sim_ = new ChildProcess(
            SIM_STUDENT_AFFAIRS_EXE,
            {.args = {"--port", "0", "--port-file", dir_->file("sim.port")}, .portFile = dir_->file("sim.port")});
        fs::create_directories(dir_->file("plugins"));
        fs::create_directories(dir_->file("var"));
        fs::copy(std::string(REFERENCE_PLUGINS_DIR) + "/student_affairs", dir_->file("plugins/student_affairs"),
                 fs::copy_options::recursive);
        dir_->write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" +
                                   dir_->file("hubd.port") + R"(</portFile></http>
  )" + store_->xml() + R"(
  <plugins>
    <dir>)" + dir_->file("plugins") +
                                   R"(</dir>
    <plugin name="student_affairs"><timeoutMs>3000</timeoutMs><department>student-affairs</department>
      <config><base_url>http://127.0.0.1:)" +
                                   std::to_string(sim_->port()) + R"(</base_url></config></plugin>
    <plugin name="ghost_affairs"><department>student-affairs</department></plugin>
  </plugins>
  <auth><jwt><hs256Secret>)" + kSecret +
                                   R"(</hs256Secret><issuer>)" + kIssuer + R"(</issuer>
    <audience>campushub</audience></jwt>
    <serviceAccounts><account><subject>portal-backend</subject><mayActFor>true</mayActFor>
      <actForAudiences>student teacher</actForAudiences></account>
      <account><subject>affairs-desk</subject><mayActFor>true</mayActFor><actForAudiences>staff</actForAudiences>
      <actForRoles>dept:student-affairs:clerk</actForRoles></account></serviceAccounts></auth>
  <catalog><dir>)" + std::string(CATALOG_DIR) +
                                   R"(</dir></catalog>
  <calendar><file>)" + std::string(CATALOG_DIR) +
                                   R"(/../calendar/calendar.xml</file></calendar>
  <identity><static>
    <person id=")" + kOwner + R"(" name="张三" department="student-affairs" audience="student"/>
    <person id=")" + kOtherStudent +
                                   R"(" name="李四" department="student-affairs" audience="student"/>
    <person id=")" + kOtherClerk + R"(" name="图书馆员" department="library" audience="staff"
            roles="dept:library:clerk"/>
    <person id=")" + kAdmin + R"(" name="Operator" audience="staff" roles="hub:admin"/>
    <person id=")" + kClerk + R"(" name="学生处" department="student-affairs" audience="staff"
            roles="dept:student-affairs:clerk"/>
    <person id=")" + kTutor + R"(" name="王助教" department="student-affairs" audience="student staff"
            roles="dept:student-affairs:clerk"/>
    <person id=")" + kDeptAdmin + R"(" name="学生处管理员" department="student-affairs" audience="staff"
            roles="dept:student-affairs:admin"/>
    <person id=")" + kOtherDeptAdmin + R"(" name="图书馆管理员" department="library" audience="staff"
            roles="dept:library:admin"/>
  </static></identity>
</hub>)");
        hubd_ = new ChildProcess(HUBD_EXE,
                                 {.args = {"--config", dir_->file("hub.xml")}, .portFile = dir_->file("hubd.port")});
        // The owner's application, handled by the student affairs department.
        auto r = httpRequest("POST", hubd_->url("/api/v1/applications"), leaveForm(),
                             {{"Authorization", "Bearer " + token(kOwner)}});
        if (r.status != 201) throw std::runtime_error("sample application: " + std::to_string(r.status) + " " + r.body);
        applicationId_ = parse(r.body)->getValue<std::string>("id");
    }

    static std::string leaveForm() {
        return R"({"item_id":"student-leave","form":{"leave-type":"sick","from":"2030-01-14","to":"2030-01-15",)"
               R"("reason":"发烧","phone":"13800000000"}})";
    }

    // The request for a route: its parameters name the owner's resources.
    static std::pair<std::string, std::string> requestFor(const std::string& method, const std::string& path) {
        std::string target = path;
        auto put = [&target](const std::string& name, const std::string& value) {
            auto at = target.find("{" + name + "}");
            if (at != std::string::npos) target.replace(at, name.size() + 2, value);
        };
        put("system", "student_affairs");
        put("plugin", "student_affairs");
        put("operation", "get_student");
        put("name", "student_affairs");
        put("department", "student-affairs");
        put("file", "leave.bpmn");
        put("id", path.find("/applications/") != std::string::npos ? applicationId_
                  : path.rfind("/api/v1/identities/", 0) == 0 ? kOwner
                                                              : "student-leave");
        if (path == "/api/v1/applications") target += method == "GET" ? "?department=student-affairs" : "";
        if (path == "/admin/events/dead-letters/replay") target += "?consumer=portal";
        std::string body;
        if (method == "POST" || method == "PUT") body = "{}";
        if (path == "/api/v1/applications" && method == "POST") body = leaveForm();
        if (path.find("/operations/") != std::string::npos) body = R"({"student_id":")" + kOwner + R"("})";
        if (path.find("/transitions") != std::string::npos) body = R"({"to":"approved"})";
        return {target, body};
    }

    static HttpResponse send(const std::string& method, const std::string& path, const std::string& bearer,
                             const std::string& targetOverride = {}) {
        auto [target, body] = requestFor(method, path);
        if (!targetOverride.empty()) target = targetOverride;
        std::map<std::string, std::string> headers;
        if (!bearer.empty()) headers["Authorization"] = "Bearer " + bearer;
        return httpRequest(method, hubd_->url(target), body, headers);
    }

    // Refused: 403 problem+json; allowed: anything but 401 and 403.
    static void expectAnswer(const HttpResponse& r, Expect expect) {
        if (expect == R) {
            EXPECT_EQ(r.status, 403) << r.body;
            EXPECT_EQ(r.header("Content-Type"), "application/problem+json") << r.body;
        } else {
            EXPECT_NE(r.status, 401) << r.body;
            EXPECT_NE(r.status, 403) << r.body;
        }
    }

    static TempDir* dir_;
    static hub::test::SameStore* store_;
    static ChildProcess* sim_;
    static ChildProcess* hubd_;
    static std::string startError_;
    static std::string applicationId_;
};

TempDir* AuthorizationTable::dir_ = nullptr;
hub::test::SameStore* AuthorizationTable::store_ = nullptr;
ChildProcess* AuthorizationTable::sim_ = nullptr;
ChildProcess* AuthorizationTable::hubd_ = nullptr;
std::string AuthorizationTable::startError_;
std::string AuthorizationTable::applicationId_;

}  // namespace

// The table and the document describe the same routes: a new route needs its row.
TEST(AuthorizationTableRows, CoverEveryDocumentedRouteAndNoOther) {
    std::set<std::pair<std::string, std::string>> documented, tabled;
    for (const auto& d : documentedRoutes()) documented.insert({d.method, d.path});
    for (const auto& row : kTable)
        EXPECT_TRUE(tabled.insert({row.method, row.path}).second) << "two rows for " << row.method << " " << row.path;
    for (const auto& route : documented)
        EXPECT_TRUE(tabled.count(route)) << route.first << " " << route.second
                                         << " is documented but has no row in the authorization table";
    for (const auto& route : tabled)
        EXPECT_TRUE(documented.count(route))
            << route.first << " " << route.second << " has a row but is not in docs/api/openapi.json";
}

// Every admin route has its row for the department admins.
TEST(AuthorizationTableRows, EveryAdminRouteHasADepartmentAdminRow) {
    std::set<std::pair<std::string, std::string>> rows;
    for (const auto& row : kDepartmentTable) rows.insert({row.method, row.path});
    for (const auto& d : documentedRoutes()) {
        if (d.path.rfind("/admin/", 0) != 0) continue;
        EXPECT_TRUE(rows.count({d.method, d.path}))
            << d.method << " " << d.path << " has no row for the department admins (kDepartmentTable)";
    }
    for (const auto& row : kDepartmentTable) {
        bool documented = false;
        for (const auto& d : documentedRoutes()) documented = documented || (d.method == row.method && d.path == row.path);
        EXPECT_TRUE(documented) << row.method << " " << row.path << " is not in docs/api/openapi.json";
    }
}

// A department's admin manages its department's things, and nothing of another's.
TEST_F(AuthorizationTable, DepartmentAdminsManageOnlyTheirDepartment) {
    const std::string own = token(kDeptAdmin), other = token(kOtherDeptAdmin);
    for (const auto& row : kDepartmentTable) {
        for (const auto& [who, bearer, expect] : {std::tuple{kDeptAdmin, own, row.ownDepartment},
                                                 std::tuple{kOtherDeptAdmin, other, row.otherDepartment}}) {
            SCOPED_TRACE(row.method + " " + row.path + " as " + who);
            expectAnswer(send(row.method, row.path, bearer, row.target), expect);
        }
    }
}

// What a department admin is shown is its department's only; hub:admin sees everything.
TEST_F(AuthorizationTable, DepartmentAdminsSeeOnlyTheirDepartmentsApplications) {
    auto list = [](const std::string& who, const std::string& department) {
        return httpRequest("GET", hubd_->url("/api/v1/applications?department=" + department), "",
                           {{"Authorization", "Bearer " + token(who)}});
    };
    auto own = list(kDeptAdmin, "student-affairs");
    ASSERT_EQ(own.status, 200) << own.body;
    EXPECT_NE(own.body.find(applicationId_), std::string::npos) << own.body;
    EXPECT_EQ(list(kDeptAdmin, "library").status, 403);
    EXPECT_EQ(list(kDeptAdmin, "*").status, 403) << "every department's list is hub:admin's";
    EXPECT_EQ(list(kOtherDeptAdmin, "student-affairs").status, 403);
    auto library = list(kOtherDeptAdmin, "library");
    ASSERT_EQ(library.status, 200) << library.body;
    EXPECT_EQ(library.body.find(applicationId_), std::string::npos) << library.body;
    EXPECT_EQ(list(kAdmin, "*").status, 200);
    // The plugin's own department reloads it; the library's is refused, with the reason.
    auto refused = httpRequest("POST", hubd_->url("/admin/plugins/student_affairs/reload"), "",
                               {{"Authorization", "Bearer " + token(kOtherDeptAdmin)}});
    EXPECT_EQ(refused.status, 403);
    EXPECT_NE(refused.body.find("the admin role of its department"), std::string::npos) << refused.body;
}

TEST_F(AuthorizationTable, EveryBadTokenIsRefusedOnEverySecuredRoute) {
    const auto tokens = badTokens();
    for (const auto& route : documentedRoutes()) {
        for (const auto& [what, bearer] : tokens) {
            SCOPED_TRACE(route.method + " " + route.path + " with " + what);
            auto r = send(route.method, route.path, bearer);
            if (route.signedByVendor) {  // tokens do not count there; the missing signature does
                EXPECT_EQ(r.status, 401) << r.body;
                continue;
            }
            if (!route.secured) {
                EXPECT_NE(r.status, 401) << "an open route wants a token: " << r.body;
                continue;
            }
            EXPECT_EQ(r.status, 401) << r.body;
            EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
            EXPECT_NE(r.header("WWW-Authenticate").find("Bearer"), std::string::npos);
        }
    }
}

TEST_F(AuthorizationTable, EachCallerGetsWhatTheTableSays) {
    const std::map<std::string, std::string> tokens = {
        {kOwner, token(kOwner)}, {kOtherClerk, token(kOtherClerk)}, {kOtherStudent, token(kOtherStudent)}};
    for (const auto& row : kTable) {
        for (const auto& [who, expect] : {std::pair{kOwner, row.owner}, std::pair{kOtherClerk, row.otherClerk},
                                          std::pair{kOtherStudent, row.otherPerson}}) {
            if (expect == NA) continue;
            SCOPED_TRACE(row.method + " " + row.path + " as " + who);
            expectAnswer(send(row.method, row.path, tokens.at(who)), expect);
        }
    }
}

// Every refusal of the table is in the audit trail, once, with the caller
// refused; and an admin's call is there with its outcome.
TEST_F(AuthorizationTable, RefusalsAndAdminCallsAreAudited) {
    hub::store::Database db(store_->options());
    auto session = db.session();
    auto count = [&session](const std::string& where) {
        int n = 0;
        session << "SELECT count(*) FROM audit_calls WHERE " + where, into(n), now;
        return n;
    };
    auto forbidden = [](const std::string& who) {
        return "subject = '" + who + "' AND outcome = 'forbidden' AND http_status = 403";
    };
    const std::string adminCall = "subject = 'admin' AND operation = 'GET /admin/plugins' AND system = '' AND "
                                  "outcome = 'ok' AND http_status = 200";
    // The audit thread writes in order within its commit interval: once an
    // admin's call is there, so is everything sent before it.
    auto adminCallWritten = [&] {
        const int was = count(adminCall);
        auto r = httpRequest("GET", hubd_->url("/admin/plugins"), "", {{"Authorization", "Bearer " + token(kAdmin)}});
        EXPECT_EQ(r.status, 200) << r.body;
        hub::test::waitUntil([&] { return count(adminCall) != was; }, std::chrono::seconds(10),
                             std::chrono::milliseconds(20));
        return count(adminCall) == was + 1;
    };
    const std::map<std::string, std::string> tokens = {
        {kOwner, token(kOwner)}, {kOtherClerk, token(kOtherClerk)}, {kOtherStudent, token(kOtherStudent)}};
    ASSERT_TRUE(adminCallWritten()) << "the admin's call is not in the audit trail";
    std::map<std::string, int> before, expected;  // subject -> refusals audited before, and sent now
    for (const auto& [who, bearer] : tokens) before[who] = count(forbidden(who));

    for (const auto& row : kTable) {
        for (const auto& [who, expect] : {std::pair{kOwner, row.owner}, std::pair{kOtherClerk, row.otherClerk},
                                          std::pair{kOtherStudent, row.otherPerson}}) {
            if (expect != R) continue;
            ASSERT_EQ(send(row.method, row.path, tokens.at(who)).status, 403) << row.method << " " << row.path;
            ++expected[who];
        }
    }
    ASSERT_TRUE(adminCallWritten());
    for (const auto& [who, n] : expected) EXPECT_EQ(count(forbidden(who)) - before[who], n) << who;
    EXPECT_GE(count(forbidden(kOtherStudent) + " AND system = 'student_affairs' AND operation = 'get_student'"), 1);
    EXPECT_GE(count(forbidden(kOwner) + " AND system = '' AND operation = 'POST /admin/plugins/rescan'"), 1);
    EXPECT_GE(count(forbidden(kOtherClerk) + " AND system = '' AND operation = 'POST /api/v1/applications/" +
                    applicationId_ + "/transitions'"),
              1);
}

// The reference plugin's policy, both ways, with the detail the caller sees.
TEST_F(AuthorizationTable, AStudentReadsOnlyTheirOwnRecord) {
    auto call = [](const std::string& who, const std::string& studentId) {
        return httpRequest("POST", hubd_->url("/api/v1/systems/student_affairs/operations/get_student"),
                           R"({"student_id":")" + studentId + R"("})", {{"Authorization", "Bearer " + token(who)}});
    };
    auto own = call(kOwner, kOwner);
    ASSERT_EQ(own.status, 200) << own.body;
    EXPECT_EQ(parse(own.body)->getValue<std::string>("name"), "张三");
    auto other = call(kOwner, kOtherStudent);
    ASSERT_EQ(other.status, 403) << other.body;
    auto problem = parse(other.body);
    EXPECT_EQ(problem->getValue<std::string>("type"), "urn:campushub:problem:forbidden");
    EXPECT_EQ(problem->getValue<std::string>("detail"),
              "operation get_student of plugin student_affairs takes only the caller's own id as 'student_id'");
    // Smuggling the victim's id past the check: a second member, an escaped name.
    EXPECT_EQ(httpRequest("POST", hubd_->url("/api/v1/systems/student_affairs/operations/get_student"),
                          R"({"student_id":")" + kOwner + R"(","student_id":")" + kOtherStudent + R"("})",
                          {{"Authorization", "Bearer " + token(kOwner)}})
                  .status,
              403);
    EXPECT_EQ(
        httpRequest("POST", hubd_->url("/api/v1/systems/student_affairs/operations/get_student"),
                    R"({"student\u005fid":")" + kOtherStudent + R"("})", {{"Authorization", "Bearer " + token(kOwner)}})
            .status,
        403);
}

// A student affairs clerk reads anyone's record; the policy's other side.
TEST_F(AuthorizationTable, AStudentAffairsClerkReadsAnyRecord) {
    auto r = httpRequest("POST", hubd_->url("/api/v1/systems/student_affairs/operations/get_student"),
                         R"({"student_id":")" + kOwner + R"("})", {{"Authorization", "Bearer " + token(kClerk)}});
    EXPECT_EQ(r.status, 200) << r.body;
}

// A service account acts for the users it is configured for, with only the
// roles it is granted: the portal acts for students as students (never with a
// clerk role they also hold), and not at all for the admin.
TEST_F(AuthorizationTable, ServiceAccountsActOnlyWithWhatTheyAreGranted) {
    auto as = [](const std::string& service, const std::string& user, const std::string& studentId) {
        auto issuer = hub::auth::TokenIssuer::hs256(kSecret);
        auto c = claims(service);
        c.actingFor = user;
        return httpRequest("POST", hubd_->url("/api/v1/systems/student_affairs/operations/get_student"),
                           R"({"student_id":")" + studentId + R"("})",
                           {{"Authorization", "Bearer " + issuer.issue(c)}});
    };
    // Allowed: the portal for a student, about that student.
    EXPECT_EQ(as("portal-backend", kOwner, kOwner).status, 200);
    // The tutor's clerk role does not pass through the portal: only their own record.
    EXPECT_EQ(as("portal-backend", kTutor, kOwner).status, 403);
    // Directly, or through the desk that is granted the role, it does.
    EXPECT_EQ(httpRequest("POST", hubd_->url("/api/v1/systems/student_affairs/operations/get_student"),
                          R"({"student_id":")" + kOwner + R"("})", {{"Authorization", "Bearer " + token(kTutor)}})
                  .status,
              200);
    EXPECT_EQ(as("affairs-desk", kClerk, kOwner).status, 200);
    // Refused: the portal for the admin (staff only), on any route; audited as the token claimed it.
    auto admin = as("portal-backend", kAdmin, kOwner);
    EXPECT_EQ(admin.status, 403) << admin.body;
    EXPECT_EQ(parse(admin.body)->getValue<std::string>("type"), "urn:campushub:problem:acting-for");
    {
        hub::store::Database db(store_->options());
        auto session = db.session();
        int n = 0;
        hub::test::waitUntil(
            [&] {
                session << "SELECT count(*) FROM audit_calls WHERE subject = 'portal-backend' AND acting_for = 'admin' "
                           "AND outcome = 'forbidden' AND http_status = 403",
                    into(n), now;
                return n != 0;
            },
            std::chrono::seconds(10), std::chrono::milliseconds(20));
        EXPECT_GE(n, 1) << "the acting-for refusal is not in the audit trail";
    }
    auto issuer = hub::auth::TokenIssuer::hs256(kSecret);
    auto c = claims("portal-backend");
    c.actingFor = kAdmin;
    EXPECT_EQ(
        httpRequest("GET", hubd_->url("/admin/plugins"), "", {{"Authorization", "Bearer " + issuer.issue(c)}}).status,
        403);
    // The desk acts for staff only: not for a student.
    EXPECT_EQ(as("affairs-desk", kOwner, kOwner).status, 403);
}

// IT tightens the reference plugin's policy in hub.xml, without a new build;
// a hub.xml that would widen it gets the plugin refused, naming the key.
TEST(AuthorizationHubConfig, NarrowsThePolicyWithoutANewBuildAndRefusesWidening) {
    TempDir dir("authz-hubxml-test");
    ChildProcess sim(SIM_STUDENT_AFFAIRS_EXE,
                     {.args = {"--port", "0", "--port-file", dir.file("sim.port")}, .portFile = dir.file("sim.port")});
    fs::create_directories(dir.file("plugins"));
    fs::create_directories(dir.file("var"));
    fs::copy(std::string(REFERENCE_PLUGINS_DIR) + "/student_affairs", dir.file("plugins/student_affairs"),
             fs::copy_options::recursive);
    auto start = [&](const std::string& operations) {
        dir.write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" +
                                 dir.file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir.file("var")) + R"(
  <plugins><dir>)" + dir.file("plugins") +
                                 R"(</dir>
    <plugin name="student_affairs"><config><base_url>http://127.0.0.1:)" +
                                 std::to_string(sim.port()) + R"(</base_url></config>)" + operations +
                                 R"(</plugin></plugins>
  <auth><jwt><hs256Secret>)" + kSecret +
                                 R"(</hs256Secret><issuer>)" + kIssuer + R"(</issuer></jwt></auth>
  <catalog><dir>)" + std::string(CATALOG_DIR) +
                                 R"(</dir></catalog>
  <calendar><file>)" + std::string(CATALOG_DIR) +
                                 R"(/../calendar/calendar.xml</file></calendar>
  <identity><static>
    <person id=")" + kOwner + R"(" name="张三" audience="student"/>
    <person id=")" + kClerk + R"(" name="学生处" audience="staff" roles="dept:student-affairs:clerk"/>
    <person id=")" + kAdmin + R"(" name="Operator" audience="staff" roles="hub:admin"/>
  </static></identity>
</hub>)");
        fs::remove(dir.file("hubd.port"));
        return std::make_unique<ChildProcess>(HUBD_EXE, ChildProcess::Options{.args = {"--config", dir.file("hub.xml")},
                                                                              .portFile = dir.file("hubd.port")});
    };
    auto call = [](ChildProcess& hubd, const std::string& op, const std::string& who) {
        return httpRequest("POST", hubd.url("/api/v1/systems/student_affairs/operations/" + op),
                           R"({"student_id":")" + kOwner + R"("})", {{"Authorization", "Bearer " + token(who)}});
    };
    {
        auto hubd = start(R"(<operation name="get_student" roles=""/>
                             <operation name="enrolment_certificate" enabled="false"/>)");
        EXPECT_EQ(call(*hubd, "get_student", kOwner).status, 200) << "the student's own record stays theirs";
        auto clerk = call(*hubd, "get_student", kClerk);
        EXPECT_EQ(clerk.status, 403) << "the clerks' role is taken away: " << clerk.body;
        auto disabled = call(*hubd, "enrolment_certificate", kOwner);
        EXPECT_EQ(disabled.status, 403);
        EXPECT_NE(disabled.body.find("disabled by the operator"), std::string::npos) << disabled.body;
    }
    {
        auto hubd = start(R"(<operation name="get_student" roles="dept:student-affairs:clerk hub:admin"/>)");
        auto refused =
            httpRequest("GET", hubd->url("/admin/plugins"), "", {{"Authorization", "Bearer " + token(kAdmin)}});
        ASSERT_EQ(refused.status, 200);
        EXPECT_NE(refused.body.find("plugins.plugin[@name=student_affairs].operation[@name=get_student][@roles]: "
                                    "'hub:admin' is not among the manifest's roles"),
                  std::string::npos)
            << refused.body;
        EXPECT_EQ(call(*hubd, "get_student", kAdmin).status, 404) << "no plugin, no widening";
    }
}
