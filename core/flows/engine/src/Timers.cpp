#include "Timers.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace hub::flows::engine::detail {

namespace {

// A timer text as the modeler writes it: "PT15M", or "=\"PT15M\"" (a FEEL
// string literal); any other FEEL is refused (timers are fixed per version).
std::string unwrap(std::string text, std::string& error) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(0, 1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (!text.empty() && text.front() == '=') {
        std::string rest = text.substr(1);
        while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
        if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"' &&
            rest.find('"', 1) == rest.size() - 1)
            return rest.substr(1, rest.size() - 2);
        error = "a timer is an ISO 8601 text (PT15M, P3D, 2026-10-01T09:00:00+08:00), not an expression";
        return {};
    }
    return text;
}

}  // namespace

std::string parseTimer(const std::string& raw, bool isDate, bool workingDays, TimerDefinition& timer) {
    std::string error;
    std::string text = unwrap(raw, error);
    if (!error.empty()) return error;
    timer.text = text;
    timer.isDate = isDate;
    timer.workingDayCalendar = workingDays;
    if (isDate) {
        if (workingDays) return "calendar=working-days applies to durations, not to a timeDate";
        const bool zoned = !text.empty() && (text.back() == 'Z' ||
                                             (text.size() > 6 && (text[text.size() - 6] == '+' || text[text.size() - 6] == '-') &&
                                              text[text.size() - 3] == ':'));
        if (!zoned) return "timeDate '" + text + "' needs a time zone (Z or +08:00)";
        try {
            int tzd = 0;
            Poco::DateTime parsed;
            if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, text, parsed, tzd) &&
                !Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FORMAT, text, parsed, tzd))
                return "timeDate '" + text + "' is not an ISO 8601 date-time";
            parsed.makeUTC(tzd);
            timer.dateMs = parsed.timestamp().epochMicroseconds() / 1000;
        } catch (const Poco::Exception&) {
            return "timeDate '" + text + "' is not an ISO 8601 date-time";
        }
        return {};
    }
    // PnW, or P[nD][T[nH][nM][n[.f]S]]; years and months have no fixed length.
    const std::string bad = "timeDuration '" + text + "' is not an ISO 8601 duration (PT15M, P3D, P1DT12H, P2W)";
    if (text.size() < 3 || text[0] != 'P') return bad;
    std::size_t pos = 1;
    bool inTime = false, any = false;
    double totalMs = 0;
    std::int64_t days = 0;
    bool timePart = false;
    while (pos < text.size()) {
        if (text[pos] == 'T') {
            if (inTime) return bad;
            inTime = true;
            ++pos;
            if (pos >= text.size()) return bad;
            continue;
        }
        std::size_t start = pos;
        while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.')) ++pos;
        if (pos == start || pos >= text.size() || pos - start > 9) return bad;
        const std::string digits = text.substr(start, pos - start);
        if (digits.front() == '.' || digits.back() == '.' || std::count(digits.begin(), digits.end(), '.') > 1)
            return bad;
        const double number = std::stod(digits);
        const bool whole = text.find('.', start) >= pos;
        const char unit = text[pos++];
        any = true;
        if (!inTime && (unit == 'Y' || unit == 'M'))
            return "timeDuration '" + text + "': years and months are not supported (their length varies); use days";
        if (!inTime && unit == 'W' && whole) {
            totalMs += number * 7 * 86400000.0;
            days += static_cast<std::int64_t>(number) * 7;
        } else if (!inTime && unit == 'D' && whole) {
            totalMs += number * 86400000.0;
            days += static_cast<std::int64_t>(number);
        } else if (inTime && unit == 'H' && whole) {
            totalMs += number * 3600000.0;
            timePart = true;
        } else if (inTime && unit == 'M' && whole) {
            totalMs += number * 60000.0;
            timePart = true;
        } else if (inTime && unit == 'S') {
            totalMs += number * 1000.0;
            timePart = true;
        } else {
            return bad;
        }
    }
    if (!any) return bad;
    if (totalMs > 3650.0 * 86400000.0) return "timeDuration '" + text + "' is longer than ten years";
    timer.durationMs = static_cast<std::int64_t>(std::llround(totalMs));
    if (workingDays) {
        if (timePart || days == 0)
            return "timeDuration '" + text + "' on the working-day calendar must be whole days (P3D)";
        timer.workingDays = days;
    }
    return {};
}

}  // namespace hub::flows::engine::detail
