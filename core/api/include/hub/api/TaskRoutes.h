#pragma once

#include "hub/api/Router.h"

#include <functional>
#include <string>
#include <vector>

namespace hub::catalog {
class Catalog;
}
namespace hub::flows {
class ApplicationService;
class FlowRunner;
}  // namespace hub::flows
namespace hub::flows::engine {
class EngineStore;
class FlowRepository;
}  // namespace hub::flows::engine
namespace hub::runtime {
class WorkerPool;
}
namespace hub::store {
class AuditLog;
class Database;
}  // namespace hub::store

namespace hub::api {

/// What a change to a department's own flows did (hubd's FlowDeployments).
struct DepartmentFlowChange {
    enum class Outcome {
        Done,      ///< Written and deployed (200); problems: other files of the folder refused.
        NotFound,  ///< No such file (404).
        Foreign,   ///< It names another department's groups, plugin or flow (403); nothing changed.
        Invalid,   ///< It does not deploy (422); nothing changed.
    };
    Outcome outcome = Outcome::Done;
    std::string summary;
    std::vector<std::string> problems;  ///< Each with file, line and element.
};

/// A department admin's own BPMN files (docs/privacy.md, "Delegated
/// administration"): flows.departmentsDir/<department>/<file>.bpmn.
struct DepartmentFlows {
    /// Checks `xml` and, when it passes, writes it and deploys the department's folder.
    std::function<DepartmentFlowChange(const std::string& department, const std::string& file, const std::string& xml)>
        put;
    /// Deletes the file and deploys the department's folder (its flow is withdrawn).
    std::function<DepartmentFlowChange(const std::string& department, const std::string& file)> remove;
    /// Deploys the department's folder as it is on disk, and nothing else.
    std::function<DepartmentFlowChange(const std::string& department)> reload;
};

/// What the clerks' task routes need (all required).
struct TaskServices {
    flows::ApplicationService* applications = nullptr;
    flows::FlowRunner* runner = nullptr;
    flows::engine::EngineStore* engineStore = nullptr;
    flows::engine::FlowRepository* flows = nullptr;
    store::Database* store = nullptr;
    runtime::WorkerPool* blocking = nullptr;  ///< Database work, never on the I/O threads.
    store::AuditLog* audit = nullptr;
    /// POST /admin/flows/reload: deploys flows.dir again; returns the summary,
    /// throws with every refusal (the refused flows keep their running version).
    std::function<std::string()> reloadFlows;
    /// Which department's items use a flow: a department admin sees those flows.
    /// Null: the flows are hub:admin's only.
    catalog::Catalog* catalog = nullptr;
    /// PUT/DELETE /admin/flows/departments/{department}/{file}, POST
    /// /admin/flows/departments/{department}/reload; members null: 503.
    DepartmentFlows departmentFlows;
};

/// The BPMN flows' user tasks (docs/flows/bpmn.md, "In hubd"):
/// GET /api/v1/tasks (the caller's: a candidate group among their roles, or
/// assigned to them; every open task for hub:admin; filters department, item,
/// overdue), POST /api/v1/tasks/{id}/claim, /unclaim, /complete
/// ({decision: approve|reject|return_for_supplement, comment, fields}); only
/// a member of the task's candidate groups, its assignee, the admin of the
/// application's department (dept:<d>:admin) or hub:admin may act on a task. Of two clerks completing one task at once, one wins and the
/// other gets 409. GET /api/v1/applications/{id}/flow. And, for hub:admin
/// and, narrowed to their departments, department admins: GET /admin/flows
/// (the flows their items use), GET /admin/flows/incidents, POST
/// /admin/flows/incidents/{id}/retry; POST /admin/flows/reload is hub:admin's.
void addTaskRoutes(Router& router, TaskServices services);

}  // namespace hub::api
