// Applications against the store's failures: what a submit that the disk
// refuses leaves behind (nothing), the review step in the submit's own
// transaction, and the inbound decision's conflict inside a caller's
// transaction.
#include "FlowsTestSupport.h"

#include "hub/store/StoreError.h"
#include "hub/test/TmpfsMount.h"

#include <Poco/Data/Session.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <thread>

using namespace Poco::Data::Keywords;

namespace hub::flows {
namespace {

using test::Fixture;
using test::shippedCatalog;
using test::vehiclePass;
using Outcome = ApplicationService::SubmitResult::Outcome;

using test::kTeacher;
using test::kStudent;

// The hub's outbox, as far as these tests need it: a row per event, written
// in the change's transaction.
void recordEventsIn(ApplicationService& service, store::Database& db) {
    db.session() << "CREATE TABLE IF NOT EXISTS test_outbox (type TEXT, subject TEXT, data TEXT)", now;
    service.setEventSink([](Poco::Data::Session& s, const std::string& type, const std::string& subject,
                            const std::string& data) {
        std::string t = type, sub = subject, d = data;
        s << "INSERT INTO test_outbox VALUES(?, ?, ?)", use(t), use(sub), use(d), now;
    });
}

TEST(ApplicationStoreTest, AFlowItemIsStoredInReviewWithBothEventsInOneTransaction) {
    Fixture f;
    recordEventsIn(*f.service, *f.db);
    auto request = vehiclePass("t.wang");  // handled by the flow "vehicle-pass"
    request.startReview = true;
    auto r = f.service->submit(request, shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Created);
    EXPECT_EQ(r.application->status, ApplicationStatus::InReview);
    EXPECT_EQ(r.application->version, 2);
    ASSERT_EQ(r.application->transitions.size(), 2u);
    EXPECT_EQ(r.application->transitions[1].actor, "hub");
    EXPECT_EQ(r.application->transitions[1].reason, "sent to the approval engine (vehicle-pass)");
    EXPECT_EQ(f.service->get(r.application->id).status, ApplicationStatus::InReview);
    std::vector<std::string> types;
    f.db->session() << "SELECT type FROM test_outbox ORDER BY rowid", into(types), now;
    EXPECT_EQ(types, (std::vector<std::string>{ApplicationService::submittedEvent,
                                               ApplicationService::statusChangedEvent}));
}

// The review step failing leaves nothing: no application stuck in submitted
// that nobody would send for review, and the key is free for the retry.
TEST(ApplicationStoreTest, AFailingReviewStepStoresNothing) {
    Fixture f;
    bool fail = true;
    f.service->setEventSink([&](Poco::Data::Session&, const std::string& type, const std::string&, const std::string&) {
        if (fail && type == ApplicationService::statusChangedEvent) throw std::runtime_error("outbox refused");
    });
    auto request = vehiclePass("t.wang");
    request.startReview = true;
    request.idempotencyKey = "review-once";
    EXPECT_THROW(f.service->submit(request, shippedCatalog(), kTeacher), std::runtime_error);
    EXPECT_EQ(test::countRows(*f.db, "flows_applications"), 0);
    EXPECT_EQ(test::countRows(*f.db, "flows_transitions"), 0);
    EXPECT_EQ(test::countRows(*f.db, "flows_idempotency"), 0);
    fail = false;
    auto r = f.service->submit(request, shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Created);
    EXPECT_EQ(r.application->status, ApplicationStatus::InReview);
}

// An item without a flow (a plugin's) is not sent for review.
TEST(ApplicationStoreTest, StartReviewLeavesOtherItemsSubmitted) {
    Fixture f;
    ApplicationService::SubmitRequest request;
    request.subject = "2023010001";
    request.itemId = "certificate-by-plugin";  // handled by the student_affairs plugin
    request.formJson = R"({"student_id":"2023010001","purpose":"visa"})";
    request.startReview = true;
    auto r = f.service->submit(request, test::catalogWithPluginItem(), catalog::Audience::Student);
    ASSERT_EQ(r.outcome, Outcome::Created) << r.message;
    EXPECT_EQ(r.application->status, ApplicationStatus::Submitted);
    EXPECT_EQ(r.application->version, 1);
}

// The relay applies an inbound decision inside its own transaction, without
// an expected version. When the compare-and-set finds nothing to update (here
// a trigger makes the UPDATE a no-op, as a concurrent change would), the
// conflict names the version the decision was made on. It dereferenced the
// empty expected version instead.
TEST(ApplicationStoreTest, AnInboundDecisionThatLosesItsCompareAndSetIsAVersionConflict) {
    Fixture f;
    auto submitted = f.service->submit(vehiclePass("t.wang"), shippedCatalog(), kTeacher);
    ASSERT_EQ(submitted.outcome, Outcome::Created);
    const std::string id = submitted.application->id;
    f.db->session() << "CREATE TRIGGER freeze BEFORE UPDATE ON flows_applications BEGIN SELECT RAISE(IGNORE); END",
        now;
    auto s = f.db->session();
    s.begin();
    try {
        f.service->transitionWithin(s, id, ApplicationStatus::InReview, "approval-engine", "");
        FAIL() << "expected a VersionConflict";
    } catch (const VersionConflict& e) {
        EXPECT_EQ(e.expected(), 1);
        EXPECT_EQ(e.actual(), 1);
    }
    s.rollback();
    EXPECT_EQ(f.service->get(id).status, ApplicationStatus::Submitted);
}

// A disk that fills under submissions. A submit that throws stored nothing:
// the same key afterwards creates the application (it would replay it, had
// the failed attempt committed). Every submit that returned is still there.
// SQLite writes a small transaction's pages at COMMIT, so that is where
// SQLITE_FULL strikes here.
TEST(ApplicationStoreTest, ASubmitTheFullDiskRefusesStoresNothingAndItsKeyStaysFree) {
    if (auto why = hub::test::TmpfsMount::unavailable(); !why.empty()) GTEST_SKIP() << why;
    hub::test::TmpfsMount disk(8 << 20);
    std::string refusedKey;
    std::map<std::string, std::string> created;  // key -> application id
    {
        store::Database::Options options{disk.file("hub.db")};
        options.probeInterval = std::chrono::milliseconds(20);
        options.maxProbeInterval = std::chrono::milliseconds(200);
        store::Database db(options);
        Fixture clock;  // for its options (calendar, zone, clock)
        ApplicationService service(db, clock.options());
        recordEventsIn(service, db);
        disk.fill("filler");

        // A student's leave (a flow's item) with the longest reason allowed, so
        // the WAL's spare pages run out soon.
        ApplicationService::SubmitRequest request;
        request.subject = "2023010001";
        request.itemId = "student-leave";
        std::string reason;
        for (int i = 0; i < 500; ++i) reason += "发";
        request.formJson = R"({"leave-type":"sick","from":"2026-12-01","to":"2026-12-02","reason":")" + reason +
                           R"(","phone":"13800000000"})";
        request.startReview = true;
        for (int i = 0; i < 2000 && refusedKey.empty(); ++i) {
            request.idempotencyKey = "key-" + std::to_string(i);
            try {
                auto r = service.submit(request, shippedCatalog(), kStudent);
                if (r.outcome != Outcome::Created) {
                    ADD_FAILURE() << "outcome " << static_cast<int>(r.outcome) << ": " << r.message;
                    break;
                }
                created[*request.idempotencyKey] = r.application->id;
            } catch (const std::exception& e) {
                EXPECT_EQ(db.recordFailure(e), store::StoreFault::Full);
                refusedKey = *request.idempotencyKey;
            }
        }
        ASSERT_FALSE(refusedKey.empty()) << "the full disk never refused a submit";
        EXPECT_FALSE(db.writable());

        std::filesystem::remove(disk.file("filler"));
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!db.writable() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ASSERT_TRUE(db.writable());

        request.idempotencyKey = refusedKey;
        auto retried = service.submit(request, shippedCatalog(), kStudent);
        EXPECT_EQ(retried.outcome, Outcome::Created) << "the refused submit had been stored after all";
        for (const auto& [key, id] : created) {
            request.idempotencyKey = key;
            auto again = service.submit(request, shippedCatalog(), kStudent);
            EXPECT_EQ(again.outcome, Outcome::Replayed) << key;
            ASSERT_TRUE(again.application);
            EXPECT_EQ(again.application->id, id);
            EXPECT_EQ(again.application->status, ApplicationStatus::InReview);
        }
        const auto stored = static_cast<std::int64_t>(created.size() + 1);
        EXPECT_EQ(test::countRows(db, "flows_applications"), stored);
        EXPECT_EQ(test::countRows(db, "flows_idempotency"), stored);
        EXPECT_EQ(test::countRows(db, "flows_transitions"), 2 * stored);
        EXPECT_EQ(test::countRows(db, "test_outbox"), 2 * stored);  // the events went with their changes
    }
}

}  // namespace
}  // namespace hub::flows
