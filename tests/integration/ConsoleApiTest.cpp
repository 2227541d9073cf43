// The routes the web console needs (issue 16), over HTTP against a real hubd:
// ratings of closed applications, the hall's evaluation figures (JSON and
// CSV, by role), the applications search, the relay's consumers and the
// plugins' activity series.
#include "hub/test/StoreBackend.h"
#include "hub/api/PluginActivity.h"
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
#include <filesystem>
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

const std::string kSecret = "console-api-test-secret-0123456789-abcd";
const std::string kStudent = "2023010001", kOtherStudent = "2023010002", kClerk = "clerk.xsc",
                  kOtherClerk = "clerk.jwc", kAdmin = "admin";

std::string token(const std::string& subject) { return hub::test::token(kSecret, subject); }

class ConsoleApiTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new TempDir("console-api-test");
        fs::create_directories(dir_->file("plugins"));
        dir_->write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_->file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir_->file("var")) + R"(
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <plugins><dir>)" + dir_->file("plugins") + R"(</dir></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <console><activitySeconds>1</activitySeconds></console>
  <identity><static>
    <person id="2023010001" name="张三" department="student-affairs" audience="student"/>
    <person id="2023010002" name="李四" department="student-affairs" audience="student"/>
    <person id="clerk.xsc" name="王老师" department="student-affairs" audience="staff" roles="dept:student-affairs:clerk"/>
    <person id="clerk.jwc" name="赵老师" department="academic-affairs" audience="staff" roles="dept:academic-affairs:clerk"/>
    <person id="admin" name="管理员" department="it-office" audience="staff" roles="hub:admin"/>
  </static></identity>
</hub>)");
        hubd_ = new ChildProcess(HUBD_EXE, hubdOptions(*dir_));
    }
    static void TearDownTestSuite() {
        delete hubd_;
        delete dir_;
    }

    static hub::test::HttpResponse call(const std::string& method, const std::string& path, const std::string& subject,
                                        const std::string& body = "") {
        return httpRequest(method, hubd_->url(path), body, bearer(token(subject)));
    }

    // A leave application of kStudent, decided by the clerk: completed, or rejected.
    static std::string closedApplication(bool complete) {
        auto r = call("POST", "/api/v1/applications", kStudent,
                      R"({"item_id":"student-leave","form":{"leave-type":"sick","from":"2026-12-01","to":"2026-12-02",)"
                      R"("reason":"发烧","phone":"13800000000"}})");
        EXPECT_TRUE(r.status == 201 || r.status == 202) << r.body;
        std::string id = parse(r.body)->getValue<std::string>("id");
        if (complete) {
            EXPECT_EQ(call("POST", "/api/v1/applications/" + id + "/transitions", kClerk, R"({"to":"approved"})").status, 200);
            EXPECT_EQ(call("POST", "/api/v1/applications/" + id + "/transitions", kClerk, R"({"to":"completed"})").status,
                      200);
        } else {
            EXPECT_EQ(call("POST", "/api/v1/applications/" + id + "/transitions", kClerk,
                           R"({"to":"rejected","reason":"材料不全"})")
                          .status,
                      200);
        }
        return id;
    }

    static TempDir* dir_;
    static ChildProcess* hubd_;
};

TempDir* ConsoleApiTest::dir_ = nullptr;
ChildProcess* ConsoleApiTest::hubd_ = nullptr;

