#pragma once

// The deployed flows: the .bpmn files of a folder (config/flows/ for the
// demo), each checked by deployFlow and stored as a deployment (EngineStore),
// plus every older version an instance may still run on. A reload that finds
// a file refused keeps that flow's running version; a running instance
// finishes on the version it started with, read back from the store after a
// restart.

#include "hub/flows/engine/Deployer.h"
#include "hub/flows/engine/EngineStore.h"

#include <functional>
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
        std::vector<std::string> withdrawn;  ///< reloadDepartment: flow ids whose file is gone.
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

    // A department's own flows (docs/privacy.md, "Delegated administration"):
    // <departments folder>/<department>/*.bpmn, known by the name
    // departments/<department>/<file>, deployed by reload() after the folder's
    // own files, and by reloadDepartment() on their own.

    /// Where the departments' folders are; empty (the default): none.
    void setDepartmentsDirectory(std::string directory);

    /// Why a department's flow reaches past its department (one line each);
    /// none: it does not. Such a file is refused like one that does not deploy.
    using DepartmentCheck =
        std::function<std::vector<std::string>(const Definition& definition, const std::string& department)>;
    void setDepartmentCheck(DepartmentCheck check);

    /// Reads `department`'s folder only: deploys its new and changed files and
    /// withdraws its flows whose file is gone (new instances no longer start
    /// on them; running ones finish on their version). Every other flow stays
    /// as it is, whatever its file holds now. A file whose process id is the
    /// current flow of a file outside the folder is refused.
    Report reloadDepartment(const std::string& department, std::int64_t nowMs);

    /// The department of a file name as reported ("departments/<d>/<file>"), "" for the folder's own.
    static std::string departmentOfFile(const std::string& file);

private:
    struct Source {
        std::string path;
        std::string name;        ///< As reported and stored: file, or departments/<d>/<file>.
        std::string department;  ///< "" for the folder's own files.
    };
    using Parsed = std::map<std::string, std::pair<DefinitionPtr, std::string>>;  // flowId -> definition, name
    Parsed parse(const std::vector<Source>& sources, Report& report);
    void publish(const Parsed& parsed, Report& report, std::int64_t nowMs);
    std::vector<Source> departmentSources(const std::string& department, Report& report) const;

    store::Database& db_;
    EngineStore& store_;
    std::string directory_;
    mutable std::mutex mutex_;
    DeployOptions options_;
    std::string departmentsDirectory_;
    DepartmentCheck departmentCheck_;
    std::map<std::string, std::pair<DefinitionPtr, int>> latest_;
    std::map<std::pair<std::string, int>, DefinitionPtr> versions_;
};

}  // namespace hub::flows::engine
