// Issue 18, part A, through hubd's HTTP API: least data in answers, a person's
// own export, the audit search by the person accessed, and retention over a
// store seeded with two years of data (docs/privacy.md). Who may administer
// what is in tests/openapi/AuthorizationTableTest.cpp.
#include <Poco/Data/Session.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>

#include "SameStore.h"
#include "hub/identity/IdentityStore.h"
#include "hub/store/Database.h"
#include "hub/store/TraceLog.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/Json.h"
#include "hub/test/StoreBackend.h"
#include "hub/test/TempDir.h"
#include "hub/test/Tokens.h"

namespace fs = std::filesystem;
using namespace Poco::Data::Keywords;
using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::HttpResponse;
using hub::test::parse;
using hub::test::TempDir;
using Poco::JSON::Object;

namespace {

const std::string kSecret = "privacy-test-secret-0123456789-abcdefgh";
const std::string kIssuer = "privacy-test";
const std::string kOwner = "2023010001";
const std::string kOtherStudent = "2023010002";
const std::string kClerk = "clerk.xsc";       // student affairs, the application's department
const std::string kOtherClerk = "clerk.lib";  // the library
const std::string kAdmin = "admin";
const std::string kOtherDeptAdmin = "admin.lib";
const std::string kPhone = "13812345678";

std::string token(const std::string& subject) {
    return hub::test::token(kSecret, subject, {.issuer = kIssuer});
}

HttpResponse call(const ChildProcess& hubd, const std::string& method, const std::string& target,
                  const std::string& who, const std::string& body = "") {
    return httpRequest(method, hubd.url(target), body, bearer(token(who)));
}

// hub.xml with the static persons; extra goes inside <hub>; store is its
// <store> element (default: a store of its own in dir/var).
std::string hubXml(const TempDir& dir, const std::string& extra, const std::string& store) {
    return R"(<hub>
  <http><port>0</port><portFile>)" +
           dir.file("hubd.port") + R"(</portFile></http>
  )" + (store.empty() ? hub::test::storeXml(dir.file("var")) : store) +
           R"(
  <plugins><dir>)" +
           dir.file("plugins") + R"(</dir></plugins>
  <auth><jwt><hs256Secret>)" +
           kSecret + R"(</hs256Secret><issuer>)" + kIssuer + R"(</issuer>
    <audience>campushub</audience></jwt></auth>
  <catalog><dir>)" +
           std::string(CATALOG_DIR) + R"(</dir></catalog>
  <calendar><file>)" +
           std::string(CALENDAR_FILE) + R"(</file></calendar>
  <identity><static>
    <person id=")" +
           kOwner + R"(" name="张三" department="student-affairs" audience="student"
            phones=")" +
           kPhone + R"(" emails="zhangsan@example.edu.cn"/>
    <person id=")" +
           kOtherStudent + R"(" name="李四" department="student-affairs" audience="student"/>
    <person id=")" +
           kClerk + R"(" name="学生处" department="student-affairs" audience="staff"
            roles="dept:student-affairs:clerk"/>
    <person id=")" +
           kOtherClerk + R"(" name="图书馆员" department="library" audience="staff"
            roles="dept:library:clerk"/>
    <person id=")" +
           kAdmin + R"(" name="Operator" audience="staff" roles="hub:admin"/>
    <person id=")" +
           kOtherDeptAdmin + R"(" name="图书馆管理员" department="library" audience="staff"
            roles="dept:library:admin"/>
  </static></identity>
)" + extra +
           "</hub>";
}

std::unique_ptr<ChildProcess> startHubd(const TempDir& dir, const std::string& extra, const std::string& store = "") {
    fs::create_directories(dir.file("plugins"));
    fs::create_directories(dir.file("var"));
    fs::remove(dir.file("hubd.port"));
    return hub::test::startHubd(HUBD_EXE, dir, hubXml(dir, extra, store));
}

