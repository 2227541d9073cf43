#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace hub::catalog {

/// Working days for the hall's published time limits: Monday to Friday,
/// minus public holidays, plus make-up working days (调休: weekends that are
/// working days in China). Years the calendar file does not cover fall back
/// to plain Monday-Friday; covers() tells which years are known.
///
/// Immutable after loading; safe to share between threads.
class WorkingCalendar {
public:
    using Date = std::chrono::year_month_day;

    /// Outcome of a time limit.
    struct Due {
        Date dueDate;   ///< The last day the work may be finished on.
        bool overdue;   ///< `today` is after dueDate.
    };

    /// Plain Monday-Friday, no holidays.
    WorkingCalendar() = default;

    /// Loads config/calendar/calendar.xml-style files validated by their XSD
    /// (`xsdPath` empty = calendar.xsd beside the file). Throws
    /// CatalogException naming file, line and field.
    static WorkingCalendar fromFile(const std::string& path, const std::string& xsdPath = {});

    bool isWorkingDay(Date date) const;

    /// The n-th working day after `start` (start itself never counts, so an
    /// item with a 1-day limit submitted on Friday is due on Monday). n = 0
    /// returns start. n must be >= 0.
    Date addWorkingDays(Date start, int n) const;

    /// Working days d with from < d <= to; negative when to < from.
    int workingDaysBetween(Date from, Date to) const;

    /// Due date of an application submitted on `submitted` with a limit of
    /// `limitDays` working days, and whether it is overdue on `today`.
    Due due(Date submitted, int limitDays, Date today) const;

    /// Whether the calendar file lists this year's holidays.
    bool covers(int year) const { return years_.count(year) != 0; }

    /// The holiday's name (zh) when `date` is a listed holiday.
    std::optional<std::string> holidayName(Date date) const;

    /// "YYYY-MM-DD" <-> Date; parseDate returns nullopt for anything else or an impossible date.
    static std::optional<Date> parseDate(std::string_view text);
    static std::string formatDate(Date date);
    /// Today's date in the local time zone.
    static Date today();

private:
    std::set<int> years_;
    std::map<int, std::string> holidays_;  // sys_days count -> name
    std::set<int> workdays_;               // sys_days count of make-up working days
};

}  // namespace hub::catalog
