// Retention and the personal-data export on the run's backend (the pg: run:
// PostgreSQL): an expired application goes with its rows, a held one stays,
// each run keeps its own report row.
#include "FlowsTestSupport.h"

#include "hub/flows/Evaluation.h"
#include "hub/flows/PersonalData.h"
#include "hub/flows/Retention.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>

#include <gtest/gtest.h>

#include <memory>

namespace hub::flows {
namespace {

using test::Fixture;
using test::kTeacher;
using test::shippedCatalog;
using test::vehiclePass;

std::chrono::system_clock::time_point utc(const std::string& iso) {
    int tzd = 0;
    auto parsed = Poco::DateTimeParser::parse(Poco::DateTimeFormat::ISO8601_FORMAT, iso, tzd);
    return std::chrono::system_clock::from_time_t(parsed.timestamp().epochTime());
}

std::int64_t rowsOf(store::Database& db, const std::string& table, const std::string& applicationId) {
    Poco::Data::Session s = db.session();
    Poco::Int64 n = 0;
    std::string id = applicationId;
    s << db.sql("SELECT COUNT(*) FROM " + table + " WHERE application_id = ?"), Poco::Data::Keywords::use(id),
        Poco::Data::Keywords::into(n), Poco::Data::Keywords::now;
    return n;
}

// Two hubs on one store, each with its retention schedule: in an interval only
// the one holding the lease runs; it keeps its turn; when it stops (its
// Retention goes, releasing the lease) the other runs.
TEST(RetentionTest, AScheduledRunIsOneHubsAtATime) {
    Fixture first;
    Fixture second("2026-09-30T02:00:00Z", first.storeOptions);
    RetentionPolicy policy;
    policy.applicationsDays = 1;
    auto one = std::make_unique<Retention>(*first.db, policy);
    Retention other(*second.db, policy);
    ASSERT_NE(first.db->nodeId(), second.db->nodeId());
    const auto interval = std::chrono::hours(24);
    auto report = one->runScheduled("hub", interval);
    ASSERT_TRUE(report);
    EXPECT_EQ(report->actor, "hub");
    EXPECT_FALSE(other.runScheduled("hub", interval)) << "the other hub's turn is not now";
    EXPECT_TRUE(one->runScheduled("hub", interval)) << "the holder keeps its turn";
    one.reset();
    EXPECT_TRUE(other.runScheduled("hub", interval)) << "the lease went with the first hub's schedule";
    EXPECT_EQ(other.reports(10).size(), 3u) << "three runs stored, one report each";
}

TEST(RetentionTest, AnExpiredApplicationGoesWithItsRowsAHeldOneStaysAndEachRunKeepsItsReport) {
    Fixture f;  // the clock: 2026-09-30
    Evaluation evaluation(*f.db, test::shippedCalendar(), 8 * 3600);
    const std::string open = f.service->submit(vehiclePass("t.wang", "京A00001"), shippedCatalog(), kTeacher).application->id;
    const std::string expired =
        f.service->submit(vehiclePass("t.wang", "京A00002"), shippedCatalog(), kTeacher).application->id;
    const std::string held = f.service->submit(vehiclePass("t.wang", "京A00003"), shippedCatalog(), kTeacher).application->id;
    for (const auto& id : {expired, held}) f.service->transition(id, ApplicationStatus::Cancelled, "t.wang", "no longer needed");
    ASSERT_EQ(evaluation.rate(expired, "t.wang", 4, "快"), Evaluation::RateOutcome::Stored);
    ASSERT_EQ(evaluation.rate(expired, "t.wang", 2, "again"), Evaluation::RateOutcome::AlreadyRated);

    RetentionPolicy policy;
    policy.applicationsDays = 1;
    policy.auditDays = policy.eventsDays = policy.departedPersonsDays = policy.deadLettersDays = 0;
    Retention retention(*f.db, policy);
    EXPECT_FALSE(retention.hold("no-such-application", "audit", "admin"));
    ASSERT_TRUE(retention.hold(held, "a court case", "admin"));
    ASSERT_TRUE(retention.hold(held, "a court case, still", "admin"));  // the upsert
    EXPECT_EQ(retention.holdOf(held)->reason, "a court case, still");

    // The personal-data export before: all three, and the rating.
    const std::string before = personalDataJson(*f.service, *f.db, "t.wang");
    for (const auto& id : {open, expired, held}) EXPECT_NE(before.find(id), std::string::npos) << id;
    EXPECT_NE(before.find("\"score\":4"), std::string::npos) << before;

    auto first = retention.run("admin", utc("2026-10-05T00:00:00Z"));
    ASSERT_EQ(first.kinds.front().name, "applications");
    EXPECT_EQ(first.kinds.front().deleted, 1);
    EXPECT_EQ(first.heldKept, 1);
    EXPECT_FALSE(f.service->find(expired));
    EXPECT_EQ(rowsOf(*f.db, "flows_transitions", expired), 0);
    EXPECT_EQ(rowsOf(*f.db, "flows_ratings", expired), 0);
    EXPECT_TRUE(f.service->find(held));
    EXPECT_TRUE(f.service->find(open));  // not finished: kept whatever its age

    auto second = retention.run("admin", utc("2026-10-05T00:00:00Z"));
    EXPECT_EQ(second.kinds.front().deleted, 0);
    EXPECT_GT(second.id, first.id);
    auto reports = retention.reports(5);
    ASSERT_EQ(reports.size(), 2u);
    EXPECT_NE(reports[0].find("\"id\":" + std::to_string(second.id)), std::string::npos) << reports[0];
    EXPECT_NE(reports[1].find("\"id\":" + std::to_string(first.id)), std::string::npos) << reports[1];

    // Released, the held one goes on the next run.
    EXPECT_TRUE(retention.release(held));
    EXPECT_FALSE(retention.release(held));
    EXPECT_EQ(retention.run("admin", utc("2026-10-05T00:00:00Z")).kinds.front().deleted, 1);
    EXPECT_FALSE(f.service->find(held));
    const std::string after = personalDataJson(*f.service, *f.db, "t.wang");
    EXPECT_NE(after.find(open), std::string::npos);
    EXPECT_EQ(after.find(expired), std::string::npos);
    EXPECT_EQ(after.find("\"score\""), std::string::npos) << after;
}

}  // namespace
}  // namespace hub::flows
