#pragma once

// How a hub applies another hub's change (ClusterChanges.h), and catches up
// with the uploaded files at its start.

#include "ClusterChanges.h"

namespace Poco::Util {
class AbstractConfiguration;
}
namespace hub::catalog {
class Catalog;
}
namespace hub::flows {
class FlowRunner;
}
namespace hub::host {
class PluginHost;
}

namespace hub::app {

class FlowDeployments;
class Reloader;

struct ClusterTargets {
    const Poco::Util::AbstractConfiguration& cfg;
    catalog::Catalog& catalogue;
    host::PluginHost& plugins;
    FlowDeployments& deployments;
    flows::FlowRunner& runner;
    Reloader& reloader;
};

/// Applies each kind of change as the admin route or the signal did on the
/// node that made it, with what was checked there (a department's file was
/// checked against its department before it was stored).
ClusterChanges::Applier clusterApplier(ClusterTargets targets);

/// Writes every stored department file (catalogue, flows) whose copy in this
/// node's folders differs, and deletes those deleted: a node that was down,
/// or is new, serves what the others serve. Returns how many it changed;
/// logs and skips a file that fails.
std::size_t catchUpFiles(ClusterChanges& changes, const ClusterTargets& targets);

/// After a reload on this node that read the department folders as they are
/// on disk (an operator's edit by hand): records each department file whose
/// stored copy differs, and the deletion of each stored one that is gone, so
/// the other nodes (and this one's next start) follow the folders rather than
/// the last upload. Returns how many it recorded; throws when the store fails.
std::size_t recordLocalFiles(ClusterChanges& changes, const Poco::Util::AbstractConfiguration& cfg,
                             const FlowDeployments& deployments);

}  // namespace hub::app
