#pragma once
// What hubd reads from its configuration before anything starts: the embedded
// defaults, every integer key checked against its range, the -D keys of
// plugins, the holiday calendar and the console's folder.

#include "hub/api/HttpServer.h"
#include "hub/host/PluginLimits.h"

#include <string>
#include <utility>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
class MapConfiguration;
}  // namespace Poco::Util
namespace hub::catalog {
class WorkingCalendar;
}
namespace hub::host {
class PluginHost;
}

namespace hub::app {

/// The embedded defaults: hubd runs with no config file at all. A config file
/// overrides any of them.
void addDefaults(Poco::Util::MapConfiguration& defaults);

/// Every integer key hubd reads, read once before anything starts, each with the
/// range it may take: a value outside it stops the start with the key's name
/// (config::ConfigError), where it used to wrap (a port of 70000) or misbehave
/// later (a negative timeout). Keys other modules read themselves (auth.jwt.*,
/// identity.*) are checked here too and read there.
struct Numbers {
    int httpPort, ioThreads, maxBodyBytes, idleTimeoutSeconds, readTimeoutSeconds, drainTimeoutMs, fiberStackKb,
        blockingThreads, metricsPort;
    int utcOffsetSeconds, auditCommitIntervalMs, watchIntervalMs, healthIntervalMs;
    int consoleActivitySeconds;
    int flowMessageTtlSeconds, flowSettleMs, flowTimerLeaseSeconds;
    int clusterPollMs;  ///< cluster.pollMs: how often the other hubs' changes are read (ClusterChanges)
    host::PluginLimits pluginDefaults;

    static Numbers read(const Poco::Util::AbstractConfiguration& cfg);

    /// The API listener's options.
    api::HttpServer::Options serverOptions(const std::string& address) const;
};

/// -D overrides of a plugin's keys (plugins.plugin[@name=X].KEY): the name of
/// the plugin, or "" for any other key. Throws config::ConfigError for a key
/// the host does not know: a typo that would be ignored without a word.
std::string overriddenPlugin(const std::string& key);

/// Logs each -D override of a plugin that is not loaded: it may be a typo of
/// the name, or a plugin installed later (then it applies).
void reportOverridesOfAbsentPlugins(const std::vector<std::pair<std::string, std::string>>& defines,
                                    const host::PluginHost& plugins);

/// The holiday calendar: a configured file must load; without one (and without
/// the shipped default) due dates count Monday to Friday.
catalog::WorkingCalendar loadCalendar(const Poco::Util::AbstractConfiguration& cfg);

/// console.dir's default, beside hubd's executable: where `cmake --install` (and
/// so the package) puts it, `<prefix>/sbin/../share/campushub/console`, else the
/// build tree's `console/` when hubd runs from its build tree.
std::string defaultConsoleDir();

}  // namespace hub::app
