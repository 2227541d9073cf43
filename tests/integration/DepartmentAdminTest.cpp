// Issue 18, delegated administration through hubd's HTTP API: a department's
// admin changes its own catalogue file and BPMN flows, and nothing of another
// department's (docs/privacy.md, "Delegated administration"); an invalid or
// hostile file changes nothing; a full reload sees the same files.
#include "SameStore.h"
#include "hub/test/StoreBackend.h"
#include "hub/store/Database.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/Json.h"
#include "hub/test/TempDir.h"
#include "hub/test/Tokens.h"

#include <Poco/Data/Session.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using namespace Poco::Data::Keywords;
using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::HttpResponse;
using hub::test::hubdOptions;
using hub::test::parse;
using hub::test::TempDir;
using Poco::JSON::Object;

namespace {

const std::string kSecret = "dept-admin-test-secret-0123456789-abcdef";
const std::string kIssuer = "dept-admin-test";
const std::string kStudent = "2023010001";
const std::string kAdmin = "admin";
const std::string kLibraryAdmin = "admin.lib";   // dept:library:admin
const std::string kLibraryClerk = "clerk.lib";   // dept:library:clerk
const std::string kAffairsAdmin = "admin.xsc";   // dept:student-affairs:admin
const std::string kFinanceClerk = "clerk.fin";   // dept:finance:clerk
const std::string kAffairsClerk = "clerk.xsc";   // dept:student-affairs:clerk

std::string token(const std::string& subject) { return hub::test::token(kSecret, subject, {.issuer = kIssuer}); }

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string item(const std::string& id, const std::string& department, const std::string& name,
                 const std::string& handler = R"(<flow id="book-purchase"/>)", const std::string& category = "resources") {
    return R"(  <item id=")" + id + R"(" category=")" + category + R"(" department=")" + department +
           R"(" channel="online" audience="student" timeLimit="5">
    <name zh=")" + name + R"(" en="A library service"/>
    <handler>)" + handler + R"(</handler>
    <form><field id="title" type="string" required="true" maxLength="200" zh="书名" en="Title"/></form>
  </item>
)";
}

std::string catalogFile(const std::string& body) {
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<catalog version=\"1\">\n" + body + "</catalog>\n";
}

std::string attribute(std::string text) {
    for (auto at = text.find('"'); at != std::string::npos; at = text.find('"', at + 6)) text.replace(at, 1, "&quot;");
    return text;
}

// One review by the given candidate groups, then approved or rejected.
std::string reviewFlow(const std::string& process, const std::string& groups, const std::string& serviceTask = "") {
    const std::string call =
        serviceTask.empty()
            ? ""
            : R"(<bpmn:serviceTask id="Task_Call" name="登记"><bpmn:extensionElements><zeebe:taskDefinition type=")" +
                  serviceTask +
                  R"(" /></bpmn:extensionElements><bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>F1</bpmn:outgoing></bpmn:serviceTask>)";
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id=")" + process + R"(" name="图书荐购" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>)" + (serviceTask.empty() ? "F1" : "F0") + R"(</bpmn:outgoing></bpmn:startEvent>
    )" + call + R"(
    <bpmn:userTask id="Task_Review" name="馆员审核">
      <bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups=")" + attribute(groups) + R"(" /></bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="Decide" default="F_No"><bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F_Yes</bpmn:outgoing><bpmn:outgoing>F_No</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="End_Approved"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="approved" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F_Yes</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="End_Rejected"><bpmn:extensionElements><zeebe:properties><zeebe:property name="outcome" value="rejected" /></zeebe:properties></bpmn:extensionElements><bpmn:incoming>F_No</bpmn:incoming></bpmn:endEvent>
    )" + (serviceTask.empty() ? "" : R"(<bpmn:sequenceFlow id="F0" sourceRef="Start" targetRef="Task_Call" />)") +
           R"(
    <bpmn:sequenceFlow id="F1" sourceRef=")" + (serviceTask.empty() ? "Start" : "Task_Call") +
           R"(" targetRef="Task_Review" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Review" targetRef="Decide" />
    <bpmn:sequenceFlow id="F_Yes" sourceRef="Decide" targetRef="End_Approved"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">= decision = "approve"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F_No" sourceRef="Decide" targetRef="End_Rejected" />
  </bpmn:process>
