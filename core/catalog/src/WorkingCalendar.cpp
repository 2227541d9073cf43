#include "hub/catalog/WorkingCalendar.h"

#include "hub/catalog/CatalogException.h"
#include "hub/xml/Document.h"
#include "hub/xml/Schema.h"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <stdexcept>

namespace hub::catalog {

namespace chr = std::chrono;
using hub::xml::Error;

namespace {

int dayNumber(WorkingCalendar::Date d) {
    return static_cast<int>(chr::sys_days(d).time_since_epoch().count());
}

WorkingCalendar::Date fromDayNumber(int n) {
    return WorkingCalendar::Date(chr::sys_days(chr::days(n)));
}

bool isWeekend(int n) {
    chr::weekday wd{chr::sys_days(chr::days(n))};
    return wd == chr::Saturday || wd == chr::Sunday;
}

}  // namespace

std::optional<WorkingCalendar::Date> WorkingCalendar::parseDate(std::string_view text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    int parts[3] = {0, 0, 0};
    std::size_t starts[3] = {0, 5, 8};
    std::size_t lengths[3] = {4, 2, 2};
    for (int p = 0; p < 3; ++p) {
        for (std::size_t i = 0; i < lengths[p]; ++i) {
            char c = text[starts[p] + i];
            if (c < '0' || c > '9') return std::nullopt;
            parts[p] = parts[p] * 10 + (c - '0');
        }
    }
    Date d{chr::year(parts[0]), chr::month(static_cast<unsigned>(parts[1])), chr::day(static_cast<unsigned>(parts[2]))};
    if (!d.ok()) return std::nullopt;
    return d;
}

std::string WorkingCalendar::formatDate(Date date) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(date.year()),
                  static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()));
    return buf;
}

WorkingCalendar::Date WorkingCalendar::today() {
    std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    return Date{chr::year(local.tm_year + 1900), chr::month(static_cast<unsigned>(local.tm_mon + 1)),
                chr::day(static_cast<unsigned>(local.tm_mday))};
}

bool WorkingCalendar::isWorkingDay(Date date) const {
    int n = dayNumber(date);
    if (workdays_.count(n) != 0) return true;
    if (holidays_.count(n) != 0) return false;
    return !isWeekend(n);
}

WorkingCalendar::Date WorkingCalendar::addWorkingDays(Date start, int n) const {
    if (n < 0) throw std::invalid_argument("addWorkingDays: n must not be negative");
    int day = dayNumber(start);
    while (n > 0) {
        ++day;
        if (isWorkingDay(fromDayNumber(day))) --n;
    }
    return fromDayNumber(day);
}

int WorkingCalendar::workingDaysBetween(Date from, Date to) const {
    int a = dayNumber(from);
    int b = dayNumber(to);
    int sign = 1;
    if (b < a) {
        std::swap(a, b);
        sign = -1;
    }
    int count = 0;
    for (int d = a + 1; d <= b; ++d) {
        if (isWorkingDay(fromDayNumber(d))) ++count;
    }
    return sign * count;
}

WorkingCalendar::Due WorkingCalendar::due(Date submitted, int limitDays, Date today) const {
    Date dueDate = addWorkingDays(submitted, limitDays);
    return Due{dueDate, chr::sys_days(today) > chr::sys_days(dueDate)};
}

std::optional<std::string> WorkingCalendar::holidayName(Date date) const {
    auto it = holidays_.find(dayNumber(date));
    if (it == holidays_.end()) return std::nullopt;
    return it->second;
}

WorkingCalendar WorkingCalendar::fromFile(const std::string& path, const std::string& xsdPath) {
    std::string schemaPath =
        xsdPath.empty() ? (std::filesystem::path(path).parent_path() / "calendar.xsd").string() : xsdPath;
    std::vector<Error> errors;
    WorkingCalendar calendar;
    try {
        auto schema = hub::xml::Schema::fromFile(schemaPath);
        auto doc = hub::xml::Document::parseFile(path);
        errors = schema.validate(doc);
        if (errors.empty()) {
            auto fail = [&](const hub::xml::Node& node, const std::string& attribute, const std::string& message) {
                errors.push_back(Error{path, node.line(), 0,
                                       "Element '" + node.name() + "', attribute '" + attribute + "': " + message,
                                       {}});
            };
            for (const auto& yearNode : doc.root().children("year")) {
                int year = std::stoi(yearNode.attribute("value", "0"));
                if (!calendar.years_.insert(year).second) {
                    fail(yearNode, "value", "year " + std::to_string(year) + " is listed twice");
                }
                auto inYear = [&](const hub::xml::Node& node, const std::string& attribute) -> std::optional<int> {
                    auto date = parseDate(node.attribute(attribute, ""));
                    if (!date) {
                        fail(node, attribute, "'" + node.attribute(attribute, "") + "' is not a real date");
                        return std::nullopt;
                    }
                    if (static_cast<int>(date->year()) != year) {
                        fail(node, attribute, formatDate(*date) + " is outside year " + std::to_string(year));
                        return std::nullopt;
                    }
                    return dayNumber(*date);
                };
                for (const auto& h : yearNode.children("holiday")) {
                    auto from = inYear(h, "from");
                    auto to = h.hasAttribute("to") ? inYear(h, "to") : from;
                    if (!from || !to) continue;
                    if (*to < *from || *to - *from > 31) {
                        fail(h, "to", "a holiday runs forward and for at most 32 days");
                        continue;
                    }
                    for (int d = *from; d <= *to; ++d) {
                        if (!calendar.holidays_.emplace(d, h.attribute("zh", "")).second) {
                            fail(h, "from", formatDate(fromDayNumber(d)) + " is already a holiday");
                        }
                    }
                }
                for (const auto& w : yearNode.children("workday")) {
                    auto d = inYear(w, "date");
                    if (!d) continue;
                    if (!isWeekend(*d)) {
                        fail(w, "date", formatDate(fromDayNumber(*d)) +
                                            " is a weekday; make-up working days (调休) are weekend days");
                    }
                    calendar.workdays_.insert(*d);
                }
            }
            for (int d : calendar.workdays_) {
                if (calendar.holidays_.count(d) != 0) {
                    errors.push_back(Error{path, 0, 0,
                                           formatDate(fromDayNumber(d)) + " is both a holiday and a working day", {}});
                }
            }
        }
    } catch (const hub::xml::XmlException& e) {
        errors = e.errors();
    }
    if (!errors.empty()) {
        std::string summary = std::to_string(errors.size()) + " error(s) in the working-day calendar; first: " +
                              errors.front().toString();
        throw CatalogException(summary, std::move(errors));
    }
    return calendar;
}

}  // namespace hub::catalog
