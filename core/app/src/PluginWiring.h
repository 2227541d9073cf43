#pragma once
// What hubd lends the plugin host beyond its own parts: the outbox for the
// plugins' events (with the event types each plugin's manifest declares) and
// the identity store for the records they hand over (identity_submit).

#include "hub/host/Manifest.h"
#include "hub/host/PluginServices.h"

#include <map>
#include <mutex>
#include <set>
#include <string>

namespace hub::store {
class Database;
}
namespace hub::identity {
class SourcedFields;
}

namespace hub::app {

/// The event types each loaded plugin declared (<emits>), registered with
/// core/events as their manifests are read, so a plugin may send its own types
/// and no other plugin's. Thread-safe.
class PluginEventTypes {
public:
    /// PluginHost::Options::onManifest.
    void declare(const host::Manifest& manifest);
    /// Whether plugin may emit type: one of the hub's built-in types, or one it declared.
    bool mayEmit(const std::string& plugin, const std::string& type) const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, std::set<std::string>> declared_;
};

/// A plugin's events go through the outbox like the hub's own, each in its own
/// transaction; only the hub's types and the plugin's declared ones are accepted.
host::EmitEvent pluginEventsToOutbox(store::Database& db, const std::string& source, const PluginEventTypes& types);

/// identity_submit: a plugin's person records into identity::SourcedFields.
host::SubmitIdentity pluginRecordsToIdentity(identity::SourcedFields& fields);

}  // namespace hub::app
