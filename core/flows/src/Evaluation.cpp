// The hall's figures: ratings, and per item or department and period the
// volume, time to complete, overdue rate and satisfaction.
#include "hub/flows/Evaluation.h"

#include "hub/flows/ApplicationStatus.h"
#include "hub/flows/FlowException.h"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Statement.h>
#include <Poco/Data/Transaction.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <cmath>
#include <map>

using namespace Poco::Data::Keywords;

namespace hub::flows {

namespace {

using Date = Evaluation::Date;

std::string periodOf(Date d, Evaluation::Period period) {
    using namespace std::chrono;
    switch (period) {
    case Evaluation::Period::Day: return catalog::WorkingCalendar::formatDate(d);
    case Evaluation::Period::Week: {
        // ISO weeks start on Monday; a week is named by its Monday.
        sys_days day{d};
        weekday wd{day};
        auto monday = day - days{(wd.c_encoding() + 6) % 7};
        return catalog::WorkingCalendar::formatDate(Date{monday});
    }
    case Evaluation::Period::Month: return catalog::WorkingCalendar::formatDate(d).substr(0, 7);
    }
    return {};
}

// Nearest rank (the smallest value with at least p of the values at or below it).
double nearestRank(const std::vector<int>& sorted, double p) {
    auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

struct Bucket {
    Evaluation::Row row;
    std::vector<int> days;
    std::size_t counted = 0;  // not cancelled
    long scoreSum = 0;
};

}  // namespace

const std::vector<store::Migration>& Evaluation::migrations() {
    static const std::vector<store::Migration> steps = {
        {1,
         {// One rating per application, by its applicant, once it is closed.
          "CREATE TABLE flows_ratings ("
          " application_id TEXT PRIMARY KEY,"
          " applicant TEXT NOT NULL,"
          " score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),"
          " comment TEXT NOT NULL,"
          " rated_at TEXT NOT NULL)"}}};
    return steps;
}

Evaluation::Evaluation(store::Database& db, const catalog::WorkingCalendar& calendar, int utcOffsetSeconds)
    : db_(db), calendar_(calendar), utcOffsetSeconds_(utcOffsetSeconds) {
    db_.migrate("flows_ratings", migrations());
}

Evaluation::RateOutcome Evaluation::rate(const std::string& applicationId, const std::string& applicant, int score,
                                         const std::string& comment) {
    if (score < 1 || score > 5) throw InvalidRequest("'score' must be an integer from 1 to 5");
    Poco::Data::Session s = db_.session();
    std::string id = applicationId, who = applicant, text = comment;
    std::string at = Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%S.%iZ");
    Poco::Data::Transaction tx(s, true);
    // A conflict does nothing, and the count says so: a second rating, even a
    // concurrent one, changes nothing (the upsert syntax SQLite and PostgreSQL share).
    Poco::Data::Statement insert(s);
    insert << store::sql(s,
                         "INSERT INTO flows_ratings (application_id, applicant, score, comment, rated_at)"
                         " VALUES (?, ?, ?, ?, ?) ON CONFLICT (application_id) DO NOTHING"),
        use(id), use(who), use(score), use(text), use(at);
    std::size_t inserted = insert.execute();
    tx.commit();
    return inserted == 1 ? RateOutcome::Stored : RateOutcome::AlreadyRated;
}

std::optional<Evaluation::Rating> Evaluation::rating(const std::string& applicationId) {
    Poco::Data::Session s = db_.session();
    std::string id = applicationId;
    Poco::Data::Statement select(s);
    select << store::sql(s, "SELECT score, comment, rated_at FROM flows_ratings WHERE application_id = ?"), use(id),
        now;
    Poco::Data::RecordSet rs(select);
    if (rs.rowCount() == 0) return std::nullopt;
    return Rating{rs.value(0, 0).convert<int>(), rs.value(1, 0).convert<std::string>(),
                  rs.value(2, 0).convert<std::string>()};
}

std::optional<Date> Evaluation::hallDate(const std::string& utcTimestamp) const {
    Poco::DateTime parsed;
    int tzd = 0;
    if (utcTimestamp.empty() || !Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, utcTimestamp, parsed, tzd))
        return std::nullopt;
    std::int64_t local = static_cast<std::int64_t>(parsed.timestamp().epochTime()) - tzd + utcOffsetSeconds_;
    std::int64_t days = local / 86400;
    if (local % 86400 < 0) --days;
    return Date{std::chrono::sys_days{std::chrono::days{days}}};
}

std::vector<Evaluation::Row> Evaluation::figures(const Query& query) {
    using namespace std::chrono;
    if (sys_days{query.to} < sys_days{query.from}) throw InvalidRequest("'to' is before 'from'");
    if (sys_days{query.to} - sys_days{query.from} > days{3 * 366})
        throw InvalidRequest("the range is longer than 3 years");

    // Stored times are UTC: a day more on each side, then each row by its hall date.
    std::string lower = catalog::WorkingCalendar::formatDate(Date{sys_days{query.from} - days{1}});
    std::string upper = catalog::WorkingCalendar::formatDate(Date{sys_days{query.to} + days{2}});
    Poco::Data::Session s = db_.session();
    Poco::Data::Transaction tx(s, true);
    Poco::Data::Statement select(s);
    // A closed application changes no more: its updated_at is when it was
    // decided (completed_at is set for completed ones only).
    select << store::sql(
        s,
        "SELECT a.item_id, a.department, a.status, a.submitted_at, a.updated_at, a.due_date,"
        " COALESCE(r.score, 0) FROM flows_applications a LEFT JOIN flows_ratings r ON r.application_id = a.id"
        " WHERE a.submitted_at >= ? AND a.submitted_at < ?"),
        use(lower), use(upper), now;
    Poco::Data::RecordSet rs(select);
    tx.commit();

    std::map<std::pair<std::string, std::string>, Bucket> buckets;
    for (std::size_t i = 0; i < rs.rowCount(); ++i) {
        auto text = [&](std::size_t col) { return rs.value(col, i).convert<std::string>(); };
        std::string department = text(1);
        if (!query.departments.empty() &&
            std::find(query.departments.begin(), query.departments.end(), department) == query.departments.end())
            continue;
        auto submitted = hallDate(text(3));
        if (!submitted || sys_days{*submitted} < sys_days{query.from} || sys_days{*submitted} > sys_days{query.to})
            continue;
        std::string key = query.by == By::Item ? text(0) : department;
        Bucket& b = buckets[{periodOf(*submitted, query.period), key}];
        b.row.key = key;
        b.row.department = department;
        ++b.row.volume;
        auto status = parseApplicationStatus(text(2));
        auto closedOn = hallDate(text(4));
        auto due = catalog::WorkingCalendar::parseDate(text(5));
        bool decided = status == ApplicationStatus::Completed || status == ApplicationStatus::Rejected;
        if (status != ApplicationStatus::Cancelled) {
            ++b.counted;
            // Late: decided after the due date, or still open past it today.
            Date reference = decided && closedOn ? *closedOn : query.today;
            if (due && (decided || !isTerminal(*status)) && sys_days{reference} > sys_days{*due}) ++b.row.overdue;
        }
        if (decided && closedOn) {
            ++b.row.closed;
            b.days.push_back(std::max(0, calendar_.workingDaysBetween(*submitted, *closedOn)));
        }
        if (int score = rs.value(6, i).convert<int>(); score > 0) {
            ++b.row.ratings;
            b.scoreSum += score;
        }
    }

    std::vector<Row> rows;
    rows.reserve(buckets.size());
    for (auto& [where, b] : buckets) {
        b.row.period = where.first;
        if (!b.days.empty()) {
            std::sort(b.days.begin(), b.days.end());
            b.row.medianDays = nearestRank(b.days, 0.5);
            b.row.p90Days = nearestRank(b.days, 0.9);
        }
        b.row.overdueRate = b.counted ? static_cast<double>(b.row.overdue) / static_cast<double>(b.counted) : 0.0;
        if (b.row.ratings)
            b.row.meanSatisfaction = static_cast<double>(b.scoreSum) / static_cast<double>(b.row.ratings);
        rows.push_back(std::move(b.row));
    }
    return rows;
}

}  // namespace hub::flows
