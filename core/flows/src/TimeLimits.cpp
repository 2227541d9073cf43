// Time limits: "now" and "today" by the configured clock in the hall's zone,
// and whether an application is past its due date (counted in working days of
// the calendar when it was submitted, see ApplicationSubmit.cpp).
#include "hub/flows/ApplicationService.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Timezone.h>

#include <chrono>
#include <cstdint>

namespace hub::flows {

Poco::Timestamp ApplicationService::currentTime() const {
    return options_.clock ? options_.clock() : Poco::Timestamp();
}

catalog::WorkingCalendar::Date ApplicationService::dateOf(const Poco::Timestamp& timestamp) const {
    const std::int64_t offset = options_.utcOffsetSeconds ? *options_.utcOffsetSeconds : Poco::Timezone::tzd();
    const std::int64_t local = static_cast<std::int64_t>(timestamp.epochTime()) + offset;
    std::int64_t days = local / 86400;
    if (local % 86400 < 0) --days;
    return catalog::WorkingCalendar::Date{std::chrono::sys_days{std::chrono::days{days}}};
}

catalog::WorkingCalendar::Date ApplicationService::today() const {
    return dateOf(currentTime());
}

void ApplicationService::fillOverdue(Application& a) const {
    auto due = catalog::WorkingCalendar::parseDate(a.dueDate);
    if (!due) {
        a.overdue = false;
        return;
    }
    // Open applications are late once today is past the due date; closed ones
    // were late if they were closed after it (kept for the hall's statistics).
    catalog::WorkingCalendar::Date reference = today();
    if (isTerminal(a.status) && !a.transitions.empty()) {
        int tzd = 0;
        Poco::DateTime closed;
        if (Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, a.transitions.back().at, closed,
                                           tzd)) {
            reference = dateOf(closed.timestamp());
        }
    }
    a.overdue = std::chrono::sys_days{reference} > std::chrono::sys_days{*due};
}

}  // namespace hub::flows
