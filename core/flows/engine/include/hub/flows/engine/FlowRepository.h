#pragma once

// The deployed flows: the .bpmn files of a folder (config/flows/ for the
// demo), each checked by deployFlow and stored as a deployment (EngineStore),
// plus every older version an instance may still run on. A reload that finds
// a file refused keeps that flow's running version; a running instance
// finishes on the version it started with, read back from the store after a
// restart.

#include "hub/flows/engine/Deployer.h"
#include "hub/flows/engine/EngineStore.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace hub::flows::engine {

class FlowRepository {
public:
    /// What a reload did, per file.
    struct Report {
        std::vector<std::string> deployed;   ///< "<flowId> v<n> (<file>)": new or changed.
        std::vector<std::string> unchanged;  ///< flow ids whose file did not change.
        std::vector<std::pair<std::string, std::string>> refused;  ///< file, DeployError's text.
        std::vector<std::string> warnings;   ///< e.g. a plugin not loaded.
    };

    FlowRepository(store::Database& db, EngineStore& store, std::string directory, DeployOptions options = {});

    /// Reads every *.bpmn file of the folder (sorted by name), deploys the new
    /// and changed ones, keeps the current version of a flow whose file is
    /// refused or gone. Thread-safe; readers see the old or the new set.
    Report reload(std::int64_t nowMs);

    /// The newest version of a flow (what a new instance starts on), or {nullptr, 0}.
    std::pair<DefinitionPtr, int> latest(const std::string& flowId) const;

    /// A given version (what a running instance continues on), from memory or
    /// the store; nullptr when there is no such deployment or its file no
    /// longer deploys (then the instance needs an admin).
    DefinitionPtr version(const std::string& flowId, int version);

    /// The ids of the flows that have a current version.
    std::vector<std::string> flowIds() const;

    void setOptions(DeployOptions options);

private:
    store::Database& db_;
    EngineStore& store_;
    std::string directory_;
    mutable std::mutex mutex_;
    DeployOptions options_;
    std::map<std::string, std::pair<DefinitionPtr, int>> latest_;
    std::map<std::pair<std::string, int>, DefinitionPtr> versions_;
};

}  // namespace hub::flows::engine