std::string submitLeave(const ChildProcess& hubd) {
    auto r = call(hubd, "POST", "/api/v1/applications", kOwner,
                  R"({"item_id":"student-leave","form":{"leave-type":"sick","from":"2030-01-14","to":"2030-01-15",)"
                  R"("reason":"发烧","phone":")" +
                      kPhone + R"("}})");
    if (r.status != 201) throw std::runtime_error("sample application: " + std::to_string(r.status) + " " + r.body);
    return parse(r.body)->getValue<std::string>("id");
}

// IT narrows the operator's view of forms in hub.xml: no applicant's phone for hub:admin.
const std::string kNarrowedAnswers = R"(<privacy><answers><application><admin>* -form.phone</admin></application>
  </answers><retention><intervalHours>0</intervalHours></retention></privacy>)";

class PrivacyTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        try {
            dir_ = new TempDir("privacy-test");
            hubd_ = startHubd(*dir_, kNarrowedAnswers).release();
            applicationId_ = submitLeave(*hubd_);
        } catch (const std::exception& e) {
            startError_ = e.what();
        }
    }
    static void TearDownTestSuite() {
        delete hubd_;
        delete dir_;
    }
    void SetUp() override {
        if (!startError_.empty()) FAIL() << "could not start hubd: " << startError_;
    }
    static HttpResponse as(const std::string& who, const std::string& method, const std::string& target,
                           const std::string& body = "") {
        return call(*hubd_, method, target, who, body);
    }

    static TempDir* dir_;
    static ChildProcess* hubd_;
    static std::string applicationId_;
    static std::string startError_;
};

TempDir* PrivacyTest::dir_ = nullptr;
ChildProcess* PrivacyTest::hubd_ = nullptr;
std::string PrivacyTest::applicationId_;
std::string PrivacyTest::startError_;

}  // namespace

// The hall's example: a clerk of another department does not see an applicant's
// phone number; a clerk of the applicant's own department does; a student sees nobody else.
TEST_F(PrivacyTest, AClerkOfAnotherDepartmentDoesNotSeeThePhone) {
    auto other = as(kOtherClerk, "GET", "/api/v1/identities/" + kOwner);
    ASSERT_EQ(other.status, 200) << other.body;
    auto person = parse(other.body);
    EXPECT_EQ(person->getValue<std::string>("name"), "张三");
    EXPECT_EQ(person->getValue<std::string>("department"), "student-affairs");
    EXPECT_FALSE(person->has("phones")) << other.body;
    EXPECT_FALSE(person->has("emails")) << other.body;
    EXPECT_EQ(other.body.find(kPhone), std::string::npos) << other.body;

    auto own = as(kClerk, "GET", "/api/v1/identities/" + kOwner);
    ASSERT_EQ(own.status, 200) << own.body;
    EXPECT_NE(own.body.find(kPhone), std::string::npos) << own.body;
    auto self = as(kOwner, "GET", "/api/v1/identities/" + kOwner);
    EXPECT_NE(self.body.find(kPhone), std::string::npos) << self.body;

    auto student = as(kOtherStudent, "GET", "/api/v1/identities/" + kOwner);
    EXPECT_EQ(student.status, 403) << student.body;
    EXPECT_EQ(student.body.find(kPhone), std::string::npos);
}

// hub.xml's privacy.answers.application.admin = "* -form.phone": the operator
// sees the application without the phone; the department and the applicant with it.
TEST_F(PrivacyTest, ThePolicyInHubXmlNarrowsWhatTheOperatorSees) {
    auto admin = as(kAdmin, "GET", "/api/v1/applications/" + applicationId_);
    ASSERT_EQ(admin.status, 200) << admin.body;
    auto form = parse(admin.body)->getObject("form");
    ASSERT_TRUE(form) << admin.body;
    EXPECT_FALSE(form->has("phone")) << admin.body;
    EXPECT_EQ(form->getValue<std::string>("reason"), "发烧");
    auto list = as(kAdmin, "GET", "/api/v1/applications?department=*");
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(list.body.find(kPhone), std::string::npos) << list.body;

    for (const auto& who : {kClerk, kOwner}) {
        auto r = as(who, "GET", "/api/v1/applications/" + applicationId_);
        ASSERT_EQ(r.status, 200) << who << ": " << r.body;
        EXPECT_EQ(parse(r.body)->getObject("form")->getValue<std::string>("phone"), kPhone) << who;
    }
    EXPECT_EQ(as(kOtherClerk, "GET", "/api/v1/applications/" + applicationId_).status, 403);
}