</bpmn:definitions>
)";
}

class DepartmentAdminTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        try {
            dir_ = new TempDir("dept-admin-test");
            store_ = new hub::test::SameStore(dir_->file("var"));
            // The hall's catalogue, copied: the departments' files are written beside it.
            fs::copy(CATALOG_DIR, dir_->file("catalog"), fs::copy_options::recursive);
            fs::remove_all(dir_->file("catalog/departments"));
            fs::create_directories(dir_->file("flows"));
            fs::create_directories(dir_->file("plugins"));
            fs::create_directories(dir_->file("var"));
            dir_->write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_->file("hubd.port") + R"(</portFile></http>
  )" + store_->xml() + R"(
  <plugins><dir>)" + dir_->file("plugins") + R"(</dir>
    <plugin name="finance"><department>finance</department></plugin>
    <plugin name="libsys"><department>library</department></plugin>
  </plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><issuer>)" + kIssuer + R"(</issuer>
    <audience>campushub</audience></jwt></auth>
  <catalog><dir>)" + dir_->file("catalog") + R"(</dir></catalog>
  <flows><dir>)" + dir_->file("flows") + R"(</dir></flows>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <identity><static>
    <person id=")" + kStudent + R"(" name="张三" department="student-affairs" audience="student"/>
    <person id=")" + kAdmin + R"(" name="Operator" audience="staff" roles="hub:admin"/>
    <person id=")" + kLibraryAdmin + R"(" name="图书馆管理员" department="library" audience="staff"
            roles="dept:library:admin"/>
    <person id=")" + kLibraryClerk + R"(" name="图书馆员" department="library" audience="staff"
            roles="dept:library:clerk"/>
    <person id=")" + kAffairsAdmin + R"(" name="学生处管理员" department="student-affairs" audience="staff"
            roles="dept:student-affairs:admin"/>
    <person id=")" + kFinanceClerk + R"(" name="财务处" department="finance" audience="staff"
            roles="dept:finance:clerk"/>
    <person id=")" + kAffairsClerk + R"(" name="学生处" department="student-affairs" audience="staff"
            roles="dept:student-affairs:clerk"/>
  </static></identity>
</hub>)");
            hubd_ = new ChildProcess(HUBD_EXE, hubdOptions(*dir_));
        } catch (const std::exception& e) {
            startError_ = e.what();
        }
    }
    static void TearDownTestSuite() {
        delete hubd_;
        delete store_;
        delete dir_;
    }
    void SetUp() override {
        if (!startError_.empty()) FAIL() << "could not start hubd: " << startError_;
    }

    static HttpResponse as(const std::string& who, const std::string& method, const std::string& target,
                           const std::string& body = "") {
        return httpRequest(method, hubd_->url(target), body, bearer(token(who)));
    }
    static std::string libraryFile() { return dir_->file("catalog/departments/library.xml"); }
    static std::string flowFile(const std::string& name) { return dir_->file("flows/departments/library/" + name); }
    static int servedItem(const std::string& id) {
        return as(kStudent, "GET", "/api/v1/catalog/services/" + id).status;
    }
    static std::string servedName(const std::string& id) {
        auto r = as(kStudent, "GET", "/api/v1/catalog/services/" + id);
        if (r.status != 200) return "(" + std::to_string(r.status) + ")";
        return parse(r.body)->getObject("name")->getValue<std::string>("zh");
    }
    static std::string errorsOf(const HttpResponse& r) {
        try {
            auto errors = parse(r.body)->getArray("errors");
            std::string out;
            for (std::size_t n = 0; errors && n < errors->size(); ++n) out += errors->getElement<std::string>(n) + "\n";
            return out;
        } catch (...) {
            return r.body;
        }
    }

    static TempDir* dir_;
    static hub::test::SameStore* store_;
    static ChildProcess* hubd_;
    static std::string startError_;
};

