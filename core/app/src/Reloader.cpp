#include "Reloader.h"

#include "hub/catalog/Catalog.h"
#include "hub/catalog/WorkingCalendar.h"
#include "hub/common/Exceptions.h"
#include "hub/flows/ApplicationService.h"
#include "hub/host/PluginHost.h"
#include "hub/identity/SyncSchedule.h"
#include "hub/identity/Syncer.h"

#include <Poco/Logger.h>
#include <Poco/Util/Application.h>
#include <Poco/Util/SystemConfiguration.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <utility>

namespace hub::app {

namespace {

using Flat = std::map<std::string, std::string>;
using Poco::Util::AbstractConfiguration;

Poco::Logger& reloadLogger() { return Poco::Logger::get("hub.reload"); }

// Every key under `key` with its raw value, for comparing two configurations.
void flatten(const AbstractConfiguration& c, const std::string& key, Flat& out) {
    AbstractConfiguration::Keys keys;
    c.keys(key, keys);
    if (keys.empty()) {
        if (!key.empty() && c.has(key)) out[key] = c.getRawString(key);
        return;
    }
    for (const auto& k : keys) flatten(c, key.empty() ? k : key + "." + k, out);
}

Flat flat(const AbstractConfiguration& c, const std::string& key) {
    Flat out;
    flatten(c, key, out);
    return out;
}

bool startsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Keys a reload applies (or that are not the operator's); every other key that
// changed waits for a restart.
bool reloadable(const std::string& key) {
    if (key == "identity.sync.source") return false;  // names the stored sync state
    for (const char* prefix : {"logging.level", "calendar.file", "plugins.defaults.", "plugins.plugin",
                               "identity.ldap.", "identity.mapping.", "identity.sync.", "system.", "application.", "flows.externalGroups"})
        if (startsWith(key, prefix)) return true;
    return false;
}

std::string joined(const std::vector<std::string>& items, const char* separator = ", ") {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
    return out;
}

// A plugin's settings as the host reads them: its own keys, the defaults, and
// the attributes of its operations' policies (which keys() does not list).
Flat pluginSettings(const AbstractConfiguration& c, const std::string& name) {
    const std::string base = "plugins.plugin[@name=" + name + "]";
    Flat out = flat(c, base);
    flatten(c, "plugins.defaults", out);
    for (int n = 0;; ++n) {
        const std::string entry = base + ".operation[" + std::to_string(n) + "]";
        if (!c.has(entry)) break;
        for (const char* attribute : {"name", "roles", "audiences", "self", "access", "enabled"}) {
            const std::string key = entry + "[@" + attribute + "]";
            if (c.has(key)) out[key] = c.getRawString(key);
        }
    }
    return out;
}

Flat identitySettings(const AbstractConfiguration& c) {
    Flat out = flat(c, "identity");
    std::erase_if(out, [](const auto& entry) { return startsWith(entry.first, "identity.static"); });
    return out;
}

}  // namespace

// The configuration a reload would switch to: the new file between the
// defaults and the -D keys, as at start; and what it changes.
struct Reloader::Candidate {
    Poco::AutoPtr<AbstractConfiguration> file;
    Poco::AutoPtr<Poco::Util::LayeredConfiguration> config = new Poco::Util::LayeredConfiguration;
    bool logLevelChanged = false;
    std::vector<std::string> plugins;          // loaded plugins whose settings changed
    bool pluginSettingsChanged = false;        // any plugin key: refused plugins are tried again
    std::optional<identity::SyncOptions> sync;  // when a syncer runs and its settings changed
    bool syncIntervalChanged = false;
};

Reloader::Reloader(Poco::Util::LayeredConfiguration& config, Layers layers, Targets targets, Check check,
                   CalendarLoader calendar)
    : config_(config),
      layers_(std::move(layers)),
      targets_(targets),
      check_(std::move(check)),
      calendar_(std::move(calendar)) {}

void Reloader::addHook(std::string name, Hook hook) { hooks_.emplace_back(std::move(name), std::move(hook)); }

// Reads and checks the file whole; throws, naming the key or the line, when
// anything of it would be refused at start.
void Reloader::readFile(Candidate& candidate) {
    using Poco::Util::Application;
    candidate.file = ReloadableConfiguration::read(layers_.path);
    auto& c = *candidate.config;
    c.add(new Poco::Util::SystemConfiguration, Application::PRIO_SYSTEM, false);
    if (layers_.defaults) c.add(layers_.defaults, Application::PRIO_DEFAULT + 100, false);
    c.add(candidate.file, Application::PRIO_DEFAULT, false);
    if (layers_.overrides) c.add(layers_.overrides, Application::PRIO_APPLICATION, false);
    if (check_) check_(c);
    Poco::Logger::parseLevel(c.getString("logging.level", "information"));  // throws on a bad level
    if (targets_.syncer && identitySettings(config_) != identitySettings(c)) {
        Poco::AutoPtr<AbstractConfiguration> identityView(c.createView("identity"));
        candidate.sync = identity::SyncOptions::fromConfig(*identityView);
    }
}

void Reloader::compare(Candidate& candidate, Report& report) const {
    const auto& next = *candidate.config;
    Flat before = flat(config_, ""), after = flat(next, "");
    std::vector<std::string> restart;
    for (const auto& [key, value] : after) {
        auto old = before.find(key);
        if ((old == before.end() || old->second != value) && !reloadable(key)) restart.push_back(key);
    }
    for (const auto& [key, value] : before)
        if (!after.count(key) && !reloadable(key)) restart.push_back(key);
    if (!targets_.syncer && identitySettings(config_) != identitySettings(next))
        restart.emplace_back("identity.* (no directory sync was started)");
    report.restart = std::move(restart);

    candidate.logLevelChanged = config_.getString("logging.level", "information") !=
                                next.getString("logging.level", "information");
    candidate.syncIntervalChanged = config_.getString("identity.sync.intervalSeconds", "") !=
                                    next.getString("identity.sync.intervalSeconds", "");
    if (targets_.plugins)
        for (const auto& status : targets_.plugins->list())
            if (pluginSettings(config_, status.name) != pluginSettings(next, status.name))
                candidate.plugins.push_back(status.name);
    candidate.pluginSettingsChanged = !candidate.plugins.empty() || flat(config_, "plugins") != flat(next, "plugins");
}

void Reloader::apply(const Candidate& candidate, Report& report) {
    layers_.file->replace(candidate.file);
    report.applied.push_back("configuration file " + layers_.path);
    if (candidate.logLevelChanged) {
        const std::string level = config_.getString("logging.level", "information");
        Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));  // every logger, as at start
        report.applied.push_back("logging.level: " + level);
    }
    if (candidate.sync) {
        const int interval = candidate.sync->intervalSeconds;
        targets_.syncer->setOptions(*candidate.sync);
        if (targets_.syncSchedule && candidate.syncIntervalChanged)
            targets_.syncSchedule->setInterval(std::chrono::seconds(interval));
        report.applied.push_back("identity sync settings (the next run takes them; every " +
                                 std::to_string(interval) + " s)");
    }
}

