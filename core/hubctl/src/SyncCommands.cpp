// hubctl sync status|run: the directory (LDAP) sync.
#include "Cli.h"

#include <functional>
#include <iostream>
#include <memory>
#include <utility>

// Named inside the anonymous namespace: a unity build compiles the command
// files together, and each has its own list(), status() and registration.
namespace {
namespace sync_commands {

void printStatus(const Poco::JSON::Object::Ptr& s) {
    using hubctl::text;
    std::cout << "source:         " << text(s, "source") << (text(s, "running") == "true" ? " (running)" : "") << "\n"
              << "last run:       " << text(s, "lastMethod") << " at " << text(s, "lastRunAt") << ": "
              << text(s, "lastStatus") << "\n"
              << "last success:   " << text(s, "lastSuccessAt") << "\n";
    if (!text(s, "lastError").empty()) std::cout << "last error:     " << text(s, "lastError") << "\n";
    if (!text(s, "alert").empty()) std::cout << "ALERT:          " << text(s, "alert") << "\n";
    std::cout << "read:           " << text(s, "read") << " (created " << text(s, "created") << ", updated "
              << text(s, "updated") << ", departed " << text(s, "departed") << ", unchanged "
              << text(s, "unchanged") << ") in " << text(s, "durationMs") << " ms\n"
              << "active persons: " << text(s, "activePersons") << "\n";
    if (text(s, "coordinated") == "true")  // several hubs on one PostgreSQL
        std::cout << "runs on node:   " << text(s, "leaseHolder")
                  << (text(s, "thisNodeHolds") == "true" ? " (this one)" : "") << ", " << text(s, "requestsPending")
                  << " run(s) asked for and not started\n";
}

int status(const hubctl::GlobalOptions& global) {
    hubctl::HubClient hub(global);
    auto answer = hub.get("/admin/identity/sync");
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    printStatus(answer.object());
    return hubctl::exitOk;
}

// The poll of a sync's progress: the persons the run (or preview) has read so
// far. A full read's total is guessed at the first look as the active persons
// stored; an incremental run reads only what changed, so it gets a count alone.
enum class Reading { full, incremental, preview };
std::function<long long()> readSoFar(const hubctl::HubClient& hub, hubctl::Progress& progress, Reading reading) {
    auto first = std::make_shared<bool>(true);
    auto last = std::make_shared<long long>(0);
    return [&hub, &progress, reading, first, last] {
        auto s = hub.get("/admin/identity/sync", 5).object();
        if (std::exchange(*first, false) && reading != Reading::incremental)
            progress.setTotal(s->optValue<long long>("activePersons", 0));
        // A run's figure is the last run's until it begins (running), and stays
        // when it ends: between runs the bar keeps what it showed (it never goes
        // back). A preview, which is no run, sets it to 0 as it connects.
        if (reading != Reading::preview && !s->optValue<bool>("running", false)) return *last;
        return *last = s->optValue<long long>("personsRead", 0);
    };
}

struct RunOptions {
    bool full = false;
    bool allowMassDeparture = false;
};

int run(const hubctl::GlobalOptions& global, const RunOptions& o) {
    hubctl::HubClient hub(global);
    std::string query = std::string("?full=") + (o.full ? "true" : "false");
    if (o.allowMassDeparture) query += "&allowMassDeparture=true";
    // The hub answers when the run is over: a full sync of a large directory takes
    // minutes, so wait long, and meanwhile show the persons read so far
    // (personsRead in GET /admin/identity/sync, counted page by page), against
    // the active persons stored now, the best guess of the directory's size.
    hubctl::Progress progress(global, o.full ? "full sync" : "incremental sync", 0, "persons read");
    auto answer = progress.whilePolling([&] { return hub.post("/admin/identity/sync" + query, "", 3600); },
                                        readSoFar(hub, progress, o.full ? Reading::full : Reading::incremental));
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    if (answer.status == 202) {  // another node holds the sync: it runs the request
        auto r = answer.object();
        std::cout << "asked node " << hubctl::text(r, "runsOn") << " to run it (request " << hubctl::text(r, "requested")
                  << "); see `hubctl sync status`\n";
        return hubctl::exitOk;
    }
    printStatus(answer.object());
    return hubctl::exitOk;
}

int preview(const hubctl::GlobalOptions& global) {
    hubctl::HubClient hub(global);
    hubctl::Progress progress(global, "reading the directory", 0, "persons read");
    auto answer = progress.whilePolling([&] { return hub.get("/admin/identity/sync/preview", 3600); },
                                        readSoFar(hub, progress, Reading::preview));
    if (global.json) return hubctl::printJson(answer.body), hubctl::exitOk;
    auto p = answer.object();
    using hubctl::text;
    auto departments = p->getArray("departments");
    if (departments->size() == 0) {
        std::cout << "nothing to do: " << text(p, "read") << " persons read, all as stored\n";
        return hubctl::exitOk;
    }
    hubctl::Table table({"DEPARTMENT", "ADD", "CHANGE", "DEPART", "FIRST DEPARTING"});
    for (std::size_t i = 0; i < departments->size(); ++i) {
        auto d = departments->getObject(static_cast<unsigned>(i));
        std::string first;
        auto gone = d->getArray("departed");
        for (std::size_t j = 0; j < gone->size() && j < 3; ++j) first += (j ? ", " : "") + gone->getElement<std::string>(j);
        if (gone->size() > 3) first += ", ...";
        std::string name = text(d, "department");
        table.add({name.empty() ? "(none)" : name, text(d, "add"), text(d, "change"), text(d, "depart"), first});
    }
    table.add({"TOTAL", text(p, "add"), text(p, "change"), text(p, "depart"), ""});
    table.print(std::cout);
    std::cout << text(p, "read") << " persons read, " << text(p, "unchanged") << " unchanged, "
              << text(p, "activePersons") << " active now; nothing was written\n";
    if (text(p, "guarded") == "true")
        std::cout << "the delete guard would hold the departures back: `hubctl sync run --full "
                     "--allow-mass-departure` applies them\n";
    return hubctl::exitOk;
}

const hubctl::Registration registration(30, [](hubctl::Commands& c) {
    auto& global = c.options();
    auto* sync = c.group(c.root(), "sync", "the directory (LDAP) sync");
    c.leaf(*sync, "status", "the last run: counts, errors, delete-guard alert", [&global] { return status(global); });
    c.leaf(*sync, "preview", "what a full sync would add, change and depart, per department; writes nothing",
           [&global] { return preview(global); });
    auto o = std::make_shared<RunOptions>();
    auto* runCommand = c.leaf(*sync, "run", "run a sync now and wait for it (incremental unless --full)",
                              [&global, o] { return run(global, *o); });
    runCommand->add_flag("--full", o->full, "read the whole directory, not only what changed");
    runCommand->add_flag("--allow-mass-departure", o->allowMassDeparture,
                         "apply departures the delete guard held back (an explicit decision)");
});

}  // namespace sync_commands
}  // namespace
