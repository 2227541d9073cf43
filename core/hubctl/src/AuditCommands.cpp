// hubctl audit search: the audit trail by who acted, whose data was accessed, system and time.
#include "Cli.h"

#include <Poco/JSON/Array.h>

#include <iostream>

// Named inside the anonymous namespace: a unity build compiles the command
// files together, and each has its own list(), status() and registration.
namespace {
namespace audit_commands {

struct SearchOptions {
    std::string person;
    std::string accessed;
    std::string system;
    std::string since;
    std::string until;
    unsigned limit = 100;
};

int search(const hubctl::GlobalOptions& global, const SearchOptions& o) {
    hubctl::HubClient hub(global);
    std::string query = "?limit=" + std::to_string(o.limit);
    auto add = [&query](const char* name, const std::string& value) {
        if (!value.empty()) query += std::string("&") + name + "=" + hubctl::queryValue(value);
    };
    add("person", o.person);
    add("accessed", o.accessed);
    add("system", o.system);
    add("since", o.since);
    add("until", o.until);
    auto answer = hub.get("/admin/audit" + query);
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto items = answer.object()->getArray("items");
    if (items->size() == 0) {
        std::cout << "nothing found\n";
        return hubctl::exitOk;
    }
    hubctl::Table table({"AT", "SUBJECT", "ACTING FOR", "ACCESSED", "SYSTEM", "OPERATION", "STATUS", "REQUEST"});
    for (std::size_t i = 0; i < items->size(); ++i) {
        auto r = items->getObject(static_cast<unsigned>(i));
        using hubctl::text;
        table.add({text(r, "at"), text(r, "subject"), text(r, "actingFor"), text(r, "person"), text(r, "system"),
                   text(r, "operation"), text(r, "status"), text(r, "requestId")});
    }
    table.print(std::cout);
    return hubctl::exitOk;
}

const hubctl::Registration registration(60, [](hubctl::Commands& c) {
    auto& global = c.options();
    auto* audit = c.group(c.root(), "audit", "the audit trail");
    auto o = std::make_shared<SearchOptions>();
    auto* searchCommand = c.leaf(*audit, "search", "calls and admin actions, newest first",
                                 [&global, o] { return search(global, *o); });
    searchCommand->add_option("--person", o->person, "the caller (subject, or the user a service acted for)");
    searchCommand->add_option("--accessed", o->accessed, "the person whose data was read");
    searchCommand->add_option("--system", o->system, "the plugin called");
    searchCommand->add_option("--since", o->since, "from this UTC time on (2026-12-01 or 2026-12-01T08:00:00)");
    searchCommand->add_option("--until", o->until, "before this UTC time");
    searchCommand->add_option("--limit", o->limit, "at most this many rows")->check(CLI::Range(1, 1000))
        ->capture_default_str();
});

}  // namespace audit_commands
}  // namespace
