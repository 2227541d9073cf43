#pragma once

// hubd's BPMN flows (issue 14): the engine's tables and the folder of
// deployed flows (flows.dir), checked against the loaded plugins' manifests
// and the configured external candidate groups. Built at start, reloaded on
// SIGHUP and by POST /admin/flows/reload (docs/flows/bpmn.md, "In hubd").

#include "hub/api/TaskRoutes.h"
#include "hub/flows/engine/EngineStore.h"
#include "hub/flows/engine/FlowRepository.h"
#include "hub/host/PluginHost.h"
#include "hub/store/Database.h"

#include <Poco/Util/AbstractConfiguration.h>

#include <functional>
#include <mutex>
#include <set>
#include <string>

namespace hub::app {

class FlowDeployments {
public:
    /// Migrates the engine's tables and deploys every file of `flows.dir`.
    /// A refused file is logged (logger hub.flows) and leaves its flow out;
    /// hubd still starts, as items whose flow is not deployed keep today's path.
    /// `pluginDepartment`: the department a plugin belongs to
    /// (plugins.plugin[@name].department); a department's flow may call its own
    /// department's plugins and those of none. Null: no plugin belongs to one.
    FlowDeployments(store::Database& db, const Poco::Util::AbstractConfiguration& config,
                    const host::PluginHost& plugins,
                    std::function<std::string(const std::string&)> pluginDepartment = {});

    /// Reads the folder again with the plugins' manifests and the external
    /// groups of `config`. Returns a line for the log; throws with every
    /// refusal (the refused flows keep their running version).
    std::string reload(const Poco::Util::AbstractConfiguration& config);

    /// A department admin's own files (flows.departmentsDir/<department>/):
    /// checked first (deployFlow, then the department rule: candidate groups,
    /// plugins, process id), written only when they pass, then the
    /// department's folder alone is deployed.
    api::DepartmentFlowChange putDepartmentFlow(const Poco::Util::AbstractConfiguration& config,
                                                const std::string& department, const std::string& file,
                                                const std::string& xml);
    api::DepartmentFlowChange removeDepartmentFlow(const Poco::Util::AbstractConfiguration& config,
                                                   const std::string& department, const std::string& file);
    api::DepartmentFlowChange reloadDepartment(const Poco::Util::AbstractConfiguration& config,
                                               const std::string& department);

    /// Why a department's flow reaches past `department` (one line each; none: it does not).
    std::vector<std::string> reachesPast(const flows::engine::Definition& definition, const std::string& department,
                                         const std::set<std::string>& externalGroups) const;

    /// flows.externalGroups: the candidate groups the external approval engine handles.
    static std::set<std::string> externalGroups(const Poco::Util::AbstractConfiguration& config);

    /// flows.departmentsDir: <department>/<file>.bpmn under it.
    const std::string& departmentsDirectory() const { return departmentsDirectory_; }

    flows::engine::EngineStore& store() { return store_; }
    flows::engine::FlowRepository& repository() { return repository_; }

private:
    flows::engine::DeployOptions options(const Poco::Util::AbstractConfiguration& config) const;

    api::DepartmentFlowChange deployDepartment(const std::string& department);

    const host::PluginHost& plugins_;
    std::string directory_;
    std::string departmentsDirectory_;
    std::function<std::string(const std::string&)> pluginDepartment_;
    std::set<std::string> externalGroups_;  // as of the last deployment; under reloadMutex_
    flows::engine::EngineStore store_;
    flows::engine::FlowRepository repository_;
    std::mutex reloadMutex_;  // SIGHUP and the admin route may reload at once
};

}  // namespace hub::app
