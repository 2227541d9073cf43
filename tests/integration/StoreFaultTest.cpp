// hubd on a store whose disk fills, or that is read-only when hubd starts: a
// tmpfs the test mounts (in a mount namespace of its own, so nothing stays
// mounted even if the test dies; see hub/test/TmpfsMount.h). What clients get
// (503, Retry-After, the problem type), what /readyz and /metrics say, that
// the hub recovers by itself once the disk can take writes again, and that
// nothing acknowledged is lost: every submit answered 201 is there afterwards,
// and every submit answered 503 is not (retried with its Idempotency-Key it is
// created then, not replayed). The simulated student affairs system and hubd
// run as real processes, over HTTP on loopback.
#include "hub/store/Database.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/Json.h"
#include "hub/test/TempDir.h"
#include "hub/test/TmpfsMount.h"
#include "hub/test/Tokens.h"

#include <Poco/Data/Session.h>
#include <Poco/JSON/Object.h>

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
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
using hub::test::TmpfsMount;

namespace {

const std::string kSecret = "store-fault-test-secret-0123456789-abcdef";

std::string token(const std::string& subject) { return hub::test::token(kSecret, subject); }

// A metric's value (unlabelled, or with its labels as written), -1 if absent.
double metric(const std::string& text, const std::string& series) {
    auto at = text.find("\n" + series + " ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + series.size() + 2));
}

bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    return hub::test::waitUntil(condition, deadline, std::chrono::milliseconds(50));
}

// A student's leave: handled by a flow, so a submit stores the application in
// review with its events. The longest reason the item allows, so the disk
// fills in a few hundred submits.
std::string leave(int n) {
    std::string reason = "病假" + std::to_string(n) + " ";
    while (reason.size() < 1400) reason += "发烧";
    return R"({"item_id":"student-leave","form":{"leave-type":"sick","from":"2026-12-01","to":"2026-12-02",)"
           R"("reason":")" + reason + R"(","phone":"13800000000"}})";
}

// An application answered 201: its id, and the number its form was made from.
struct Created {
    std::string id;
    int n;
};

class StoreFaultTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (auto why = TmpfsMount::unavailable(); !why.empty()) GTEST_SKIP() << why;
        dir_ = std::make_unique<TempDir>("store-fault-test");
        disk_ = std::make_unique<TmpfsMount>(16 << 20, "store-fault-disk");
        sim_ = std::make_unique<ChildProcess>(
            SIM_STUDENT_AFFAIRS_EXE,
            ChildProcess::Options{.args = {"--port", "0", "--port-file", dir_->file("sim.port")},
                                  .portFile = dir_->file("sim.port")});
        fs::create_directories(dir_->file("plugins"));
        fs::copy(std::string(REFERENCE_PLUGINS_DIR) + "/student_affairs", dir_->file("plugins/student_affairs"),
                 fs::copy_options::recursive);
        dir_->write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_->file("hubd.port") + R"(</portFile></http>
  <store><path>)" + storePath() + R"(</path></store>
  <audit><commitIntervalMs>10</commitIntervalMs></audit>
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <plugins><dir>)" + dir_->file("plugins") + R"(</dir>
    <plugin name="student_affairs"><config><base_url>http://127.0.0.1:)" + std::to_string(sim_->port()) +
                                    R"(</base_url></config></plugin></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity><static>
    <person id="2023010001" name="张三" department="student-affairs" audience="student"/>
  </static></identity>
</hub>)");
    }

    std::string storePath() const { return disk_->file("var/hub.db"); }

    void startHubd() {
        std::error_code ignored;
        fs::remove(dir_->file("hubd.port"), ignored);
        hubd_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(*dir_));
    }

    HttpResponse submit(const std::string& key, int n) {
        return httpRequest("POST", hubd_->url("/api/v1/applications"), leave(n),
                           {{"Authorization", "Bearer " + token("2023010001")}, {"Idempotency-Key", key}});
    }

    HttpResponse get(const std::string& path) {
        return httpRequest("GET", hubd_->url(path), "", bearer(token("2023010001")));
    }

    HttpResponse pluginCall() {
        return httpRequest("POST", hubd_->url("/api/v1/systems/student_affairs/operations/get_student"),
                           R"({"student_id":"2023010001"})", bearer(token("2023010001")));
    }

    std::string metrics() { return httpRequest("GET", hubd_->url("/metrics")).body; }

    void expectStoreProblem(const HttpResponse& r, const std::string& type) {
        EXPECT_EQ(r.status, 503) << r.body;
        EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
        EXPECT_FALSE(r.header("Retry-After").empty()) << "no Retry-After";
        EXPECT_EQ(parse(r.body)->getValue<std::string>("type"), "urn:campushub:problem:" + type) << r.body;
    }

    // After recovery: every key answered 201 replays its application (200,
    // same id); every key answered 503 was never stored (201, created now).
    void expectNothingAcknowledgedLost(const std::map<std::string, Created>& created,
                                       const std::map<std::string, int>& refused) {
        for (const auto& [key, application] : created) {
            auto r = submit(key, application.n);
            ASSERT_EQ(r.status, 200) << key << ": " << r.body;
            EXPECT_EQ(parse(r.body)->getValue<std::string>("id"), application.id) << key;
        }
        for (const auto& [key, n] : refused) {
            auto r = submit(key, n);
            EXPECT_EQ(r.status, 201) << key << " was answered 503 but had been stored: " << r.body;
        }
        auto list = get("/api/v1/applications?pageSize=1");
        ASSERT_EQ(list.status, 200) << list.body;
        EXPECT_EQ(parse(list.body)->getValue<std::size_t>("total"), created.size() + refused.size());
    }

    // With hubd stopped (its audit log flushed): the audit rows of these requests.
    std::size_t auditRows(const std::set<std::string>& requestIds) {
        hub::store::Database db({storePath()});
        std::vector<std::string> stored;
        db.session() << "SELECT request_id FROM audit_calls", into(stored), now;
        std::size_t found = 0;
        for (const auto& id : stored) found += requestIds.count(id);
        return found;
    }

    void TearDown() override {
        hubd_.reset();
        sim_.reset();
        disk_.reset();
        dir_.reset();
    }

    std::unique_ptr<TempDir> dir_;
    std::unique_ptr<TmpfsMount> disk_;
    std::unique_ptr<ChildProcess> sim_, hubd_;
};

}  // namespace