// A policy hubd cannot read stops the start, naming the key.
TEST(PrivacyConfig, AMalformedPolicyStopsTheStart) {
    const std::map<std::string, std::string> bad = {
        {"<privacy><answers><person><other>name *</other></person></answers></privacy>",
         "privacy.answers.person.other"},
        {"<privacy><answers><person><other>id phone_number</other></person></answers></privacy>",
         "'phone_number' is not a field of a person"},
        {"<privacy><answers><person><visitor>*</visitor></person></answers></privacy>",
         "privacy.answers.person.visitor"},
        {"<privacy><retention><auditDays>-1</auditDays></retention></privacy>", "privacy.retention.auditDays"},
        {"<privacy><retention><eventDays>3</eventDays></retention></privacy>", "privacy.retention.eventDays: unknown"},
    };
    for (const auto& [privacy, named] : bad) {
        SCOPED_TRACE(privacy);
        TempDir dir("privacy-config-test");
        try {
            startHubd(dir, privacy);
            ADD_FAILURE() << "hubd started with " << privacy;
        } catch (const Poco::Exception& e) {
            EXPECT_NE(e.displayText().find(named), std::string::npos) << e.displayText();
        }
    }
}

// GET /api/v1/me/export: the caller's identity, applications with forms and
// history, and the audit rows about them, including who read their data.
TEST_F(PrivacyTest, AnExportHoldsEverythingAboutTheCallerAndNothingOfOthers) {
    ASSERT_EQ(as(kClerk, "GET", "/api/v1/applications/" + applicationId_).status, 200);
    auto r = as(kOwner, "GET", "/api/v1/me/export");
    ASSERT_EQ(r.status, 200) << r.body;
    auto data = parse(r.body);
    EXPECT_EQ(data->getValue<std::string>("subject"), kOwner);
    EXPECT_EQ(data->getObject("identity")->getValue<std::string>("id"), kOwner);
    EXPECT_NE(r.body.find(kPhone), std::string::npos);
    auto applications = data->getArray("applications");
    ASSERT_GE(applications->size(), 1u);
    bool found = false;
    for (unsigned i = 0; i < applications->size(); ++i) {
        auto a = applications->getObject(i);
        if (a->getValue<std::string>("id") != applicationId_) continue;
        found = true;
        EXPECT_EQ(a->getObject("form")->getValue<std::string>("reason"), "发烧");
        EXPECT_GE(a->getArray("transitions")->size(), 1u);
    }
    EXPECT_TRUE(found) << r.body.substr(0, 2000);
    ASSERT_TRUE(data->getArray("tasks"));
    // The clerk's read is queued for the audit trail as its answer leaves: look again until it is there.
    auto clerkReadIn = [](const std::string& body) {
        auto audit = parse(body)->getArray("audit");
        for (unsigned i = 0; i < audit->size(); ++i) {
            auto row = audit->getObject(i);
            if (row->getValue<std::string>("subject") == kClerk && row->getValue<std::string>("person") == kOwner)
                return true;
        }
        return false;
    };
    EXPECT_TRUE(hub::test::waitUntil([&] { return clerkReadIn(as(kOwner, "GET", "/api/v1/me/export").body); }))
        << "the clerk's read of the owner's application is not in the export";

    auto other = as(kOtherStudent, "GET", "/api/v1/me/export");
    ASSERT_EQ(other.status, 200) << other.body;
    EXPECT_EQ(parse(other.body)->getArray("applications")->size(), 0u);
    EXPECT_EQ(other.body.find(applicationId_), std::string::npos) << "another person's application in an export";
    EXPECT_EQ(other.body.find(kPhone), std::string::npos);
    EXPECT_EQ(httpRequest("GET", hubd_->url("/api/v1/me/export")).status, 401);
}

