// hubctl applications trace ID: every hop of one application under its trace
// id (GET /admin/applications/{id}/trace; docs/privacy.md, "Trace").
#include "Cli.h"

#include <Poco/JSON/Array.h>

#include <iostream>

// Named inside the anonymous namespace: a unity build compiles the command
// files together, and each has its own list(), status() and registration.
namespace {
namespace application_commands {

int trace(const hubctl::GlobalOptions& global, const std::string& id) {
    hubctl::HubClient hub(global);
    auto answer = hub.get("/admin/applications/" + hubctl::queryValue(id) + "/trace");
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto trace = answer.object();
    using hubctl::text;
    std::cout << "application " << text(trace, "application_id") << ", trace " << text(trace, "trace_id") << "\n";
    auto hops = trace->getArray("hops");
    hubctl::Table table({"AT", "KIND", "NAME", "OUTCOME", "MS", "DETAIL"});
    for (std::size_t i = 0; hops && i < hops->size(); ++i) {
        auto h = hops->getObject(static_cast<unsigned>(i));
        table.add({text(h, "at"), text(h, "kind"), text(h, "name"), text(h, "outcome"), text(h, "duration_ms"),
                   text(h, "detail")});
    }
    table.print(std::cout);
    return hubctl::exitOk;
}

const hubctl::Registration registration(47, [](hubctl::Commands& c) {
    auto& global = c.options();
    auto* applications = c.group(c.root(), "applications", "applications: one's way through the hub");
    auto id = std::make_shared<std::string>();
    c.leaf(*applications, "trace",
           "every hop of one application (API calls, flow steps, plugin calls, events delivered, decisions)",
           [&global, id] { return trace(global, *id); })
        ->add_option("ID", *id, "the application's id")
        ->required();
});

}  // namespace application_commands
}  // namespace
