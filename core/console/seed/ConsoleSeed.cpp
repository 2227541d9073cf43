// hub-console-seed: applications submitted and decided in the past, for the
// console's browser test (core/console/web/test/console.browser.mjs).
//
// The overdue rate needs applications that are really past their due date, and
// a due date is days after the submission: the API, on the real clock, can only
// make applications submitted today. So this writes them through the product's
// own store path (ApplicationService: the same catalogue checks, due date by the
// calendar, transitions and version as hubd) with ApplicationService's clock set
// to the past, into the hub's database before hubd starts. No events: hubd's
// outbox is not wired here (the figures do not read them).
//
//   hub-console-seed --db FILE --catalog DIR --calendar FILE --utc-offset SECONDS --plan FILE
//
// The plan, JSON: {"applications": [{"item", "applicant", "audience", "form",
// "path": ["approved", "completed"], "actor", "reason", "late": true|false}]}.
// Every application is submitted on one day S at 09:00 in the hall's zone: the
// earliest day of this month whose due dates (S plus each item's time limit in
// working days) are all before today; when today is too early in the month for
// that, the earliest such day of last month. An application with a path is
// decided along it: late ones now (today, after their due date), on-time ones
// on S itself (never after the due date). One without a path stays open, past
// its due date, so it must be late.
//
// Prints {"month", "submitted", "today", "applications": [{"id", "item",
// "department", "due_date", "status", "closed_on", "late"}]} on stdout.
#include "hub/catalog/Audience.h"
#include "hub/catalog/Catalog.h"
#include "hub/catalog/WorkingCalendar.h"
#include "hub/flows/ApplicationService.h"
#include "hub/flows/ApplicationStatus.h"
#include "hub/store/Database.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Timestamp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace {

using Date = hub::catalog::WorkingCalendar::Date;
using std::chrono::days;
using std::chrono::sys_days;

std::map<std::string, std::string> options(int argc, char** argv) {
    std::map<std::string, std::string> out;
    for (int i = 1; i + 1 < argc; i += 2) out[std::string(argv[i]).substr(2)] = argv[i + 1];
    for (const char* k : {"db", "catalog", "calendar", "utc-offset", "plan"})
        if (!out.count(k)) throw std::invalid_argument(std::string("--") + k + " is required");
    return out;
}

}  // namespace

int main(int argc, char** argv) try {
    auto opt = options(argc, argv);
    const int offset = std::stoi(opt["utc-offset"]);
    std::ifstream planFile(opt["plan"]);
    std::stringstream planText;
    planText << planFile.rdbuf();
    auto plan = Poco::JSON::Parser().parse(planText.str()).extract<Poco::JSON::Object::Ptr>()->getArray("applications");

    auto catalog = hub::catalog::Catalog::load({opt["catalog"], ""});
    auto calendar = hub::catalog::WorkingCalendar::fromFile(opt["calendar"]);
    hub::store::Database::Options dbOptions;
    dbOptions.path = opt["db"];
    hub::store::Database db(dbOptions);

    Poco::Timestamp clock;  // what the service takes for now
    hub::flows::ApplicationService::Options serviceOptions{calendar, offset};
    serviceOptions.clock = [&clock] { return clock; };
    hub::flows::ApplicationService service(db, serviceOptions);

    const Poco::Timestamp now;
    const Date today = service.today();
    // A day in the hall's zone at a time of day, as the UTC instant it is.
    auto at = [offset](Date day, int hour, int minute) {
        std::int64_t seconds =
            std::int64_t{sys_days{day}.time_since_epoch().count()} * 86400 + hour * 3600 + minute * 60 - offset;
        return Poco::Timestamp::fromEpochTime(static_cast<std::time_t>(seconds));
    };

    // The day S: every item's due date before today.
    int longest = 0;
    for (std::size_t i = 0; i < plan->size(); ++i) {
        auto item = catalog->findById(plan->getObject(static_cast<unsigned>(i))->getValue<std::string>("item"));
        if (!item)
            throw std::invalid_argument("no item " +
                                        plan->getObject(static_cast<unsigned>(i))->getValue<std::string>("item"));
        longest = std::max(longest, item->timeLimitDays);
    }
    auto firstOfMonth = [](Date d) { return Date{d.year(), d.month(), std::chrono::day{1}}; };
    std::optional<Date> submitted;
    for (Date first : {firstOfMonth(today), firstOfMonth(Date{sys_days{firstOfMonth(today)} - days{1}})}) {
        for (Date d = first; d.month() == first.month() && sys_days{d} < sys_days{today};
             d = Date{sys_days{d} + days{1}})
            if (sys_days{calendar.addWorkingDays(d, longest)} < sys_days{today}) {
                submitted = d;
                break;
            }
        if (submitted) break;
    }
    if (!submitted) throw std::runtime_error("no day of this month or the last is far enough in the past");

    Poco::JSON::Array::Ptr seeded = new Poco::JSON::Array;
    for (std::size_t i = 0; i < plan->size(); ++i) {
        auto p = plan->getObject(static_cast<unsigned>(i));
        const bool late = p->getValue<bool>("late");
        auto path = p->getArray("path");
        if (!late && !path) throw std::invalid_argument("an open application of the plan cannot be on time");
        hub::flows::ApplicationService::SubmitRequest request;
        request.subject = p->getValue<std::string>("applicant");
        request.itemId = p->getValue<std::string>("item");
        std::ostringstream form;
        Poco::JSON::Stringifier::stringify(p->getObject("form"), form);
        request.formJson = form.str();
        request.startReview = true;  // as the API submits: a flow's item goes on to in_review
        clock = at(*submitted, 9, 0);
        auto result =
            service.submit(request, *catalog, *hub::catalog::AudienceSet::parse(p->getValue<std::string>("audience")));
        if (result.outcome != hub::flows::ApplicationService::SubmitResult::Outcome::Created)
            throw std::runtime_error(request.itemId + ": not submitted: " + result.message);
        auto app = *result.application;
        for (std::size_t step = 0; path && step < path->size(); ++step) {
            clock = late ? now : at(*submitted, 10, static_cast<int>(step));
            auto to = hub::flows::parseApplicationStatus(path->getElement<std::string>(static_cast<unsigned>(step)));
            if (!to)
                throw std::invalid_argument("no status " + path->getElement<std::string>(static_cast<unsigned>(step)));
            app = service.transition(app.id, *to, p->getValue<std::string>("actor"),
                                     p->optValue<std::string>("reason", ""));
        }
        Poco::JSON::Object::Ptr out = new Poco::JSON::Object;
        out->set("id", app.id);
        out->set("item", app.itemId);
        out->set("department", app.department);
        out->set("due_date", app.dueDate);
        out->set("status", std::string(hub::flows::toString(app.status)));
        out->set("closed_on",
                 path ? hub::catalog::WorkingCalendar::formatDate(late ? today : *submitted) : std::string());
        out->set("late", late);
        seeded->add(out);
    }
    Poco::JSON::Object answer;
    answer.set("month", hub::catalog::WorkingCalendar::formatDate(*submitted).substr(0, 7));
    answer.set("submitted", hub::catalog::WorkingCalendar::formatDate(*submitted));
    answer.set("today", hub::catalog::WorkingCalendar::formatDate(today));
    answer.set("applications", seeded);
    answer.stringify(std::cout);
    std::cout << '\n';
    return 0;
} catch (const std::exception& e) {
    std::cerr << "hub-console-seed: " << e.what() << '\n';
    return 1;
}