// Who read whose data: the audit search by the person accessed, and by who acted.
TEST_F(PrivacyTest, TheAuditFindsWhoReadAPersonsData) {
    ASSERT_EQ(as(kOtherClerk, "GET", "/api/v1/identities/" + kOwner).status, 200);
    ASSERT_EQ(as(kClerk, "GET", "/api/v1/applications/" + applicationId_).status, 200);
    auto rows = [](const std::string& query) {
        auto r = as(kAdmin, "GET", "/admin/audit?" + query);
        EXPECT_EQ(r.status, 200) << r.body;
        std::vector<std::pair<std::string, std::string>> out;  // subject, operation
        auto items = parse(r.body)->getArray("items");
        for (unsigned i = 0; i < items->size(); ++i)
            out.emplace_back(items->getObject(i)->getValue<std::string>("subject"),
                             items->getObject(i)->getValue<std::string>("operation"));
        return out;
    };
    auto has = [](const auto& list, const std::string& subject, const std::string& operation) {
        for (const auto& [s, o] : list)
            if (s == subject && o == operation) return true;
        return false;
    };
    // Each read is queued for the trail as its answer leaves: search until both are there.
    EXPECT_TRUE(hub::test::waitUntil([&] {
        auto accessed = rows("accessed=" + kOwner);
        return has(accessed, kOtherClerk, "GET /api/v1/identities/" + kOwner) &&
               has(accessed, kClerk, "GET /api/v1/applications/" + applicationId_);
    })) << "the reads of "
        << kOwner << "'s data are not found by the person accessed";
    for (const auto& [s, o] : rows("accessed=" + kOtherStudent))
        EXPECT_NE(s, kOtherClerk) << "a read of " << kOwner << " filed under " << kOtherStudent << ": " << o;
    EXPECT_TRUE(has(rows("subject=" + kClerk), kClerk, "GET /api/v1/applications/" + applicationId_));
    EXPECT_EQ(as(kClerk, "GET", "/admin/audit?accessed=" + kOwner).status, 403);
}

// ---------------------------------------------------------------------------
// Retention over two years of data

namespace {

using Clock = std::chrono::system_clock;

std::string iso(Clock::time_point t, bool micros) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    char out[64];
    std::snprintf(out, sizeof out, micros ? "%s.%03d000Z" : "%s.%03dZ", text, static_cast<int>(ms % 1000));
    return out;
}

