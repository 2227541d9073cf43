// hubctl status: whether the hub is ready, its plugins at a glance, the
// directory sync's last run and the relay's dead letters.
#include "Cli.h"

#include <Poco/JSON/Array.h>

#include <iostream>

// Named inside the anonymous namespace: a unity build compiles the command
// files together, and each has its own list(), status() and registration.
namespace {
namespace status_command {

// A GET whose 404 means "not configured here" (no directory, no relay).
Poco::JSON::Object::Ptr optional(const hubctl::HubClient& hub, const std::string& path) {
    try {
        return hub.get(path, 10).object();
    } catch (const hubctl::Failure& f) {
        if (f.code() == hubctl::exitFailure && std::string(f.what()).find("answered 404") != std::string::npos)
            return nullptr;
        throw;
    }
}

int status(const hubctl::GlobalOptions& global) {
    hubctl::HubClient hub(global);
    // /readyz answers 503 while not ready: a state to show, not a failure of hubctl.
    Poco::JSON::Object::Ptr ready;
    try {
        ready = hub.get("/readyz", 10).object();
    } catch (const hubctl::Failure& f) {
        if (f.code() != hubctl::exitFailure) throw;
        ready = new Poco::JSON::Object;
        ready->set("status", std::string(f.what()));
    }
    auto systems = hub.get("/api/v1/systems").object()->getArray("systems");
    auto sync = optional(hub, "/admin/identity/sync");
    auto dead = optional(hub, "/admin/events/dead-letters");
    if (global.json) {
        Poco::JSON::Object out;
        out.set("url", hub.url());
        out.set("ready", ready);
        out.set("systems", systems);
        out.set("sync", sync ? Poco::Dynamic::Var(sync) : Poco::Dynamic::Var());
        out.set("deadLetters", dead ? Poco::Dynamic::Var(dead->getArray("items")->size()) : Poco::Dynamic::Var());
        std::ostringstream text;
        out.stringify(text);
        hubctl::printJson(text.str());
        return hubctl::exitOk;
    }
    std::cout << "hub:          " << hub.url() << "\n";
    std::cout << "ready:        " << hubctl::text(ready, "status") << "\n";
    // Which node answered (several hubs behind a load balancer) and on which store.
    if (auto store = ready->getObject("store"))
        std::cout << "store:        " << hubctl::text(store, "backend") << ", node "
                  << hubctl::text(ready, "node") << "\n";
    std::size_t healthy = 0;
    for (std::size_t i = 0; i < systems->size(); ++i)
        if (hubctl::text(systems->getObject(static_cast<unsigned>(i)), "status") == "healthy") ++healthy;
    std::cout << "plugins:      " << systems->size() << " loaded, " << healthy << " healthy\n";
    if (sync)
        std::cout << "sync:         last " << hubctl::text(sync, "lastMethod") << " at "
                  << hubctl::text(sync, "lastRunAt") << ": " << hubctl::text(sync, "lastStatus")
                  << (hubctl::text(sync, "alert").empty() ? "" : " (alert: " + hubctl::text(sync, "alert") + ")")
                  << "\n";
    else
        std::cout << "sync:         no directory configured\n";
    if (dead) {
        auto n = dead->getArray("items")->size();
        std::cout << "dead letters: " << (n >= 100 ? "100 or more" : std::to_string(n)) << "\n";
    } else {
        std::cout << "dead letters: the relay is off\n";
    }
    return hubctl::exitOk;
}

const hubctl::Registration registration(10, [](hubctl::Commands& c) {
    c.leaf(c.root(), "status", "the hub's readiness, plugins, directory sync and dead letters",
           [&global = c.options()] { return status(global); });
});

}  // namespace status_command
}  // namespace