TempDir* DepartmentAdminTest::dir_ = nullptr;
hub::test::SameStore* DepartmentAdminTest::store_ = nullptr;
ChildProcess* DepartmentAdminTest::hubd_ = nullptr;
std::string DepartmentAdminTest::startError_;

}  // namespace

// The library's admin adds and changes its own items; the catalogue serves
// them at once, and a full reload by hub:admin reads the same file.
TEST_F(DepartmentAdminTest, ADepartmentAdminChangesItsOwnItems) {
    auto r = as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library",
                catalogFile(item("book-purchase", "library", "图书荐购")));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(parse(r.body)->getValue<int>("department_items"), 1);
    EXPECT_EQ(servedName("book-purchase"), "图书荐购");
    EXPECT_TRUE(fs::exists(libraryFile()));

    r = as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library",
           catalogFile(item("book-purchase", "library", "图书荐购（新）") + item("book-repair", "library", "图书修补")));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(servedName("book-purchase"), "图书荐购（新）");
    EXPECT_EQ(servedName("book-repair"), "图书修补");
    EXPECT_NE(servedItem("enrolment-certificate"), 404) << "the other departments' items stay";

    auto reload = as(kAdmin, "POST", "/admin/catalog/reload");
    ASSERT_EQ(reload.status, 200) << reload.body;
    EXPECT_EQ(servedName("book-purchase"), "图书荐购（新）") << "a full reload reads the department's file";

    // The department's own reload: the file as edited on disk.
    std::ofstream(libraryFile(), std::ios::trunc) << catalogFile(item("book-purchase", "library", "图书荐购（改）"));
    r = as(kLibraryAdmin, "POST", "/admin/catalog/departments/library/reload");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(servedName("book-purchase"), "图书荐购（改）");
    EXPECT_EQ(servedItem("book-repair"), 404);

    // Every change is in the audit trail, as the department admin's.
    hub::store::Database db(store_->options());
    auto session = db.session();
    int n = 0;
    hub::test::waitUntil(
        [&] {
            session << "SELECT count(*) FROM audit_calls WHERE subject = 'admin.lib' AND outcome = 'ok' AND "
                       "operation IN ('PUT /admin/catalog/departments/library', "
                       "'POST /admin/catalog/departments/library/reload')",
                into(n), now;
            return n >= 3;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(20));
    EXPECT_EQ(n, 3);
}

// Another department's file, item or plugin, or the taxonomy: 403, and nothing changes.
TEST_F(DepartmentAdminTest, AnotherDepartmentsItemsAreRefused) {
    ASSERT_EQ(as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library",
                 catalogFile(item("book-purchase", "library", "图书荐购")))
                  .status,
              200);
    const std::string before = readFile(libraryFile());

    auto r = as(kLibraryAdmin, "PUT", "/admin/catalog/departments/student-affairs",
                catalogFile(item("fake-leave", "student-affairs", "请假")));
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_FALSE(fs::exists(dir_->file("catalog/departments/student-affairs.xml")));

    for (const std::string& body : {
             catalogFile(item("book-purchase", "library", "图书荐购") + item("fake-leave", "student-affairs", "请假")),
             catalogFile(R"(  <department id="secret-office" zh="秘书处" en="Secret office"/>
)" + item("book-purchase", "library", "图书荐购")),
             catalogFile(item("book-fine", "library", "缴纳罚款", R"(<plugin system="finance" operation="pay"/>)")),
         }) {
        r = as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library", body);
        EXPECT_EQ(r.status, 403) << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
        EXPECT_FALSE(errorsOf(r).empty()) << r.body;
    }
    EXPECT_NE(errorsOf(r).find("plugin 'finance' belongs to department 'finance'"), std::string::npos) << r.body;
    EXPECT_EQ(readFile(libraryFile()), before);
    EXPECT_EQ(servedItem("fake-leave"), 404);
    EXPECT_EQ(servedItem("book-fine"), 404);
    EXPECT_EQ(servedName("book-purchase"), "图书荐购");

    // Its own department's plugin is its own.
    r = as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library",
           catalogFile(item("book-renew", "library", "续借", R"(<plugin system="libsys" operation="renew"/>)")));
    EXPECT_EQ(r.status, 200) << r.body;
    // The student affairs admin may not touch the library's file at all.
    EXPECT_EQ(as(kAffairsAdmin, "DELETE", "/admin/catalog/departments/library").status, 403);
    EXPECT_EQ(as(kAffairsAdmin, "POST", "/admin/catalog/departments/library/reload").status, 403);
    EXPECT_EQ(servedItem("book-renew"), 200);
}

