// Issue 18, "one datum, one source", through hubd's HTTP API: a real form whose
// name and department the directory owns (a private slapd, synced as the
// identity tests do) and whose enrolment status the student affairs system
// owns (the reference plugin against its simulator). The prefill fills them
// read-only; a submit takes them from their source and refuses an overwrite;
// a field with two sources stops the start, and a reload that would give one
// two sources keeps the registry in use.
#include "hub/ldaptest/DirectoryGenerator.h"
#include "hub/ldaptest/SlapdServer.h"
#include "hub/test/StoreBackend.h"
#include "SameStore.h"
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

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;
using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::hubdOptions;
using hub::test::parse;
using hub::test::TempDir;
using Poco::JSON::Object;

namespace {

const std::string kSecret = "owned-fields-test-secret-0123456789-abcdef";
const std::string kStudent = "2023010001";  // in the directory and in the student affairs system

std::string token(const std::string& subject) { return hub::test::token(kSecret, subject); }

// A scholarship form: two fields of the directory's, one of student affairs', one the applicant's.
const std::string kScholarship = R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <item id="scholarship-check" category="undergraduate" department="student-affairs" channel="online" audience="student" timeLimit="3">
    <name zh="奖学金申请" en="Scholarship application"/>
    <handler><flow id="scholarship"/></handler>
    <form>
      <field id="name" type="string" required="true" maxLength="50" zh="姓名" en="Name"/>
      <field id="department" type="string" required="true" maxLength="100" zh="院系" en="Department"/>
      <field id="enrolment_status" type="string" required="true" maxLength="20" zh="学籍状态" en="Enrolment status"/>
      <field id="reason" type="string" required="true" maxLength="500" zh="申请理由" en="Reason"/>
    </form>
  </item>
</catalog>
)";

const std::string kOwners = R"(<privacy><owners>
    <field name="name" source="directory"/>
    <field name="department" source="directory"/>
    <field name="enrolment_status" source="plugin:student_affairs" operation="get_student" key="student_id" result="status"/>
  </owners></privacy>)";

// The same registry with the name owned twice.
const std::string kTwoSources = R"(<privacy><owners>
    <field name="name" source="directory"/>
    <field name="department" source="directory"/>
    <field name="name" source="plugin:student_affairs" operation="get_student" key="student_id"/>
  </owners></privacy>)";

class OwnedFieldsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = std::make_unique<TempDir>("owned-fields-test");
        store_ = std::make_unique<hub::test::SameStore>(dir_->file("var"));
        slapd_ = std::make_unique<hub::ldaptest::SlapdServer>(hub::ldaptest::SlapdOptions{});
        hub::ldaptest::DirectoryShape shape;
        shape.persons = 5;
        hub::ldaptest::DirectoryGenerator generator(shape);
        const std::string ldif = slapd_->directory() + "/people.ldif";
        generator.writeLdifFile(ldif);
        {
            // The student both systems know, in a department of the generated tree.
            const std::string dn = generator.person(0).dn;
            std::ofstream out(ldif, std::ios::app);
            out << "\n"
                << "dn: uid=" << kStudent << dn.substr(dn.find(',')) << "\n"
                << "objectClass: inetOrgPerson\nobjectClass: eduPerson\nuid: " << kStudent << "\n"
                << hub::ldaptest::ldifLine("cn", "张三") << hub::ldaptest::ldifLine("sn", "张")
                << hub::ldaptest::ldifLine("displayName", "张三") << hub::ldaptest::ldifLine("ou", "计算机学院")
                << "mail: zhangsan@campus.example\neduPersonAffiliation: student\n";
        }
        slapd_->slapadd(ldif);
        slapd_->start();

        sim_ = std::make_unique<ChildProcess>(
            SIM_STUDENT_AFFAIRS_EXE, ChildProcess::Options{.args = {"--port", "0", "--port-file", dir_->file("sim.port")},
                                                           .portFile = dir_->file("sim.port")});
        fs::copy(CATALOG_DIR, dir_->file("catalog"), fs::copy_options::recursive);
        dir_->write("catalog/90-scholarship.xml", kScholarship);
        fs::create_directories(dir_->file("plugins"));
        fs::copy(std::string(REFERENCE_PLUGINS_DIR) + "/student_affairs", dir_->file("plugins/student_affairs"),
                 fs::copy_options::recursive);
        writeConfig(kOwners);
        startHubd();
        // The directory's persons into the identity store.
        hub::test::HttpResponse sync;
        hub::test::waitUntil(
            [&] {
                sync = request("POST", "/admin/identity/sync?full=1", "", "admin");
                return sync.status == 200;
            },
            std::chrono::seconds(60), std::chrono::milliseconds(100));
        ASSERT_EQ(sync.status, 200) << sync.body << hubd_->output();
    }

    static void TearDownTestSuite() {
        hubd_.reset();
        sim_.reset();
        slapd_.reset();
        store_.reset();
        dir_.reset();
    }

    static std::string config(const std::string& privacy, const std::string& portFile, const std::string& store) {  // store: the <store> element
        return R"(<hub>
  <http><port>0</port><portFile>)" + portFile + R"(</portFile></http>
  )" + store + R"(
  <catalog><dir>)" + dir_->file("catalog") + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <plugins><dir>)" + dir_->file("plugins") + R"(</dir><watchIntervalMs>0</watchIntervalMs>
    <plugin name="student_affairs"><config><base_url>http://127.0.0.1:)" + std::to_string(sim_->port()) +
               R"(</base_url></config></plugin></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity>
    <static><person id="admin" name="Operator" audience="staff" roles="hub:admin"/></static>
    <ldap><uri>)" + slapd_->uri() + "</uri><base>" + slapd_->suffix() + "</base><bindDn>" + slapd_->rootDn() +
               "</bindDn><passwordFile>" + slapd_->passwordFile() + R"(</passwordFile></ldap>
    <sync><intervalSeconds>3600</intervalSeconds></sync>
  </identity>
  )" + privacy + R"(
</hub>)";
    }

    static void writeConfig(const std::string& privacy) {
        dir_->write("hub.xml", config(privacy, dir_->file("hubd.port"), store_->xml()));
    }

    static void startHubd() {
        hubd_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(*dir_));
    }

    static hub::test::HttpResponse request(const std::string& method, const std::string& path,
                                           const std::string& body = "", const std::string& subject = kStudent) {
        return httpRequest(method, hubd_->url(path), body, bearer(token(subject)));
    }

    static Object::Ptr fieldOf(const Object::Ptr& prefill, const std::string& id) {
        auto fields = prefill->getArray("fields");
        for (std::size_t i = 0; fields && i < fields->size(); ++i)
            if (fields->getObject(static_cast<unsigned>(i))->getValue<std::string>("id") == id)
                return fields->getObject(static_cast<unsigned>(i));
        return nullptr;
    }

    static int applications() {
        return parse(request("GET", "/api/v1/applications").body)->getValue<int>("total");
    }

    static inline std::unique_ptr<TempDir> dir_;
    static inline std::unique_ptr<hub::test::SameStore> store_;  // the same database across rewrites of hub.xml
    static inline std::unique_ptr<hub::ldaptest::SlapdServer> slapd_;
    static inline std::unique_ptr<ChildProcess> sim_, hubd_;
};

}  // namespace