TEST_F(StoreFaultTest, AFullDiskAnswers503AndTheHubRecoversLosingNothingAcknowledged) {
    startHubd();
    std::map<std::string, Created> created;      // Idempotency-Key -> application
    std::map<std::string, int> refused;          // Idempotency-Key -> its form's number
    std::set<std::string> auditedCalls;          // X-Request-Id of plugin calls answered
    for (int i = 0; i < 3; ++i) {
        auto r = submit("before-" + std::to_string(i), i);
        ASSERT_EQ(r.status, 201) << r.body;
        created["before-" + std::to_string(i)] = {parse(r.body)->getValue<std::string>("id"), i};
    }
    ASSERT_EQ(httpRequest("GET", hubd_->url("/readyz")).status, 200);

    // Nearly full: a few hundred KiB left, so some submits still fit and the
    // disk runs out under the load, in the middle of someone's transaction.
    disk_->fill("filler", 384 * 1024);
    // Submits until the store has refused a few in a row; plugin calls meanwhile
    // (their audit rows may have to wait for the disk).
    int refusedInARow = 0;
    for (int i = 0; i < 3000 && refusedInARow < 5; ++i) {
        const std::string key = "during-" + std::to_string(i);
        auto r = submit(key, 100 + i);
        if (r.status == 201) {
            created[key] = {parse(r.body)->getValue<std::string>("id"), 100 + i};
            EXPECT_EQ(parse(r.body)->getValue<std::string>("status"), "in_review");
            refusedInARow = 0;
        } else {
            expectStoreProblem(r, "store-full");
            refused[key] = 100 + i;
            ++refusedInARow;
        }
        if (i % 5 == 0) {
            auto call = pluginCall();
            ASSERT_EQ(call.status, 200) << call.body;
            auditedCalls.insert(call.header("X-Request-Id"));
        }
    }
    ASSERT_EQ(refusedInARow, 5) << "the full disk never refused a submit";
    EXPECT_GT(created.size(), 3u) << "no submit fitted in the space left";

    auto ready = httpRequest("GET", hubd_->url("/readyz"));
    EXPECT_EQ(ready.status, 503) << ready.body;
    auto store = parse(ready.body)->getObject("store");
    ASSERT_TRUE(store) << ready.body;
    EXPECT_FALSE(store->getValue<bool>("writable"));
    EXPECT_EQ(store->getValue<std::string>("reason"), "full");
    auto during = metrics();
    EXPECT_EQ(metric(during, "hub_store_writable"), 0) << during;
    EXPECT_GE(metric(during, "hub_store_failures_total{reason=\"full\"}"), static_cast<double>(refused.size()))
        << during;
    // Reads still work.
    EXPECT_EQ(get("/api/v1/applications/" + created.begin()->second.id).status, 200);

    fs::remove(disk_->file("filler"));
    ASSERT_TRUE(eventually([&] { return httpRequest("GET", hubd_->url("/readyz")).status == 200; }))
        << "the hub did not recover by itself";
    EXPECT_EQ(metric(metrics(), "hub_store_writable"), 1);
    expectNothingAcknowledgedLost(created, refused);

    // The audit writer held what the disk refused: nothing dropped, every
    // answered call is in the trail once hubd has stopped (and flushed).
    ASSERT_TRUE(eventually([&] { return metric(metrics(), "hub_audit_queue_depth") == 0; }));
    EXPECT_EQ(metric(metrics(), "hub_audit_records_dropped_total"), 0);
    EXPECT_EQ(hubd_->stop(), 0) << hubd_->output();
    EXPECT_EQ(auditRows(auditedCalls), auditedCalls.size());
}

