// hubctl plugins list|reload|unload|refusals: the plugin host.
#include "Cli.h"

#include <Poco/JSON/Array.h>

#include <iostream>

// Named inside the anonymous namespace: a unity build compiles the command
// files together, and each has its own list(), status() and registration.
namespace {
namespace plugin_commands {

int list(const hubctl::GlobalOptions& global) {
    hubctl::HubClient hub(global);
    auto answer = hub.get("/api/v1/systems");
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto systems = answer.object()->getArray("systems");
    hubctl::Table table({"NAME", "VERSION", "STATUS", "CIRCUIT", "ISOLATION", "CALLS", "FAILURES", "ACTIVE"});
    for (std::size_t i = 0; i < systems->size(); ++i) {
        auto s = systems->getObject(static_cast<unsigned>(i));
        using hubctl::text;
        table.add({text(s, "name"), text(s, "version"), text(s, "status"), text(s, "circuit"), text(s, "isolation"),
                   text(s, "calls"), text(s, "failures"), text(s, "active_calls")});
    }
    table.print(std::cout);
    return hubctl::exitOk;
}

int refusals(const hubctl::GlobalOptions& global) {
    hubctl::HubClient hub(global);
    auto answer = hub.get("/admin/plugins");
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto refused = answer.object()->getArray("refused");
    if (refused->size() == 0) {
        std::cout << "no plugin refused\n";
        return hubctl::exitOk;
    }
    hubctl::Table table({"PATH", "REASON"});
    for (std::size_t i = 0; i < refused->size(); ++i) {
        auto r = refused->getObject(static_cast<unsigned>(i));
        table.add({hubctl::text(r, "path"), hubctl::text(r, "reason")});
    }
    table.print(std::cout);
    return hubctl::exitOk;
}

int reload(const hubctl::GlobalOptions& global, const std::string& name) {
    hubctl::HubClient hub(global);
    auto answer = hub.post("/admin/plugins/" + hubctl::queryValue(name) + "/reload", "", 120);
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    std::cout << name << " reloaded: version " << hubctl::text(answer.object(), "version") << " serving\n";
    return hubctl::exitOk;
}

int unload(const hubctl::GlobalOptions& global, const std::string& name) {
    hubctl::HubClient hub(global);
    auto answer = hub.remove("/admin/plugins/" + hubctl::queryValue(name), 120);
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    std::cout << name << " unloaded\n";
    return hubctl::exitOk;
}

const hubctl::Registration registration(20, [](hubctl::Commands& c) {
    auto& global = c.options();
    auto* plugins = c.group(c.root(), "plugins", "the adapter plugins the hub hosts");
    c.leaf(*plugins, "list", "loaded plugins: version, health, circuit, calls", [&global] { return list(global); });
    c.leaf(*plugins, "refusals", "plugin folders the hub refused to load, and why",
           [&global] { return refusals(global); });
    auto name = std::make_shared<std::string>();
    c.leaf(*plugins, "reload", "load a plugin's new version beside the old; the old drains",
           [&global, name] { return reload(global, *name); })
        ->add_option("NAME", *name, "the plugin")
        ->required();
    auto unloadName = std::make_shared<std::string>();
    c.leaf(*plugins, "unload", "unload a plugin once its calls in flight are done",
           [&global, unloadName] { return unload(global, *unloadName); })
        ->add_option("NAME", *unloadName, "the plugin")
        ->required();
});

}  // namespace plugin_commands
}  // namespace