TEST_F(OwnedFieldsTest, ThePrefillFillsOwnedFieldsFromTheDirectoryAndThePluginReadOnly) {
    auto r = request("GET", "/api/v1/catalog/services/scholarship-check/prefill");
    ASSERT_EQ(r.status, 200) << r.body << hubd_->output();
    auto prefill = parse(r.body);
    auto form = prefill->getObject("form");
    EXPECT_EQ(form->getValue<std::string>("name"), "张三");
    EXPECT_EQ(form->getValue<std::string>("department"), "计算机学院");
    EXPECT_EQ(form->getValue<std::string>("enrolment_status"), "enrolled");
    EXPECT_FALSE(form->has("reason"));
    auto name = fieldOf(prefill, "name");
    ASSERT_TRUE(name);
    EXPECT_TRUE(name->getValue<bool>("read_only"));
    EXPECT_EQ(name->getValue<std::string>("owner"), "directory");
    auto status = fieldOf(prefill, "enrolment_status");
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->getValue<bool>("read_only"));
    EXPECT_EQ(status->getValue<std::string>("owner"), "plugin:student_affairs");
    auto reason = fieldOf(prefill, "reason");
    ASSERT_TRUE(reason);
    EXPECT_FALSE(reason->getValue<bool>("read_only"));
    EXPECT_EQ(prefill->getArray("unavailable")->size(), 0u);

    // An item the caller is not offered, and one that does not exist: 404.
    EXPECT_EQ(request("GET", "/api/v1/catalog/services/staff-leave/prefill").status, 404);
    EXPECT_EQ(request("GET", "/api/v1/catalog/services/no-such-item/prefill").status, 404);
}

TEST_F(OwnedFieldsTest, ASubmitTakesOwnedFieldsFromTheirSourceAndRefusesAnOverwrite) {
    const int before = applications();
    // Someone else's name in an owned field: refused, naming the field; nothing stored.
    auto r = request("POST", "/api/v1/applications",
                     R"({"item_id":"scholarship-check","form":{"name":"李四","reason":"成绩优异"}})");
    ASSERT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    auto problem = parse(r.body);
    EXPECT_EQ(problem->getValue<std::string>("type"), "urn:campushub:problem:owned-field");
    EXPECT_EQ(problem->getValue<std::string>("field"), "name");
    EXPECT_EQ(problem->getValue<std::string>("owner"), "directory");
    r = request("POST", "/api/v1/applications",
                R"({"item_id":"scholarship-check","form":{"enrolment_status":"graduated","reason":"成绩优异"}})");
    ASSERT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(parse(r.body)->getValue<std::string>("field"), "enrolment_status");
    EXPECT_EQ(applications(), before);

    // Only the applicant's own field: the owned ones come from their source.
    r = request("POST", "/api/v1/applications", R"({"item_id":"scholarship-check","form":{"reason":"成绩优异"}})");
    ASSERT_EQ(r.status, 201) << r.body;
    auto form = parse(r.body)->getObject("form");
    EXPECT_EQ(form->getValue<std::string>("name"), "张三");
    EXPECT_EQ(form->getValue<std::string>("department"), "计算机学院");
    EXPECT_EQ(form->getValue<std::string>("enrolment_status"), "enrolled");
    EXPECT_EQ(form->getValue<std::string>("reason"), "成绩优异");

    // The source's own values, as the prefill gave them: verified and taken.
    r = request("POST", "/api/v1/applications",
                R"({"item_id":"scholarship-check","form":{"name":"张三","enrolment_status":"enrolled","reason":"再次申请"}})");
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(applications(), before + 2);
}

TEST_F(OwnedFieldsTest, AFieldWithTwoSourcesStopsTheStartAndAReloadKeepsTheRegistryInUse) {
    TempDir other("owned-fields-two");
    ChildProcess refused(HUBD_EXE, ChildProcess::Options{.args = {"--config",
                                                                  other.write("hub.xml", config(kTwoSources,
                                                                                                other.file("hubd.port"),
                                                                                                hub::test::storeXml(other.path())))}});
    auto code = refused.wait(std::chrono::seconds(20));
    ASSERT_TRUE(code) << refused.output();
    EXPECT_NE(*code, 0);
    EXPECT_NE(refused.output().find("field 'name' has two sources: directory (privacy.owners.field[0]) and "
                                    "plugin:student_affairs (privacy.owners.field[2])"),
              std::string::npos)
        << refused.output();

    // The running hub is told the same on SIGHUP: it says why and keeps its registry.
    writeConfig(kTwoSources);
    const std::string before = hubd_->output();
    hubd_->signal(SIGHUP);
    ASSERT_TRUE(hub::test::waitUntil(
        [&] { return hubd_->output().size() > before.size() && hubd_->output().find("reload done", before.size()) !=
                                                                  std::string::npos; },
        std::chrono::seconds(20)))
        << hubd_->output();
    EXPECT_NE(hubd_->output().find("field 'name' has two sources", before.size()), std::string::npos)
        << hubd_->output().substr(before.size());
    writeConfig(kOwners);
    auto r = request("GET", "/api/v1/catalog/services/scholarship-check/prefill");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(fieldOf(parse(r.body), "name")->getValue<std::string>("owner"), "directory");
}