// An invalid file is refused with its reasons; the file and the catalogue in service stay.
TEST_F(DepartmentAdminTest, AnInvalidFileKeepsTheOneInService) {
    ASSERT_EQ(as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library",
                 catalogFile(item("book-purchase", "library", "图书荐购")))
                  .status,
              200);
    const std::string before = readFile(libraryFile());
    auto r = as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library",
                catalogFile(item("book-purchase", "library", "图书荐购", R"(<flow id="book-purchase"/>)", "no-such")));
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(errorsOf(r).find("unknown category 'no-such'"), std::string::npos) << r.body;
    EXPECT_NE(errorsOf(r).find("departments/library.xml:3"), std::string::npos) << "file and line: " << r.body;
    // An id another department's file already has.
    r = as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library",
           catalogFile(item("enrolment-certificate", "library", "在读证明")));
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(errorsOf(r).find("duplicate item id 'enrolment-certificate'"), std::string::npos) << r.body;
    EXPECT_EQ(readFile(libraryFile()), before);
    EXPECT_EQ(servedName("book-purchase"), "图书荐购");
    EXPECT_EQ(servedName("enrolment-certificate"), "在读证明");
}

// Hostile bodies: refused, nothing stored, and hubd serves on.
TEST_F(DepartmentAdminTest, HostileFilesAreRefusedWithoutHarm) {
    ASSERT_EQ(as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library",
                 catalogFile(item("book-purchase", "library", "图书荐购")))
                  .status,
              200);
    const std::string before = readFile(libraryFile());
    const std::string secretPath = dir_->file("secret.txt");
    dir_->write("secret.txt", "TOP-SECRET-CONTENT");
    const std::string xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE catalog [<!ENTITY x SYSTEM \"file://" + secretPath +
                            "\">]>\n<catalog version=\"1\"><item id=\"&x;\"/></catalog>";
    const std::string laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE c [<!ENTITY a \"aaaaaaaaaa\">"
                               "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
                               "<catalog version=\"1\">&c;</catalog>";
    std::string huge = catalogFile("");
    huge.insert(huge.find("</catalog>"), std::string(2 * 1024 * 1024, ' '));  // over http.maxBodyBytes (1 MiB)
    const std::string badUtf8 = catalogFile(item("book-purchase", "library", "\xe5\x9b\xbe\xff\xfe"));
    const std::string gbkDeclared = "<?xml version=\"1.0\" encoding=\"GBK\"?>\n<catalog version=\"1\"/>";
    for (const auto& [what, body, status] : {std::tuple{"XXE", xxe, 422}, std::tuple{"entity expansion", laughs, 422},
                                            std::tuple{"huge", huge, 413}, std::tuple{"bad UTF-8", badUtf8, 422},
                                            std::tuple{"GBK declared", gbkDeclared, 422},
                                            std::tuple{"empty", std::string(), 422}}) {
        auto r = as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library", body);
        EXPECT_EQ(r.status, status) << what << ": " << r.body.substr(0, 300);
        EXPECT_EQ(r.body.find("TOP-SECRET"), std::string::npos) << what;
        // The same for a flow file.
        r = as(kLibraryAdmin, "PUT", "/admin/flows/departments/library/hostile.bpmn", body);
        EXPECT_EQ(r.status, status) << what << " (flow): " << r.body.substr(0, 300);
        EXPECT_EQ(r.body.find("TOP-SECRET"), std::string::npos) << what;
    }
    EXPECT_EQ(readFile(libraryFile()), before);
    EXPECT_FALSE(fs::exists(flowFile("hostile.bpmn")));
    EXPECT_EQ(servedName("book-purchase"), "图书荐购");
    // Names that are not a department's or a flow file's.
    auto status = as(kAdmin, "PUT", "/admin/catalog/departments/..%2F00-taxonomy", catalogFile("")).status;
    EXPECT_TRUE(status == 400 || status == 404) << status;
    status = as(kAdmin, "PUT", "/admin/flows/departments/library/..%2F..%2Fx.bpmn", reviewFlow("x", "dept:library:clerk"))
                 .status;
    EXPECT_TRUE(status == 400 || status == 404 || status == 422) << status;
    EXPECT_FALSE(fs::exists(dir_->file("flows/x.bpmn")));
    EXPECT_EQ(as(kAdmin, "PUT", "/admin/flows/departments/library/x.xml", reviewFlow("x", "dept:library:clerk")).status,
              422);
    EXPECT_EQ(httpRequest("GET", hubd_->url("/healthz")).status, 200);
}

// The library's flows: its own groups and plugins deploy and run its items;
// another department's are refused; an invalid file keeps the running version.
TEST_F(DepartmentAdminTest, ADepartmentAdminDeploysItsOwnFlows) {
    auto r = as(kLibraryAdmin, "PUT", "/admin/flows/departments/library/book-purchase.bpmn",
                reviewFlow("book-purchase", "dept:library:clerk"));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(fs::exists(flowFile("book-purchase.bpmn")));
    auto flows = as(kLibraryAdmin, "GET", "/admin/flows");
    ASSERT_EQ(flows.status, 200);
    EXPECT_NE(flows.body.find("departments/library/book-purchase.bpmn"), std::string::npos) << flows.body;
    EXPECT_EQ(as(kAffairsAdmin, "GET", "/admin/flows").body.find("book-purchase"), std::string::npos);
    const std::string runningSha = parse(flows.body)->getArray("items")->getObject(0)->getValue<std::string>("sha256");

    // The item of its catalogue file runs on it: the library's clerk gets the task.
    ASSERT_EQ(as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library",
                 catalogFile(item("book-purchase", "library", "图书荐购")))
                  .status,
              200);
    auto submitted =
        as(kStudent, "POST", "/api/v1/applications", R"({"item_id":"book-purchase","form":{"title":"三体"}})");
    ASSERT_EQ(submitted.status, 201) << submitted.body;
    const std::string applicationId = parse(submitted.body)->getValue<std::string>("id");
    EXPECT_TRUE(hub::test::waitUntil(
        [&] { return as(kLibraryClerk, "GET", "/api/v1/tasks").body.find(applicationId) != std::string::npos; },
        std::chrono::seconds(10), std::chrono::milliseconds(50)));

    // Another department's group, a computed group, another department's plugin: 403.
    for (const std::string& body :
         {reviewFlow("book-purchase", "dept:finance:clerk"),
          reviewFlow("book-purchase", "= \"dept:\" + form.title + \":clerk\""),
          reviewFlow("book-purchase", "dept:library:clerk", "finance.create_voucher")}) {
        r = as(kLibraryAdmin, "PUT", "/admin/flows/departments/library/book-purchase.bpmn", body);
        EXPECT_EQ(r.status, 403) << r.body;
        EXPECT_FALSE(errorsOf(r).empty()) << r.body;
    }
    // Its own plugin and the applicant's unit are its own.
    r = as(kLibraryAdmin, "PUT", "/admin/flows/departments/library/book-loan.bpmn",
           reviewFlow("book-loan", "= \"dept:\" + applicant.department + \":head\"", "libsys.lend"));
    EXPECT_EQ(r.status, 200) << r.body;
    // A process id another folder's flow has.
    dir_->write("flows/shared.bpmn", reviewFlow("shared-review", "hub:admin"));
    ASSERT_EQ(as(kAdmin, "POST", "/admin/flows/reload").status, 200);
    r = as(kLibraryAdmin, "PUT", "/admin/flows/departments/library/shared.bpmn",
           reviewFlow("shared-review", "dept:library:clerk"));
    EXPECT_EQ(r.status, 403) << r.body;
    // Invalid: 422, the running version stays.
    r = as(kLibraryAdmin, "PUT", "/admin/flows/departments/library/book-purchase.bpmn",
           reviewFlow("book-purchase", "dept:library:clerk").substr(0, 400));
    EXPECT_EQ(r.status, 422) << r.body;
    std::string broken = reviewFlow("book-purchase", "dept:library:clerk");
    broken.replace(broken.find("targetRef=\"Decide\""), 18, "targetRef=\"Nowhere\"");
    r = as(kLibraryAdmin, "PUT", "/admin/flows/departments/library/book-purchase.bpmn", broken);
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_NE(errorsOf(r).find("Nowhere"), std::string::npos) << r.body;
    EXPECT_EQ(readFile(flowFile("book-purchase.bpmn")), reviewFlow("book-purchase", "dept:library:clerk"));
    flows = as(kAdmin, "GET", "/admin/flows");
    EXPECT_NE(flows.body.find(runningSha), std::string::npos) << flows.body;
    // Another department's admin: refused by the route.
    EXPECT_EQ(as(kAffairsAdmin, "PUT", "/admin/flows/departments/library/book-purchase.bpmn",
                 reviewFlow("book-purchase", "dept:library:clerk"))
                  .status,
              403);
    EXPECT_EQ(as(kAffairsAdmin, "DELETE", "/admin/flows/departments/library/book-purchase.bpmn").status, 403);

    // A full reload sees the same files.
    auto reload = as(kAdmin, "POST", "/admin/flows/reload");
    EXPECT_EQ(reload.status, 200) << reload.body;
    EXPECT_NE(as(kAdmin, "GET", "/admin/flows").body.find(runningSha), std::string::npos);

    // Deleted: the flow is withdrawn (new applications take the stand-in path).
    r = as(kLibraryAdmin, "DELETE", "/admin/flows/departments/library/book-purchase.bpmn");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("1 withdrawn"), std::string::npos) << r.body;
    EXPECT_FALSE(fs::exists(flowFile("book-purchase.bpmn")));
    EXPECT_EQ(as(kAdmin, "GET", "/admin/flows").body.find(runningSha), std::string::npos);
    EXPECT_EQ(as(kLibraryAdmin, "DELETE", "/admin/flows/departments/library/book-purchase.bpmn").status, 404);
    EXPECT_EQ(as(kLibraryAdmin, "POST", "/admin/flows/departments/library/reload").status, 200);
}

