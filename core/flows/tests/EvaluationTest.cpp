// The hall's figures from real applications moved through the service with a
// test clock: working days across the National Day holidays and a make-up
// Saturday, nearest-rank median and p90, overdue (decided late, or open past
// due), cancelled ones left out, the hall's zone for dates, ISO weeks, ratings.
#include "FlowsTestSupport.h"

#include "hub/flows/Evaluation.h"

#include <gtest/gtest.h>

namespace hub::flows::test {
namespace {

using Date = Evaluation::Date;

Date date(const char* text) { return *catalog::WorkingCalendar::parseDate(text); }

class EvaluationTest : public ::testing::Test {
protected:
    // Submitted at `atUtc` (the hall is UTC+8), then moved at `closeUtc` to `to`.
    std::string application(const std::string& atUtc, std::optional<ApplicationStatus> to = {},
                            const std::string& closeUtc = {}) {
        f.clock->set(atUtc);
        auto result = f.service->submit(vehiclePass("T1998001"), shippedCatalog(), *catalog::AudienceSet::parse("staff"));
        EXPECT_EQ(result.outcome, ApplicationService::SubmitResult::Outcome::Created) << result.message;
        std::string id = result.application->id;
        if (to) {
            f.clock->set(closeUtc);
            if (*to == ApplicationStatus::Cancelled)
                f.service->cancel(id, "T1998001", "");
            else
                f.service->transition(id, *to, "clerk.bwc", *to == ApplicationStatus::Rejected ? "照片不清晰" : "");
        }
        return id;
    }

    Fixture f;
    Evaluation evaluation{*f.db, shippedCalendar(), 8 * 3600};
};

TEST_F(EvaluationTest, FiguresPerDepartmentAndMonth) {
    // Wednesday 30 September, 01:00 in the hall (still the 29th in UTC); due 13 October
    // (1-7 October are holidays, Saturday the 10th is a make-up working day).
    const std::string early = application("2026-09-29T17:00:00Z", ApplicationStatus::Completed, "2026-10-09T02:00:00Z");
    const std::string late = application("2026-09-30T02:00:00Z", ApplicationStatus::Rejected, "2026-10-16T02:00:00Z");
    application("2026-09-30T03:00:00Z", ApplicationStatus::Cancelled, "2026-09-30T04:00:00Z");
    application("2026-09-30T04:00:00Z");  // still open on the 20th: overdue
    ASSERT_EQ(evaluation.rate(early, "T1998001", 4, "快"), Evaluation::RateOutcome::Stored);
    ASSERT_EQ(evaluation.rate(late, "T1998001", 2, ""), Evaluation::RateOutcome::Stored);
    EXPECT_EQ(evaluation.rate(late, "T1998001", 5, "again"), Evaluation::RateOutcome::AlreadyRated);
    EXPECT_EQ(evaluation.rating(late)->score, 2);
    EXPECT_THROW(evaluation.rate(late, "T1998001", 0, ""), InvalidRequest);

    Evaluation::Query q;
    q.by = Evaluation::By::Department;
    q.period = Evaluation::Period::Month;
    q.from = date("2026-09-01");
    q.to = date("2026-10-31");
    q.today = date("2026-10-20");
    auto rows = evaluation.figures(q);
    ASSERT_EQ(rows.size(), 1u);
    const auto& r = rows[0];
    EXPECT_EQ(r.period, "2026-09");
    EXPECT_EQ(r.key, "security");
    EXPECT_EQ(r.volume, 4u);
    EXPECT_EQ(r.closed, 2u);
    EXPECT_EQ(r.medianDays, 2.0);  // 8 and 9 October
    EXPECT_EQ(r.p90Days, 8.0);     // 8, 9, 10 (Saturday, worked), 12-16 October
    EXPECT_EQ(r.overdue, 2u);      // decided on the 16th, and the open one
    EXPECT_NEAR(r.overdueRate, 2.0 / 3.0, 1e-9);  // the cancelled one does not count
    EXPECT_EQ(r.meanSatisfaction, 3.0);
    EXPECT_EQ(r.ratings, 2u);

    // Before the due date nothing open is late yet.
    q.today = date("2026-10-12");
    EXPECT_EQ(evaluation.figures(q)[0].overdue, 1u);
}

TEST_F(EvaluationTest, DaysAndWeeksAreTheHallsAndOnlyTheRangeAndDepartmentsAsked) {
    application("2026-09-29T17:00:00Z");  // 30 September in the hall
    application("2026-10-08T02:00:00Z");
    Evaluation::Query q;
    q.by = Evaluation::By::Item;
    q.period = Evaluation::Period::Day;
    q.from = date("2026-09-30");
    q.to = date("2026-09-30");
    q.today = date("2026-09-30");
    auto days = evaluation.figures(q);
    ASSERT_EQ(days.size(), 1u);
    EXPECT_EQ(days[0].period, "2026-09-30");
    EXPECT_EQ(days[0].key, "vehicle-pass");
    EXPECT_FALSE(days[0].medianDays);
    EXPECT_FALSE(days[0].meanSatisfaction);

    q.period = Evaluation::Period::Week;
    q.to = date("2026-10-31");
    auto weeks = evaluation.figures(q);
    ASSERT_EQ(weeks.size(), 2u);
    EXPECT_EQ(weeks[0].period, "2026-09-28");  // the Monday of 30 September's week
    EXPECT_EQ(weeks[1].period, "2026-10-05");  // of 8 October's

    q.departments = {"library"};
    EXPECT_TRUE(evaluation.figures(q).empty());
    q.departments = {"security"};
    EXPECT_EQ(evaluation.figures(q).size(), 2u);

    q.to = date("2026-09-01");
    EXPECT_THROW(evaluation.figures(q), InvalidRequest);
    q.from = date("2020-01-01");
    q.to = date("2026-01-01");
    EXPECT_THROW(evaluation.figures(q), InvalidRequest);
}

}  // namespace
}  // namespace hub::flows::test
