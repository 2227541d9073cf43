// hubctl retention run|runs|hold|release: the retention job and legal holds (docs/privacy.md).
#include "Cli.h"

#include <Poco/JSON/Array.h>

#include <iostream>
#include <memory>
#include <sstream>

// Named inside the anonymous namespace: a unity build compiles the command
// files together, and each has its own list(), status() and registration.
namespace {
namespace retention_commands {

void printReport(const Poco::JSON::Object::Ptr& report) {
    using hubctl::text;
    std::cout << "run " << text(report, "id") << " by " << text(report, "actor") << ", " << text(report, "startedAt")
              << " to " << text(report, "finishedAt") << "\n";
    hubctl::Table table({"KIND", "DAYS", "CUTOFF", "DELETED"});
    auto kinds = report->getObject("kinds");
    for (const auto& name : {"applications", "audit", "events", "departedPersons", "deadLetters"}) {
        if (!kinds || !kinds->has(name)) continue;
        auto k = kinds->getObject(name);
        table.add({name, text(k, "days") == "0" ? "kept" : text(k, "days"), text(k, "cutoff"), text(k, "deleted")});
    }
    table.print(std::cout);
    std::cout << text(report, "heldKept") << " expired application(s) kept by a legal hold\n";
}

int run(const hubctl::GlobalOptions& global) {
    hubctl::HubClient hub(global);
    hubctl::Progress progress(global, "retention run");
    auto answer = progress.whileRunning([&] { return hub.post("/admin/retention/run", "", 3600); });
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    printReport(answer.object());
    return hubctl::exitOk;
}

int runs(const hubctl::GlobalOptions& global, unsigned limit) {
    hubctl::HubClient hub(global);
    auto answer = hub.get("/admin/retention/runs?limit=" + std::to_string(limit));
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto items = answer.object()->getArray("items");
    if (items->size() == 0) std::cout << "no retention run yet\n";
    for (std::size_t i = 0; i < items->size(); ++i) printReport(items->getObject(static_cast<unsigned>(i)));
    return hubctl::exitOk;
}

int hold(const hubctl::GlobalOptions& global, const std::string& id, const std::string& reason, bool release) {
    hubctl::HubClient hub(global);
    const std::string path = "/admin/applications/" + hubctl::queryValue(id) + "/legal-hold";
    Poco::JSON::Object body;
    body.set("reason", reason);
    std::ostringstream text;
    body.stringify(text);
    auto answer = release ? hub.remove(path) : hub.put(path, text.str());
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    std::cout << "application " << id << (release ? " released" : " held") << "\n";
    return hubctl::exitOk;
}

const hubctl::Registration registration(65, [](hubctl::Commands& c) {
    auto& global = c.options();
    auto* retention = c.group(c.root(), "retention", "deleting expired personal data; legal holds");
    c.leaf(*retention, "run", "delete what the retention policy says has expired, now", [&global] { return run(global); });
    auto limit = std::make_shared<unsigned>(5);
    c.leaf(*retention, "runs", "the last runs' reports", [&global, limit] { return runs(global, *limit); })
        ->add_option("--limit", *limit, "at most this many reports")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    auto id = std::make_shared<std::string>();
    auto reason = std::make_shared<std::string>();
    auto* holdCommand = c.leaf(*retention, "hold", "keep an application whatever its age",
                               [&global, id, reason] { return hold(global, *id, *reason, false); });
    holdCommand->add_option("application", *id, "the application's id")->required();
    holdCommand->add_option("--reason", *reason, "why (a case number)")->required();
    auto releaseId = std::make_shared<std::string>();
    c.leaf(*retention, "release", "end an application's legal hold",
           [&global, releaseId] { return hold(global, *releaseId, "", true); })
        ->add_option("application", *releaseId, "the application's id")
        ->required();
});

}  // namespace retention_commands
}  // namespace