TEST_F(ConsoleApiTest, OnlyTheApplicantRatesAClosedApplicationOnce) {
    auto r = call("POST", "/api/v1/applications", kStudent,
                  R"({"item_id":"student-leave","form":{"leave-type":"sick","from":"2026-12-01","to":"2026-12-02",)"
                  R"("reason":"发烧","phone":"13800000000"}})");
    ASSERT_TRUE(r.status == 201 || r.status == 202) << r.body;
    const std::string open = parse(r.body)->getValue<std::string>("id");
    auto early = call("POST", "/api/v1/applications/" + open + "/rating", kStudent, R"({"score":5})");
    EXPECT_EQ(early.status, 409);
    EXPECT_NE(early.body.find("not-closed"), std::string::npos) << early.body;

    const std::string id = closedApplication(true);
    const std::string path = "/api/v1/applications/" + id + "/rating";
    EXPECT_EQ(call("POST", path, kOtherStudent, R"({"score":1})").status, 403);
    EXPECT_EQ(call("POST", path, kClerk, R"({"score":1})").status, 403);
    for (const std::string& bad : std::vector<std::string>{R"({"score":0})", R"({"score":6})", R"({"score":"5"})", R"({"score":4.5})", R"({})",
                                  R"([5])", "not json", R"({"score":3,"comment":7})",
                                  R"({"score":3,"comment":")" + std::string(2001, 'x') + "\"}", "{\"score\":3,\"comment\":\"\xC0\xAF\"}"})
        EXPECT_EQ(call("POST", path, kStudent, bad).status, 400) << bad.substr(0, 60);
    EXPECT_EQ(call("POST", "/api/v1/applications/no-such-id/rating", kStudent, R"({"score":3})").status, 404);

    auto stored = call("POST", path, kStudent, R"({"score":4,"comment":"办得很快，谢谢"})");
    ASSERT_EQ(stored.status, 201) << stored.body;
    auto body = parse(stored.body);
    EXPECT_EQ(body->getValue<int>("score"), 4);
    EXPECT_EQ(body->getValue<std::string>("comment"), "办得很快，谢谢");
    EXPECT_FALSE(body->getValue<std::string>("rated_at").empty());
    auto again = call("POST", path, kStudent, R"({"score":1})");
    EXPECT_EQ(again.status, 409);
    EXPECT_NE(again.body.find("already-rated"), std::string::npos);

    // Read back with its comment by the applicant, the department and hub:admin; no one else.
    for (const auto& who : {kStudent, kClerk, kAdmin}) {
        auto read = call("GET", path, who);
        ASSERT_EQ(read.status, 200) << who << ": " << read.body;
        EXPECT_EQ(parse(read.body)->getValue<int>("score"), 4);
        EXPECT_EQ(parse(read.body)->getValue<std::string>("comment"), "办得很快，谢谢");
    }
    EXPECT_EQ(call("GET", path, kOtherStudent).status, 403);
    EXPECT_EQ(call("GET", path, kOtherClerk).status, 403);
    auto unrated = call("GET", "/api/v1/applications/" + open + "/rating", kStudent);
    EXPECT_EQ(unrated.status, 404);
    EXPECT_NE(unrated.body.find("not-rated"), std::string::npos) << unrated.body;
    EXPECT_EQ(call("GET", "/api/v1/applications/no-such-id/rating", kAdmin).status, 404);
}

TEST_F(ConsoleApiTest, EvaluationFiguresPerDepartmentAndItemAsJsonAndCsv) {
    const std::string completed = closedApplication(true);
    closedApplication(false);
    ASSERT_EQ(call("POST", "/api/v1/applications/" + completed + "/rating", kStudent, R"({"score":2})").status, 201);

    auto r = call("GET", "/admin/evaluation?by=department&period=month", kAdmin);
    ASSERT_EQ(r.status, 200) << r.body;
    auto rows = parse(r.body)->getArray("rows");
    ASSERT_TRUE(rows);
    Object::Ptr row;
    for (std::size_t i = 0; i < rows->size(); ++i)
        if (rows->getObject(static_cast<unsigned>(i))->getValue<std::string>("key") == "student-affairs")
            row = rows->getObject(static_cast<unsigned>(i));
    ASSERT_TRUE(row) << r.body;
    EXPECT_GE(row->getValue<int>("volume"), 2);
    EXPECT_GE(row->getValue<int>("closed"), 2);
    EXPECT_EQ(row->getValue<double>("medianDays"), 0.0);  // decided the day they came in
    EXPECT_EQ(row->getValue<double>("p90Days"), 0.0);
    EXPECT_GE(row->getValue<int>("ratings"), 1);
    EXPECT_GE(row->getValue<double>("meanSatisfaction"), 1.0);
    EXPECT_LE(row->getValue<double>("meanSatisfaction"), 5.0);

    auto byItem = call("GET", "/admin/evaluation?by=item&period=day", kAdmin);
    ASSERT_EQ(byItem.status, 200);
    EXPECT_NE(byItem.body.find("\"key\":\"student-leave\""), std::string::npos) << byItem.body;

    auto csv = call("GET", "/admin/evaluation?by=item&period=week&format=csv", kAdmin);
    ASSERT_EQ(csv.status, 200);
    EXPECT_EQ(csv.header("Content-Type"), "text/csv; charset=utf-8");
    EXPECT_NE(csv.header("Content-Disposition").find("attachment; filename=\"evaluation-item-week-"), std::string::npos);
    EXPECT_EQ(csv.body.rfind("\xEF\xBB\xBFperiod,key,department,volume,", 0), 0u) << csv.body.substr(0, 100);
    EXPECT_NE(csv.body.find(",student-leave,student-affairs,"), std::string::npos) << csv.body;

    // A clerk sees their department's figures only; others none.
    auto clerk = call("GET", "/admin/evaluation?by=department", kClerk);
    ASSERT_EQ(clerk.status, 200);
    EXPECT_NE(clerk.body.find("student-affairs"), std::string::npos);
    auto otherClerk = call("GET", "/admin/evaluation?by=department", kOtherClerk);
    ASSERT_EQ(otherClerk.status, 200);
    EXPECT_EQ(otherClerk.body.find("student-affairs"), std::string::npos) << otherClerk.body;
    EXPECT_EQ(call("GET", "/admin/evaluation?department=student-affairs", kOtherClerk).status, 403);
    EXPECT_EQ(call("GET", "/admin/evaluation", kStudent).status, 403);

    for (const char* bad : {"?by=person", "?period=year", "?from=2026-13-01", "?to=yesterday", "?format=xml",
                            "?from=2026-12-31&to=2026-01-01", "?from=2000-01-01&to=2026-01-01"})
        EXPECT_EQ(call("GET", std::string("/admin/evaluation") + bad, kAdmin).status, 400) << bad;
}