TEST_F(StoreFaultTest, AStoreReadOnlyAtStartAnswers503AndRecoversWithoutARestart) {
    startHubd();
    auto first = submit("before", 1);
    ASSERT_EQ(first.status, 201) << first.body;
    const std::string firstId = parse(first.body)->getValue<std::string>("id");
    // Killed, as a hub whose disk turned read-only under it is: its -wal and
    // -shm stay, and SQLite can open the store read-only.
    hubd_->signal(SIGKILL);
    hubd_->wait(std::chrono::seconds(10));
    disk_->remountReadOnly();

    startHubd();  // starts: reads are possible
    auto ready = httpRequest("GET", hubd_->url("/readyz"));
    EXPECT_EQ(ready.status, 503) << ready.body;
    EXPECT_EQ(parse(ready.body)->getObject("store")->getValue<std::string>("reason"), "read_only") << ready.body;
    EXPECT_EQ(get("/api/v1/applications/" + firstId).status, 200);

    auto refusedAnswer = submit("during", 2);
    expectStoreProblem(refusedAnswer, "store-read-only");
    auto call = pluginCall();
    ASSERT_EQ(call.status, 200) << call.body;
    auto during = metrics();
    EXPECT_EQ(metric(during, "hub_store_writable"), 0) << during;
    EXPECT_GE(metric(during, "hub_store_failures_total{reason=\"read_only\"}"), 1) << during;

    disk_->remountReadWrite();
    ASSERT_TRUE(eventually([&] { return httpRequest("GET", hubd_->url("/readyz")).status == 200; }))
        << "the hub did not recover by itself: " << hubd_->output();
    EXPECT_EQ(metric(metrics(), "hub_store_reopens_total"), 1);
    auto after = submit("after", 3);
    EXPECT_EQ(after.status, 201) << after.body;
    expectNothingAcknowledgedLost(
        {{"before", {firstId, 1}}, {"after", {parse(after.body)->getValue<std::string>("id"), 3}}}, {{"during", 2}});

    ASSERT_TRUE(eventually([&] { return metric(metrics(), "hub_audit_queue_depth") == 0; }));
    EXPECT_EQ(metric(metrics(), "hub_audit_records_dropped_total"), 0);
    EXPECT_EQ(hubd_->stop(), 0) << hubd_->output();
    EXPECT_EQ(auditRows({call.header("X-Request-Id")}), 1u);
}