Reloader::Report Reloader::reload() {
    std::lock_guard lock(mutex_);
    Report report;
    // Each part on its own: what fails keeps what it had, and says why.
    auto part = [&report](const std::string& name, const std::function<void()>& fn) {
        try {
            fn();
        } catch (...) {
            report.problems.push_back(name + ": " + currentExceptionText() + "; the running one stays");
        }
    };

    std::optional<Candidate> candidate;
    if (!layers_.path.empty() && layers_.file)
        part("configuration file " + layers_.path, [&] {
            Candidate read;
            readFile(read);
            compare(read, report);
            candidate = std::move(read);
        });
    if (candidate) part("configuration file " + layers_.path, [&] { apply(*candidate, report); });

    if (targets_.catalog) part("catalogue", [&] {
        auto result = targets_.catalog->reload();
        if (result.ok) {
            report.applied.push_back("catalogue " + targets_.catalog->options().directory + ": version " +
                                     std::to_string(result.version) + ", " +
                                     std::to_string(targets_.catalog->snapshot()->items().size()) + " items");
            return;
        }
        std::vector<std::string> errors;
        for (const auto& e : result.errors) errors.push_back(e.toString());
        report.problems.push_back("catalogue " + targets_.catalog->options().directory + ": version " +
                                  std::to_string(result.version) + " stays: " + joined(errors, "; "));
    });

    if (targets_.applications && calendar_) part("calendar", [&] {
        targets_.applications->setCalendar(calendar_(config_));
        report.applied.push_back("calendar " + config_.getString("calendar.file", "(default)"));
    });

    if (candidate && targets_.plugins) {
        for (const auto& name : candidate->plugins)
            part("plugin " + name + " with its new settings", [&] {
                std::string version = targets_.plugins->reload(name);
                report.applied.push_back("plugin " + name + " " + version + ": reloaded with its new settings");
            });
        // A plugin refused for its settings (a required key missing) is tried again.
        if (candidate->pluginSettingsChanged)
            for (const auto& refusal : targets_.plugins->refusals())
                part("plugin " + refusal.path, [&] {
                    targets_.plugins->load(refusal.path);
                    report.applied.push_back("plugin " + refusal.path + ": loaded with the new settings");
                });
    }

    for (const auto& hook : hooks_)
        part(hook.first, [&] {
            std::string line = hook.second(config_);
            if (!line.empty()) report.applied.push_back(hook.first + ": " + line);
        });

    for (const auto& line : report.applied) reloadLogger().information("reloaded %s", line);
    for (const auto& line : report.problems) reloadLogger().error("reload: %s", line);
    if (!report.restart.empty())
        reloadLogger().warning("reload: changed, applied only by a restart: %s", joined(report.restart));
    reloadLogger().notice("reload done: %z part(s) reloaded, %z kept, %z key(s) waiting for a restart",
                    report.applied.size(), report.problems.size(), report.restart.size());
    return report;
}

}  // namespace hub::app
