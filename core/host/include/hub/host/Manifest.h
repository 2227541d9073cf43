#pragma once

#include "hub/host/AccessPolicy.h"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hub::host {

/// plugin.xml, the description of a plugin read before any of its code loads.
struct Manifest {
    struct Operation {
        std::string name;
        std::string description;
        /// Who may call it: its attributes in plugin.xml, narrowed by hub.xml
        /// once the host has applied applyOperatorPolicies().
        AccessPolicy access;
    };
    struct ConfigKey {
        std::string name;
        std::string type;
        bool required = false;
    };

    std::string file;  ///< Path of the plugin.xml it was read from.
    std::string name;
    std::string version;
    int abiMajor = 0;
    int abiMinor = 0;
    std::string library;     ///< File name of the library, beside the manifest.
    std::string isolation;   ///< "inproc" or "process".
    std::string vendor;
    std::string description;
    std::vector<Operation> operations;
    std::vector<std::string> owns;
    std::vector<ConfigKey> config;
    bool provisionsIdentities = false;
    /// Event types from <subscribes><event type="..."/></subscribes>; includes
    /// edu.campus.hub.identity.changed when provisionsIdentities is set.
    std::vector<std::string> subscribes;
    /// Event types the plugin emits, from <emits><event type="..."/></emits>:
    /// the only types of its own its emit_event may send.
    std::vector<std::string> emits;

    bool hasOperation(std::string_view op) const;
    /// The operation named op, or null.
    const Operation* findOperation(std::string_view op) const;
    /// Whether events of this type are offered to the plugin.
    bool subscribesTo(std::string_view type) const;
};

/// A manifest that cannot be used; what() names the file, line and field.
class ManifestError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Reads and validates a plugin.xml (no network, no external entities).
Manifest readManifest(const std::string& path);

/// What is wrong with a library's describe() answer against manifest, or ""
/// when it matches: a JSON object whose name, version and set of operation
/// names are the manifest's. The one check, made where a library is loaded
/// (LoadedPlugin, in hubd or in hub-plugin-worker) and by the hub again on a
/// worker's answer (ProcessPlugin), as the worker reads the manifest file itself.
std::string describeMismatch(const Manifest& manifest, std::string_view describeJson);

}  // namespace hub::host