std::int64_t epochMs(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

constexpr int kDays = 730;

// Day d's rows lie d days and 12 hours back: never near a cutoff of whole days.
Clock::time_point dayAgo(Clock::time_point from, int d) {
    return from - std::chrono::hours(24 * d + 12);
}

std::string appId(int d) {
    return "seed-app-" + std::to_string(d);
}

// Two years: an application a day (finished on even days, still in review on
// odd), two audit rows, an outbox event; a dead letter every tenth day, an inbound
// event id every fifth, a departed person every seventh; twenty active persons.
void seed(const hub::store::Database::Options& store, Clock::time_point asOf) {
    hub::store::Database db(store);
    hub::identity::IdentityStore identity(db);  // hubd without a directory makes no identity tables
    hub::store::TraceLog::migrate(db);          // made at the relay's first commit, which may not have come
    auto s = db.session();
    s.begin();
    for (int d = kDays; d >= 1; --d) {
        const auto t = dayAgo(asOf, d);
        const std::string id = appId(d), at = iso(t, false), status = d % 2 == 0 ? "completed" : "in_review";
        s << hub::store::sql(
            s,
            "INSERT INTO flows_applications(id, item_id, applicant, submitted_by, department, handler, status, form,"
            " materials, submitted_at, updated_at, time_limit_days, due_date, version)"
            " VALUES(?, 'student-leave', ?, ?, 'student-affairs', 'flow:student-leave', ?, '{\"phone\":\"139\"}', '[]',"
            " ?, ?, 5, '2030-01-01', 2)"),
            bind(id), bind(kOwner), bind(kOwner), bind(status), bind(at), bind(at), now;
        s << hub::store::sql(s, "INSERT INTO flows_transitions VALUES(?, 1, '', 'submitted', ?, ?, '')"), bind(id),
            bind(kOwner), bind(at), now;
        s << hub::store::sql(s, "INSERT INTO flows_transitions VALUES(?, 2, 'submitted', ?, 'clerk.xsc', ?, '')"),
            bind(id), bind(status), bind(at), now;
        s << hub::store::sql(s, "INSERT INTO flows_idempotency VALUES(?, ?, 'h', ?, ?)"), bind(kOwner),
            bind("key-" + id), bind(id), bind(at), now;
        // Its trace: the trace id and two hops (the submit, a flow step).
        s << hub::store::sql(s, "INSERT INTO trace_applications VALUES(?, ?)"), bind(id), bind("trace-" + id), now;
        for (const char* kind : {"api", "flow"})
            s << hub::store::sql(
                s,
                "INSERT INTO trace_hops(application_id, trace_id, at_ms, kind, name, outcome, detail, duration_ms)"
                " VALUES(?, ?, ?, ?, 'seeded', 'ok', '', 1)"),
                bind(id), bind("trace-" + id), bind(epochMs(t)), bind(std::string(kind)), now;
        for (int n = 0; n < 2; ++n)
            s << hub::store::sql(
                s,
                "INSERT INTO audit_calls(at, subject, acting_for, system, operation, outcome, http_status,"
                " duration_us, request_id) VALUES(?, ?, '', '', 'GET /api/v1/tasks', 'ok', 200, 10, ?)"),
                bind(iso(t, true)), bind(kClerk), bind("seed-" + std::to_string(d) + "-" + std::to_string(n)), now;
        s << hub::store::sql(
            s, "INSERT INTO events_outbox(id, type, subject, payload, created_at) VALUES(?, 'x', ?, '{}', ?)"),
            bind("seed-event-" + std::to_string(d)), bind(id), bind(epochMs(t)), now;
        if (d % 10 == 0)
            s << hub::store::sql(
                s,
                "INSERT INTO events_dead_letters VALUES('portal', (SELECT seq FROM events_outbox WHERE id = ?), ?,"
                " 'x', ?, 5, 'timeout', ?)"),
                bind("seed-event-" + std::to_string(d)), bind("seed-event-" + std::to_string(d)), bind(id),
                bind(epochMs(t)), now;
        if (d % 5 == 0)
            s << hub::store::sql(s, "INSERT INTO events_inbox VALUES(?, 'approval.decided', 'engine', ?, ?)"),
                bind("seed-inbound-" + std::to_string(d)), bind(id), bind(epochMs(t)), now;
        if (d % 7 == 0)
            s << hub::store::sql(
                s,
                "INSERT INTO identity_persons(entry_uuid, id, dn, dn_norm, status, updated_at, departed_at)"
                " VALUES(?, ?, 'uid=x', 'uid=x', 'departed', ?, ?)"),
                bind("gone-" + std::to_string(d)), bind("gone-" + std::to_string(d)), bind(at), bind(at), now;
    }
    for (int n = 0; n < 20; ++n)
        s << hub::store::sql(
            s,
            "INSERT INTO identity_persons(entry_uuid, id, dn, dn_norm, status, updated_at) VALUES(?, ?, 'uid=y',"
            " 'uid=y', 'active', '2020-01-01T00:00:00.000Z')"),
            bind("here-" + std::to_string(n)), bind("here-" + std::to_string(n)), now;
    // Every consumer has settled the events up to day 100's.
    s << hub::store::sql(
        s, "INSERT INTO events_cursor VALUES('portal', (SELECT seq FROM events_outbox WHERE id = 'seed-event-100'))"),
        now;
    s.commit();
}

std::map<std::string, int> counts(const hub::store::Database::Options& store) {
    hub::store::Database db(store);
    auto s = db.session();
    std::map<std::string, int> out;
    auto count = [&](const std::string& name, const std::string& sql) {
        Poco::Int64 n = 0;  // count(*) is a BIGINT on PostgreSQL
        s << sql, into(n), now;
        out[name] = static_cast<int>(n);
    };
    count("applications", "SELECT count(*) FROM flows_applications WHERE id LIKE 'seed-%'");
    count("inReview", "SELECT count(*) FROM flows_applications WHERE id LIKE 'seed-%' AND status = 'in_review'");
    count("transitions", "SELECT count(*) FROM flows_transitions WHERE application_id LIKE 'seed-%'");
    count("idempotency", "SELECT count(*) FROM flows_idempotency WHERE application_id LIKE 'seed-%'");
    count("traces", "SELECT count(*) FROM trace_applications WHERE application_id LIKE 'seed-%'");
    count("traceHops", "SELECT count(*) FROM trace_hops WHERE application_id LIKE 'seed-%'");
    count("audit", "SELECT count(*) FROM audit_calls WHERE request_id LIKE 'seed-%'");
    count("events", "SELECT count(*) FROM events_outbox WHERE id LIKE 'seed-%'");
    count("inbox", "SELECT count(*) FROM events_inbox WHERE id LIKE 'seed-%'");
    count("deadLetters", "SELECT count(*) FROM events_dead_letters WHERE id LIKE 'seed-%'");
    count("departed", "SELECT count(*) FROM identity_persons WHERE status = 'departed'");
    count("active", "SELECT count(*) FROM identity_persons WHERE status = 'active'");
    count("held", "SELECT count(*) FROM flows_applications WHERE id = 'seed-app-400'");
    return out;
}

int daysWhere(const std::function<bool(int)>& test) {
    int n = 0;
    for (int d = 1; d <= kDays; ++d) n += test(d) ? 1 : 0;
    return n;
}

}  // namespace