TEST_F(ConsoleApiTest, ApplicationsAreFoundByPersonItemDepartmentAndStatus) {
    closedApplication(true);
    auto all = call("GET", "/api/v1/applications?department=*&applicant=2023010001&item=student-leave&status=completed",
                    kAdmin);
    ASSERT_EQ(all.status, 200) << all.body;
    EXPECT_GE(parse(all.body)->getValue<int>("total"), 1);
    auto none = call("GET", "/api/v1/applications?department=*&item=seal-use", kAdmin);
    ASSERT_EQ(none.status, 200);
    EXPECT_EQ(parse(none.body)->getValue<int>("total"), 0);
    auto clerk = call("GET", "/api/v1/applications?department=student-affairs&applicant=2023010001", kClerk);
    ASSERT_EQ(clerk.status, 200);
    EXPECT_GE(parse(clerk.body)->getValue<int>("total"), 1);
    EXPECT_EQ(call("GET", "/api/v1/applications?department=*", kClerk).status, 403);
    EXPECT_EQ(call("GET", "/api/v1/applications?applicant=2023010001", kOtherStudent).status, 403);
    EXPECT_EQ(call("GET", "/api/v1/applications?applicant=2023010001", kStudent).status, 200);
}

TEST_F(ConsoleApiTest, RelayConsumersAndPluginActivityAreForAdmins) {
    auto consumers = call("GET", "/admin/events/consumers", kAdmin);
    ASSERT_EQ(consumers.status, 200) << consumers.body;
    EXPECT_TRUE(parse(consumers.body)->getArray("consumers"));
    auto activity = call("GET", "/admin/plugins/activity", kAdmin);
    ASSERT_EQ(activity.status, 200) << activity.body;
    EXPECT_EQ(parse(activity.body)->getValue<int>("intervalSeconds"), 1);
    EXPECT_EQ(call("GET", "/admin/plugins/activity", kClerk).status, 403);
    EXPECT_EQ(call("GET", "/admin/events/consumers", kStudent).status, 403);
}

// The ring itself: differences per interval, a reload restarts the count, an
// unloaded plugin goes, at most `points` kept.
TEST(PluginActivityTest, KeepsDifferencesPerIntervalInABoundedRing) {
    std::vector<hub::api::PluginActivity::Counters> now = {{"a", 1, 10, 1}};
    hub::api::PluginActivity activity([&] { return now; }, std::chrono::seconds(3600), 3);
    now = {{"a", 1, 15, 3}};
    activity.sample();
    auto s = activity.series();
    ASSERT_EQ(s.size(), 1u);
    ASSERT_EQ(s[0].points.size(), 1u);
    EXPECT_EQ(s[0].points[0].calls, 5u);
    EXPECT_EQ(s[0].points[0].failures, 2u);
    now = {{"a", 2, 4, 0}, {"b", 1, 7, 0}};  // a reloaded; b new
    activity.sample();
    s = activity.series();
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0].points.back().calls, 4u);
    EXPECT_TRUE(s[1].points.empty());  // b's first sample is its baseline
    for (int i = 0; i < 5; ++i) activity.sample();
    EXPECT_EQ(activity.series()[0].points.size(), 3u);
    now = {{"b", 1, 7, 0}};
    activity.sample();
    ASSERT_EQ(activity.series().size(), 1u);
    EXPECT_EQ(activity.series()[0].plugin, "b");
}

// hubd stops the sampler before the plugin host it reads goes: after stop() the
// source is never read again, and what was sampled stays readable.
TEST(PluginActivityTest, StopEndsTheSamplerBeforeItsSourceGoes) {
    std::atomic<int> reads{0};
    std::atomic<bool> sourceGone{false};
    std::atomic<bool> readAfterGone{false};
    hub::api::PluginActivity activity(
        [&] {
            if (sourceGone) readAfterGone = true;
            ++reads;
            return std::vector<hub::api::PluginActivity::Counters>{{"a", 1, static_cast<std::uint64_t>(reads.load()), 0}};
        },
        std::chrono::seconds(1), 3);
    ASSERT_TRUE(hub::test::waitUntil([&] { return reads >= 2; }, std::chrono::seconds(30)));
    activity.stop();
    sourceGone = true;
    const int atStop = reads;
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // more than an interval
    EXPECT_EQ(reads, atStop);
    EXPECT_FALSE(readAfterGone);
    EXPECT_EQ(activity.series().size(), 1u);
    activity.stop();  // again: nothing happens
}

}  // namespace
