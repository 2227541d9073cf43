#include "TestSupport.h"
#include "hub/catalog/CatalogException.h"
#include "hub/catalog/WorkingCalendar.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace hub::catalog;
using Date = WorkingCalendar::Date;

namespace {

Date d(const char* text) {
    auto date = WorkingCalendar::parseDate(text);
    if (!date) throw std::invalid_argument(text);
    return *date;
}

const WorkingCalendar& shipped() {
    static WorkingCalendar calendar = WorkingCalendar::fromFile((test::configDir() / "calendar" / "calendar.xml").string());
    return calendar;
}

}  // namespace

TEST(WorkingCalendar, ParsesAndFormatsDates) {
    EXPECT_EQ(WorkingCalendar::formatDate(d("2026-02-28")), "2026-02-28");
    EXPECT_FALSE(WorkingCalendar::parseDate("2026-02-29"));  // not a leap year
    EXPECT_TRUE(WorkingCalendar::parseDate("2028-02-29"));
    EXPECT_FALSE(WorkingCalendar::parseDate("2026-13-01"));
    EXPECT_FALSE(WorkingCalendar::parseDate("2026-1-01"));
    EXPECT_FALSE(WorkingCalendar::parseDate("2026-01-01Z"));
    EXPECT_FALSE(WorkingCalendar::parseDate(""));
    EXPECT_FALSE(WorkingCalendar::parseDate("２０２６-01-01"));
}

TEST(WorkingCalendar, ShippedCalendarCoversTwoYears) {
    EXPECT_TRUE(shipped().covers(2026));
    EXPECT_TRUE(shipped().covers(2027));
    EXPECT_FALSE(shipped().covers(2028));
    EXPECT_EQ(shipped().holidayName(d("2026-10-03")), "国庆节");
}

TEST(WorkingCalendar, SpringFestival2026WithMakeUpDays) {
    const auto& cal = shipped();
    EXPECT_TRUE(cal.isWorkingDay(d("2026-02-13")));   // Friday
    EXPECT_TRUE(cal.isWorkingDay(d("2026-02-14")));   // Saturday, 调休 make-up day
    for (const char* day : {"2026-02-15", "2026-02-16", "2026-02-17", "2026-02-20", "2026-02-23"}) {
        EXPECT_FALSE(cal.isWorkingDay(d(day))) << day;
    }
    EXPECT_TRUE(cal.isWorkingDay(d("2026-02-24")));
    EXPECT_TRUE(cal.isWorkingDay(d("2026-02-28")));   // Saturday, make-up day
    EXPECT_FALSE(cal.isWorkingDay(d("2026-03-01")));  // ordinary Sunday

    // Submitted on Friday 13th with a 1-day limit: due on the make-up Saturday.
    EXPECT_EQ(cal.addWorkingDays(d("2026-02-13"), 1), d("2026-02-14"));
    // Submitted on the make-up Saturday: the next working day is after the festival.
    EXPECT_EQ(cal.addWorkingDays(d("2026-02-14"), 1), d("2026-02-24"));
    // Submitted during the festival: counting starts after it.
    EXPECT_EQ(cal.addWorkingDays(d("2026-02-17"), 3), d("2026-02-26"));
    EXPECT_EQ(cal.addWorkingDays(d("2026-02-17"), 5), d("2026-02-28"));
    EXPECT_EQ(cal.workingDaysBetween(d("2026-02-13"), d("2026-02-24")), 2);  // 14th and 24th
    EXPECT_EQ(cal.workingDaysBetween(d("2026-02-24"), d("2026-02-13")), -2);
}

TEST(WorkingCalendar, NationalDayWeek2026) {
    const auto& cal = shipped();
    EXPECT_TRUE(cal.isWorkingDay(d("2026-09-20")));  // Sunday make-up day
    EXPECT_FALSE(cal.isWorkingDay(d("2026-09-25"))); // Mid-Autumn, Friday
    for (int day = 1; day <= 7; ++day) {
        EXPECT_FALSE(cal.isWorkingDay(Date{std::chrono::year(2026), std::chrono::October, std::chrono::day(static_cast<unsigned>(day))}));
    }
    EXPECT_TRUE(cal.isWorkingDay(d("2026-10-08")));
    EXPECT_TRUE(cal.isWorkingDay(d("2026-10-10")));  // Saturday make-up day
    EXPECT_EQ(cal.addWorkingDays(d("2026-09-30"), 1), d("2026-10-08"));
    EXPECT_EQ(cal.addWorkingDays(d("2026-09-30"), 3), d("2026-10-10"));
    EXPECT_EQ(cal.addWorkingDays(d("2026-09-30"), 4), d("2026-10-12"));
    // A 5-working-day item submitted on Monday before the holiday: Sep 29,
    // Sep 30, Oct 8, Oct 9 and the make-up Saturday Oct 10.
    auto due = cal.due(d("2026-09-28"), 5, d("2026-10-09"));
    EXPECT_EQ(due.dueDate, d("2026-10-10"));
    EXPECT_FALSE(due.overdue);
    EXPECT_FALSE(cal.due(d("2026-09-28"), 5, d("2026-10-10")).overdue);
    EXPECT_TRUE(cal.due(d("2026-09-28"), 5, d("2026-10-11")).overdue);
}