TEST(Retention, TwoYearsOfDataLoseWhatExpiredAndKeepWhatIsHeld) {
    TempDir dir("privacy-retention-test");
    const std::string policy = R"(<privacy><retention>
      <applicationsDays>365</applicationsDays><auditDays>180</auditDays><eventsDays>30</eventsDays>
      <departedPersonsDays>90</departedPersonsDays><deadLettersDays>60</deadLettersDays>
      <batchRows>50</batchRows><intervalHours>0</intervalHours></retention></privacy>
      <events><relay><retentionHours>0</retentionHours></relay></events>)";
    const hub::test::SameStore store(dir.file("var"));  // hubd's store, which the test seeds and counts
    startHubd(dir, policy, store.xml()).reset();        // creates the schema, then stops
    seed(store.options(), Clock::now());
    const auto before = counts(store.options());
    auto hubd = startHubd(dir, policy, store.xml());

    // Refused: a clerk runs nothing; another department's admin holds nothing of student affairs.
    EXPECT_EQ(call(*hubd, "POST", "/admin/retention/run", kClerk).status, 403);
    EXPECT_EQ(call(*hubd, "PUT", "/admin/applications/seed-app-400/legal-hold", kOtherDeptAdmin,
                   R"({"reason":"案件 2026-17"})")
                  .status,
              403);
    EXPECT_EQ(call(*hubd, "PUT", "/admin/applications/seed-app-400/legal-hold", kAdmin, R"({"reason":""})").status,
              400);
    EXPECT_EQ(call(*hubd, "PUT", "/admin/applications/no-such/legal-hold", kAdmin, R"({"reason":"x"})").status, 404);
    auto held =
        call(*hubd, "PUT", "/admin/applications/seed-app-400/legal-hold", kAdmin, R"({"reason":"案件 2026-17"})");
    ASSERT_EQ(held.status, 200) << held.body;
    EXPECT_EQ(parse(held.body)->getValue<std::string>("reason"), "案件 2026-17");
    EXPECT_EQ(call(*hubd, "PUT", "/admin/applications/seed-app-402/legal-hold", kAdmin, R"({"reason":"x"})").status,
              200);
    EXPECT_EQ(call(*hubd, "DELETE", "/admin/applications/seed-app-402/legal-hold", kAdmin).status, 200);
    EXPECT_EQ(call(*hubd, "DELETE", "/admin/applications/seed-app-402/legal-hold", kAdmin).status, 404);

    auto run = call(*hubd, "POST", "/admin/retention/run", kAdmin);
    ASSERT_EQ(run.status, 200) << run.body;
    auto report = parse(run.body);
    const auto after = counts(store.options());

    // What the policy says, worked out from the seed's days.
    const int applications = daysWhere([](int d) { return d % 2 == 0 && d >= 365 && d != 400; });
    const int audit = 2 * daysWhere([](int d) { return d >= 180; });
    const int deadLetters = daysWhere([](int d) { return d % 10 == 0 && d >= 60; });
    const int events = daysWhere([](int d) { return d >= 100; });  // settled, and old enough
    const int inbox = daysWhere([](int d) { return d % 5 == 0 && d >= 30; });
    const int departed = daysWhere([](int d) { return d % 7 == 0 && d >= 90; });

    EXPECT_EQ(before.at("applications") - after.at("applications"), applications);
    EXPECT_EQ(before.at("transitions") - after.at("transitions"), 2 * applications);
    EXPECT_EQ(before.at("idempotency") - after.at("idempotency"), applications);
    EXPECT_EQ(before.at("traces") - after.at("traces"), applications);
    EXPECT_EQ(before.at("traceHops") - after.at("traceHops"), 2 * applications);
    EXPECT_EQ(before.at("audit") - after.at("audit"), audit);
    EXPECT_EQ(before.at("deadLetters") - after.at("deadLetters"), deadLetters);
    EXPECT_EQ(before.at("events") - after.at("events"), events);
    EXPECT_EQ(before.at("inbox") - after.at("inbox"), inbox);
    EXPECT_EQ(before.at("departed") - after.at("departed"), departed);
    // Nothing outside the policy: applications still open, active persons, the held one.
    EXPECT_EQ(after.at("inReview"), before.at("inReview"));
    EXPECT_EQ(after.at("active"), 20);
    EXPECT_EQ(after.at("held"), 1) << "the application under a legal hold was deleted";

    auto kinds = report->getObject("kinds");
    EXPECT_EQ(kinds->getObject("applications")->getValue<int>("deleted"), applications);
    EXPECT_EQ(kinds->getObject("audit")->getValue<int>("deleted"), audit);
    EXPECT_EQ(kinds->getObject("deadLetters")->getValue<int>("deleted"), deadLetters);
    EXPECT_EQ(kinds->getObject("events")->getValue<int>("deleted"), events + inbox);
    EXPECT_EQ(kinds->getObject("departedPersons")->getValue<int>("deleted"), departed);
    EXPECT_EQ(report->getValue<int>("heldKept"), 1);

    // The run is in the audit trail and its report is kept.
    const std::string runRow = "retention run " + std::to_string(report->getValue<int>("id"));
    EXPECT_TRUE(hub::test::waitUntil([&] {
        auto trail = call(*hubd, "GET", "/admin/audit?person=" + kAdmin, kAdmin).body;
        return trail.find("POST /admin/retention/run") != std::string::npos && trail.find(runRow) != std::string::npos;
    })) << "the run is not in the audit trail";
    auto runs = call(*hubd, "GET", "/admin/retention/runs?limit=1", kAdmin);
    ASSERT_EQ(runs.status, 200) << runs.body;
    EXPECT_EQ(parse(runs.body)->getArray("items")->getObject(0)->getValue<int>("id"), report->getValue<int>("id"));

    // A second run finds nothing more; releasing the hold lets the next run take it.
    auto again = parse(call(*hubd, "POST", "/admin/retention/run", kAdmin).body);
    EXPECT_EQ(again->getObject("kinds")->getObject("applications")->getValue<int>("deleted"), 0);
    ASSERT_EQ(call(*hubd, "DELETE", "/admin/applications/seed-app-400/legal-hold", kAdmin).status, 200);
    auto last = parse(call(*hubd, "POST", "/admin/retention/run", kAdmin).body);
    EXPECT_EQ(last->getObject("kinds")->getObject("applications")->getValue<int>("deleted"), 1);
    EXPECT_EQ(counts(store.options()).at("held"), 0);
}
