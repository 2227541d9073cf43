#pragma once

#include "hub/catalog/WorkingCalendar.h"
#include "hub/store/Database.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hub::flows {

/// The hall's figures, by which the programme is judged: satisfaction ratings
/// of closed applications, and per item or department, per day, week or month,
/// the volume, the time to complete in working days, the overdue rate and the
/// mean satisfaction.
///
/// Ratings live in table flows_ratings (schema module "flows_ratings", apart
/// from "flows" so its steps never collide with the applications'), one row
/// per application: an applicant rates once. The figures are computed from
/// flows_applications and flows_ratings in one read transaction, in memory
/// (one pass over the applications submitted in the range; a hall takes
/// thousands a month, not millions).
///
/// Thread-safe; the store does the locking.
class Evaluation {
public:
    using Date = catalog::WorkingCalendar::Date;

    /// The schema steps of module "flows_ratings".
    static const std::vector<store::Migration>& migrations();

    /// Applies the migrations to db (which, like calendar, must outlive this).
    /// utcOffsetSeconds: the hall's zone, for the dates of stored UTC times.
    Evaluation(store::Database& db, const catalog::WorkingCalendar& calendar, int utcOffsetSeconds);

    /// What rate() did.
    enum class RateOutcome {
        Stored,        ///< Saved (HTTP 201).
        AlreadyRated,  ///< This application has its rating already (HTTP 409); nothing changed.
    };
    /// Stores the applicant's rating of a closed application: score 1..5,
    /// comment at most 2000 bytes of UTF-8 (checked by the caller). The caller
    /// checks that applicant is the application's and that it is closed.
    RateOutcome rate(const std::string& applicationId, const std::string& applicant, int score,
                     const std::string& comment);

    /// A rating as stored.
    struct Rating {
        int score = 0;
        std::string comment;
        std::string ratedAt;  ///< UTC, ISO 8601.
    };
    std::optional<Rating> rating(const std::string& applicationId);

    enum class By { Item, Department };
    enum class Period { Day, Week, Month };
    struct Query {
        By by = By::Item;
        Period period = Period::Month;
        Date from;  ///< First day, in the hall's zone (submission date).
        Date to;    ///< Last day, included.
        /// Only these departments; empty: every department.
        std::vector<std::string> departments;
        Date today;  ///< For "open and past due".
    };
    /// One (period, item or department) bucket.
    struct Row {
        std::string period;  ///< "2026-12-06", the Monday "2026-11-30" of an ISO week, or "2026-12".
        std::string key;     ///< The item id or the department id.
        std::string department;  ///< The department (the key itself when by department).
        std::size_t volume = 0;  ///< Submitted in the period.
        std::size_t closed = 0;  ///< Of those, completed or rejected (a decision was made).
        std::optional<double> medianDays;  ///< Working days from submission to decision; nearest rank.
        std::optional<double> p90Days;     ///< The 90th percentile of the same, nearest rank.
        std::size_t overdue = 0;  ///< Decided after the due date, or still open past it.
        double overdueRate = 0;   ///< overdue / (volume - cancelled); 0 when nothing counts.
        std::optional<double> meanSatisfaction;  ///< Of the ratings given.
        std::size_t ratings = 0;
    };
    /// Rows ordered by period, then key. Throws InvalidRequest when to < from
    /// or the range is longer than 3 years.
    std::vector<Row> figures(const Query& query);

    /// "YYYY-MM-DD" in the hall's zone of a stored UTC time ("...T...Z"); nullopt when malformed.
    std::optional<Date> hallDate(const std::string& utcTimestamp) const;

private:
    store::Database& db_;
    const catalog::WorkingCalendar& calendar_;
    int utcOffsetSeconds_;
};

}  // namespace hub::flows