TEST(WorkingCalendar, DueDatesAndOverdue) {
    const auto& cal = shipped();
    // Ordinary week: Friday + 1 working day = Monday.
    EXPECT_EQ(cal.addWorkingDays(d("2026-03-06"), 1), d("2026-03-09"));
    EXPECT_EQ(cal.addWorkingDays(d("2026-03-06"), 0), d("2026-03-06"));
    EXPECT_THROW(cal.addWorkingDays(d("2026-03-06"), -1), std::invalid_argument);
    auto due = cal.due(d("2026-03-06"), 3, d("2026-03-11"));
    EXPECT_EQ(due.dueDate, d("2026-03-11"));
    EXPECT_FALSE(due.overdue);  // the due day itself is still in time
    EXPECT_TRUE(cal.due(d("2026-03-06"), 3, d("2026-03-12")).overdue);
    // Across the new year into the provisional 2027 calendar and beyond it.
    EXPECT_EQ(cal.addWorkingDays(d("2026-12-31"), 1), d("2027-01-04"));
    EXPECT_EQ(cal.addWorkingDays(d("2027-12-31"), 1), d("2028-01-03"));  // plain Mon-Fri in 2028
    // The whole of 2026: 261 weekdays - 19 weekday holidays + 6 make-up days.
    EXPECT_EQ(cal.workingDaysBetween(d("2025-12-31"), d("2026-12-31")), 248);
}

TEST(WorkingCalendar, DefaultIsMondayToFriday) {
    WorkingCalendar plain;
    EXPECT_TRUE(plain.isWorkingDay(d("2026-10-01")));
    EXPECT_FALSE(plain.isWorkingDay(d("2026-10-03")));
    EXPECT_EQ(plain.workingDaysBetween(d("2026-03-01"), d("2026-03-31")), 22);
}

TEST(WorkingCalendar, BadCalendarFilesAreRefusedWithPlace) {
    test::TempDir dir;
    std::filesystem::copy_file(test::configDir() / "calendar" / "calendar.xsd", dir.path() / "calendar.xsd");
    auto errorsOf = [&](const std::string& xml) {
        auto path = dir.write("calendar.xml", xml);
        try {
            WorkingCalendar::fromFile(path);
        } catch (const CatalogException& e) {
            return e.errors();
        }
        ADD_FAILURE() << "accepted: " << xml;
        return std::vector<hub::xml::Error>{};
    };
    auto e1 = errorsOf(R"(<calendar version="1">
  <year value="2026" status="official">
    <holiday from="2026-02-30" zh="错" en="Bad"/>
  </year>
</calendar>)");
    ASSERT_FALSE(e1.empty());
    EXPECT_EQ(e1[0].line, 3);
    EXPECT_NE(e1[0].message.find("from"), std::string::npos) << e1[0].message;
    auto e2 = errorsOf(R"(<calendar version="1">
  <year value="2026" status="official">
    <holiday from="2027-01-01" zh="错年" en="Wrong year"/>
    <workday date="2026-03-04" zh="周三" en="A Wednesday"/>
  </year>
</calendar>)");
    ASSERT_EQ(e2.size(), 2u);
    EXPECT_EQ(e2[0].line, 3);
    EXPECT_NE(e2[0].message.find("outside year 2026"), std::string::npos);
    EXPECT_EQ(e2[1].line, 4);
    EXPECT_NE(e2[1].message.find("weekday"), std::string::npos);
    auto e3 = errorsOf(R"(<calendar version="1"><year value="2026" status="maybe"/></calendar>)");
    ASSERT_FALSE(e3.empty());
    EXPECT_NE(e3[0].message.find("status"), std::string::npos);
    auto e4 = errorsOf("<!DOCTYPE c [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><calendar>&x;</calendar>");
    ASSERT_FALSE(e4.empty());
}