// A joint review (the `other` relation, docs/privacy.md): the finance office
// reviews a library application; while its task is open its clerk reads the
// application, without the applicant or the form; before and after, and for a
// clerk of a department without a task, it is not theirs to read.
TEST_F(DepartmentAdminTest, AJointReviewersDepartmentReadsWhatOtherMaySee) {
    // hub:admin's flow (a joint review names another department's group).
    dir_->write("flows/joint-purchase.bpmn", reviewFlow("joint-purchase", "dept:finance:clerk"));
    auto reload = as(kAdmin, "POST", "/admin/flows/reload");
    ASSERT_EQ(reload.status, 200) << reload.body;
    ASSERT_EQ(as(kLibraryAdmin, "PUT", "/admin/catalog/departments/library",
                 catalogFile(item("costly-purchase", "library", "大额荐购", R"(<flow id="joint-purchase"/>)")))
                  .status,
              200);
    auto submitted =
        as(kStudent, "POST", "/api/v1/applications", R"({"item_id":"costly-purchase","form":{"title":"四库全书"}})");
    ASSERT_EQ(submitted.status, 201) << submitted.body;
    const std::string id = parse(submitted.body)->getValue<std::string>("id");
    std::string taskId;
    ASSERT_TRUE(hub::test::waitUntil(
        [&] {
            auto tasks = parse(as(kFinanceClerk, "GET", "/api/v1/tasks").body)->getArray("items");
            for (std::size_t n = 0; tasks && n < tasks->size(); ++n)
                if (tasks->getObject(n)->getValue<std::string>("application_id") == id)
                    taskId = tasks->getObject(n)->getValue<std::string>("id");
            return !taskId.empty();
        },
        std::chrono::seconds(10), std::chrono::milliseconds(50)));

    auto seen = as(kFinanceClerk, "GET", "/api/v1/applications/" + id);
    ASSERT_EQ(seen.status, 200) << seen.body;
    auto application = parse(seen.body);
    EXPECT_EQ(application->getValue<std::string>("id"), id);
    EXPECT_EQ(application->getValue<std::string>("department"), "library");
    EXPECT_FALSE(application->has("applicant")) << seen.body;
    EXPECT_FALSE(application->has("form")) << seen.body;
    EXPECT_EQ(seen.body.find("四库全书"), std::string::npos);
    // The library's own clerk sees everything (its department's).
    auto own = as(kLibraryClerk, "GET", "/api/v1/applications/" + id);
    ASSERT_EQ(own.status, 200);
    EXPECT_NE(own.body.find("四库全书"), std::string::npos);
    // A clerk of a department without a task: not theirs.
    EXPECT_EQ(as(kAffairsClerk, "GET", "/api/v1/applications/" + id).status, 403);

    // Reviewed: the finance office's part is over.
    auto done = as(kFinanceClerk, "POST", "/api/v1/tasks/" + taskId + "/complete", R"({"decision":"approve"})");
    ASSERT_EQ(done.status, 200) << done.body;
    EXPECT_EQ(as(kFinanceClerk, "GET", "/api/v1/applications/" + id).status, 403);
}

