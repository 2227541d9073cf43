#pragma once

// hubd's BPMN flows (issue 14): the engine's tables and the folder of
// deployed flows (flows.dir), checked against the loaded plugins' manifests
// and the configured external candidate groups. Built at start, reloaded on
// SIGHUP and by POST /admin/flows/reload (docs/flows/bpmn.md, "In hubd").

#include "hub/flows/engine/EngineStore.h"
#include "hub/flows/engine/FlowRepository.h"
#include "hub/host/PluginHost.h"
#include "hub/store/Database.h"

#include <Poco/Util/AbstractConfiguration.h>

#include <mutex>
#include <set>
#include <string>

namespace hub::app {

class FlowDeployments {
public:
    /// Migrates the engine's tables and deploys every file of `flows.dir`.
    /// A refused file is logged (logger hub.flows) and leaves its flow out;
    /// hubd still starts, as items whose flow is not deployed keep today's path.
    FlowDeployments(store::Database& db, const Poco::Util::AbstractConfiguration& config,
                    const host::PluginHost& plugins);

    /// Reads the folder again with the plugins' manifests and the external
    /// groups of `config`. Returns a line for the log; throws with every
    /// refusal (the refused flows keep their running version).
    std::string reload(const Poco::Util::AbstractConfiguration& config);

    /// flows.externalGroups: the candidate groups the external approval engine handles.
    static std::set<std::string> externalGroups(const Poco::Util::AbstractConfiguration& config);

    flows::engine::EngineStore& store() { return store_; }
    flows::engine::FlowRepository& repository() { return repository_; }

private:
    flows::engine::DeployOptions options(const Poco::Util::AbstractConfiguration& config) const;

    const host::PluginHost& plugins_;
    std::string directory_;
    flows::engine::EngineStore store_;
    flows::engine::FlowRepository repository_;
    std::mutex reloadMutex_;  // SIGHUP and the admin route may reload at once
};

}  // namespace hub::app
