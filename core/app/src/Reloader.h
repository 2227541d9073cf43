#pragma once

#include "ReloadableConfiguration.h"

#include <Poco/AutoPtr.h>
#include <Poco/Util/AbstractConfiguration.h>
#include <Poco/Util/LayeredConfiguration.h>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace hub::catalog {
class Catalog;
class WorkingCalendar;
}  // namespace hub::catalog
namespace hub::flows {
class ApplicationService;
}
namespace hub::host {
class PluginHost;
}
namespace hub::identity {
class Syncer;
class SyncSchedule;
}  // namespace hub::identity

namespace hub::app {

/// hubd's reload (SIGHUP): reads the configuration file again and applies what
/// can change without a restart, each part on its own, so that a bad file of
/// one part keeps that part as it was and says why, and the others still
/// change. Connections and requests in flight are not touched.
///
/// - the configuration file: read and checked whole (the same checks as at
///   start) before anything of it is used; a file that does not parse or
///   fails a check keeps the running configuration. Keys that only a restart
///   applies (http.*, store.*, auth.*, ...) are logged as such.
/// - logging.level: every logger.
/// - the catalogue (catalog.dir, and the departments' own files of
///   catalog.departmentsDir): Catalog::reload(), errors by file and line.
/// - the calendar (calendar.file).
/// - each loaded plugin whose settings changed (plugins.defaults.*,
///   plugins.plugin[@name=X].*): reloaded by the plugin host, which keeps the
///   running version when the new one is refused.
/// - the identity sync's settings (identity.ldap.*, identity.mapping.*,
///   identity.sync.*): the next sync run takes them; a new interval applies now.
/// - hooks: parts that reload themselves (the BPMN flows, once core/flows
///   offers it) register one with addHook().
class Reloader {
public:
    /// What hubd reloads; null members are left out.
    struct Targets {
        catalog::Catalog* catalog = nullptr;
        flows::ApplicationService* applications = nullptr;
        host::PluginHost* plugins = nullptr;
        identity::Syncer* syncer = nullptr;
        identity::SyncSchedule* syncSchedule = nullptr;
    };

    /// Checks a candidate configuration as hubd's start does; throws with the key's name.
    using Check = std::function<void(const Poco::Util::AbstractConfiguration&)>;
    /// Reads the calendar a configuration names (hubd's start does the same).
    using CalendarLoader = std::function<catalog::WorkingCalendar(const Poco::Util::AbstractConfiguration&)>;
    /// A part's own reload, given the configuration in use after the file's
    /// reload; returns a line for the log, throws to report a failure (the
    /// part must then keep what it had).
    using Hook = std::function<std::string(const Poco::Util::AbstractConfiguration&)>;

    /// hubd's configuration as layered at start, lowest priority first.
    struct Layers {
        Poco::AutoPtr<Poco::Util::AbstractConfiguration> defaults;  ///< The embedded defaults.
        Poco::AutoPtr<ReloadableConfiguration> file;                ///< The --config file's layer; may be null.
        std::string path;                                           ///< The --config file; empty: none.
        Poco::AutoPtr<Poco::Util::AbstractConfiguration> overrides; ///< The -D keys; may be null.
    };

    /// `config` is hubd's whole configuration, made of `layers` (and Poco's
    /// system.* keys).
    Reloader(Poco::Util::LayeredConfiguration& config, Layers layers, Targets targets, Check check,
             CalendarLoader calendar);

    void addHook(std::string name, Hook hook);

    /// What one reload did.
    struct Report {
        std::vector<std::string> applied;   ///< One line per part that changed.
        std::vector<std::string> problems;  ///< One line per part that kept what it had, and why.
        std::vector<std::string> restart;   ///< Keys that changed but only a restart applies.
    };

    /// Reloads everything it can (see above); logs each line (logger hub.reload)
    /// and returns them. Never throws. One reload at a time: a SIGHUP and
    /// another hub's reload (ClusterChanges) wait for each other.
    Report reload();

private:
    struct Candidate;
    void readFile(Candidate& candidate);
    void compare(Candidate& candidate, Report& report) const;
    void apply(const Candidate& candidate, Report& report);

    Poco::Util::LayeredConfiguration& config_;
    Layers layers_;
    Targets targets_;
    Check check_;
    CalendarLoader calendar_;
    std::vector<std::pair<std::string, Hook>> hooks_;
    std::mutex mutex_;
};

}  // namespace hub::app
