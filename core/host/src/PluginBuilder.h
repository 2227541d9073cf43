#pragma once
// Private to core/host.

#include "hub/host/PluginHost.h"

#include <memory>
#include <string>

namespace hub::runtime {
class WorkerPool;
}

namespace hub::host {

class PluginFolder;

/// Makes a running instance from a plugin's folder, or refuses it with the
/// reason (LoadError, ManifestError): reads the manifest and narrows its access
/// policies by hub.xml, checks that the library lies inside the plugins folder,
/// reads the plugin's limits and config section from hub.xml, picks its
/// isolation (hub.xml overrides the manifest: IT decides what it trusts), and
/// loads it in process with the host services (from a shadow copy for a
/// reload) or starts its worker process. Used under the host's reload mutex.
class PluginBuilder {
public:
    struct Built {
        Manifest manifest;
        std::string library;  ///< Resolved, inside the plugins folder.
        std::string stamp;    ///< Of manifest and library, as loaded.
        std::shared_ptr<PluginInstance> instance;
        PluginLimits limits;
    };

    PluginBuilder(const PluginHost::Options& options, PluginFolder& folder);
    ~PluginBuilder();

    /// shadowCopy: load an in-process library from a copy of its own, as a
    /// reload beside the running version must.
    Built build(const std::string& manifestPath, bool shadowCopy);

private:
    std::shared_ptr<PluginInstance> instantiate(const Built& b, const std::string& isolation, PluginConfig config,
                                                bool shadowCopy);

    const PluginHost::Options& options_;
    PluginFolder& folder_;
    // kv_* and emit_event of calls on event loops run here; made with the first
    // plugin of execution "loop", and outlives every plugin (the host destroys
    // its plugins before this).
    std::unique_ptr<runtime::WorkerPool> offload_;
};

}  // namespace hub::host