// The same from hubctl, with the department admin's token: its own file and
// flow go in; another department's file is refused with the reasons, exit 3.
TEST_F(DepartmentAdminTest, HubctlPutsADepartmentsOwnFiles) {
    struct Outcome {
        int code = -1;
        std::string out, err;
    };
    auto hubctl = [](const std::vector<std::string>& args) {
        std::vector<std::string> all = {"--url", hubd_->url("")};
        all.insert(all.end(), args.begin(), args.end());
        Poco::Pipe out, err;
        auto handle =
            Poco::Process::launch(HUBCTL_EXE, all, "", nullptr, &out, &err, {{"HUBCTL_TOKEN", token(kLibraryAdmin)}});
        Outcome r;
        std::thread errReader([&] {
            Poco::PipeInputStream in(err);
            Poco::StreamCopier::copyToString(in, r.err);
        });
        Poco::PipeInputStream in(out);
        Poco::StreamCopier::copyToString(in, r.out);
        errReader.join();
        r.code = handle.wait();
        return r;
    };
    dir_->write("upload.xml", catalogFile(item("reading-room", "library", "阅览室预约")));
    auto put = hubctl({"catalog", "put", "library", dir_->file("upload.xml")});
    EXPECT_EQ(put.code, 0) << put.out << put.err;
    EXPECT_NE(put.out.find("1 of them library's own"), std::string::npos) << put.out;
    EXPECT_EQ(servedName("reading-room"), "阅览室预约");

    dir_->write("theirs.xml", catalogFile(item("reading-room", "student-affairs", "阅览室预约")));
    auto refused = hubctl({"catalog", "put", "library", dir_->file("theirs.xml")});
    EXPECT_EQ(refused.code, 3) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("belongs to department 'student-affairs'"), std::string::npos) << refused.err;
    EXPECT_EQ(servedName("reading-room"), "阅览室预约");

    dir_->write("reading-room.bpmn", reviewFlow("reading-room", "dept:library:clerk"));
    auto flow = hubctl({"flows", "put", "library", dir_->file("reading-room.bpmn")});
    EXPECT_EQ(flow.code, 0) << flow.out << flow.err;
    EXPECT_TRUE(fs::exists(flowFile("reading-room.bpmn")));
    auto deploy = hubctl({"flows", "deploy", "library"});
    EXPECT_EQ(deploy.code, 0) << deploy.out << deploy.err;
    EXPECT_NE(deploy.out.find("department library"), std::string::npos) << deploy.out;
    EXPECT_EQ(hubctl({"flows", "deploy"}).code, 3) << "the full deployment is hub:admin's";
    auto removed = hubctl({"flows", "remove", "library", "reading-room.bpmn"});
    EXPECT_EQ(removed.code, 0) << removed.out << removed.err;
    EXPECT_FALSE(fs::exists(flowFile("reading-room.bpmn")));
    EXPECT_EQ(hubctl({"catalog", "remove", "library"}).code, 0);
    EXPECT_EQ(servedItem("reading-room"), 404);
}