// The sources are asked the way every plugin call of the API is: no thread of
// the api pool waits for the vendor. With one pool thread and the student
// affairs system holding its answers, a prefill and a submit wait for it while
// a request that needs the pool is answered; once the system answers, so are
// they (with its value). Were the calls made from the pool, the first would
// hold its only thread and the second never reach the vendor.
TEST_F(OwnedFieldsTest, TheSourcesAreAskedWithoutHoldingAPoolThread) {
    fs::create_directories(dir_->file("var2"));
    dir_->write("hub2.xml", config(kOwners, dir_->file("hubd2.port"), hub::test::storeXml(dir_->file("var2"))));
    ChildProcess hubd(HUBD_EXE, ChildProcess::Options{
                                    .args = {"--config", dir_->file("hub2.xml"), "-D", "http.blockingThreads=1", "-D",
                                             "plugins.plugin[@name=student_affairs].timeoutMs=20000"},
                                    .portFile = dir_->file("hubd2.port")});
    auto as = [&hubd](const std::string& method, const std::string& path, const std::string& body = "",
                      const std::string& subject = kStudent) {
        return httpRequest(method, hubd.url(path), body, bearer(token(subject)));
    };
    hub::test::HttpResponse sync;
    ASSERT_TRUE(hub::test::waitUntil(
        [&] {
            sync = as("POST", "/admin/identity/sync?full=1", "", "admin");
            return sync.status == 200;
        },
        std::chrono::seconds(60), std::chrono::milliseconds(100)))
        << sync.body;

    auto simMode = [this](const std::string& mode) {
        return httpRequest("POST", sim_->url("/admin/fail-mode"), R"({"mode":")" + mode + R"("})");
    };
    auto held = [this] {
        return parse(httpRequest("GET", sim_->url("/admin/fail-mode")).body)->getValue<int>("hanging");
    };
    ASSERT_EQ(simMode("hold").status, 200);
    std::atomic<bool> prefilled{false}, submitted{false};
    hub::test::HttpResponse prefill, submit, list;
    auto quietly = [](auto fn) {
        try {
            fn();
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what();
        }
    };
    std::thread prefiller([&] {
        quietly([&] { prefill = as("GET", "/api/v1/catalog/services/scholarship-check/prefill"); });
        prefilled = true;
    });
    std::thread submitter([&] {
        quietly([&] {
            submit =
                as("POST", "/api/v1/applications", R"({"item_id":"scholarship-check","form":{"reason":"家庭困难"}})");
        });
        submitted = true;
    });
    const bool bothAsked =
        hub::test::waitUntil([&] { return held() == 2; }, std::chrono::seconds(20), std::chrono::milliseconds(20));
    bool answeredWhileHeld = false;
    if (bothAsked) {
        // The pool's one thread is free: a read that needs it is answered now.
        quietly([&] { list = as("GET", "/api/v1/applications"); });
        answeredWhileHeld = !prefilled && !submitted && held() == 2;
    }
    const int heldThen = held();
    ASSERT_EQ(simMode("none").status, 200);
    prefiller.join();
    submitter.join();
    ASSERT_TRUE(bothAsked) << "the vendor saw " << heldThen << " call(s) at once";
    EXPECT_EQ(list.status, 200) << list.body;
    EXPECT_TRUE(answeredWhileHeld) << "a pool read waited for the vendor";
    ASSERT_EQ(prefill.status, 200) << prefill.body;
    EXPECT_EQ(parse(prefill.body)->getObject("form")->getValue<std::string>("enrolment_status"), "enrolled");
    ASSERT_EQ(submit.status, 201) << submit.body;
    EXPECT_EQ(parse(submit.body)->getObject("form")->getValue<std::string>("enrolment_status"), "enrolled");
}
