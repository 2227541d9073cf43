#pragma once

#include "hub/api/Router.h"

#include <cstdint>
#include <functional>
#include <optional>

namespace hub::identity {
class IdentityDirectory;
class SourcedFields;
class Syncer;
}  // namespace hub::identity
namespace hub::events {
class Relay;
}
namespace hub::catalog {
class Catalog;
}
namespace hub::host {
class PluginHost;
}  // namespace hub::host
namespace hub::runtime {
class WorkerPool;
}
namespace hub::store {
class AuditLog;
class Database;
}  // namespace hub::store

namespace hub::api {

class AnswerPolicy;

/// What the identity and admin routes need; absent parts answer 404/503.
struct AdminServices {
    identity::IdentityDirectory* directory = nullptr;  ///< Synced persons (LDAP).
    /// Person fields other sources own (a plugin's identity_submit); shown with a person.
    identity::SourcedFields* sourcedFields = nullptr;
    identity::Syncer* syncer = nullptr;                 ///< Null when no directory is configured.
    events::Relay* relay = nullptr;
    host::PluginHost* plugins = nullptr;
    catalog::Catalog* catalog = nullptr;
    runtime::WorkerPool* blocking = nullptr;               ///< For database and directory work.
    store::AuditLog* audit = nullptr;                   ///< Admin calls and refusals; its counters in /metrics.
    store::Database* store = nullptr;                   ///< Store faults met by these routes are counted there.
    /// Persons from config (identity.static), as JSON, when not synced.
    std::function<std::optional<std::string>(const std::string& id)> staticPerson;
    /// Which fields of a person each caller sees; null: the defaults (AnswerPolicy()).
    const AnswerPolicy* answers = nullptr;
    /// The department a plugin belongs to (plugins.plugin[@name].department), "" for
    /// none: then only hub:admin manages it. Null: no plugin belongs to a department.
    std::function<std::string(const std::string& plugin)> pluginDepartment;
    /// The department of an application ("" when unknown): the dead letters about
    /// it are that department's. Null: dead letters are hub:admin's only.
    std::function<std::string(const std::string& applicationId)> applicationDepartment;
    /// Told after a change these routes made took effect on this hub, so that
    /// every hub on the same database applies it too (hubd's ClusterChanges):
    /// kind "catalog.department" (subject: the department; content: the file's
    /// new text, nullopt when it was deleted), "catalog.department.reload",
    /// "catalog.reload", "plugin.reload", "plugin.unload" (subject: the
    /// plugin), "plugin.rescan". Must not throw. Null: a hub of its own.
    std::function<void(const std::string& kind, const std::string& subject, const std::optional<std::string>& content)>
        changed;
    /// The newest change of any hub this one has applied (GET /admin/cluster). Null: not shown.
    std::function<std::int64_t()> changesGeneration;
};

/// GET /api/v1/identities/me, GET /api/v1/identities/{id} (one's own; anyone's
/// for hub:admin and for clerks and department admins, with the fields
/// AnswerPolicy gives them) and, for hub:admin only, GET /api/v1/identities?q=,
/// GET/POST /admin/identity/sync, GET /admin/events/dead-letters,
/// POST /admin/events/dead-letters/replay, GET /admin/plugins (refusals too),
/// POST /admin/plugins/rescan, POST /admin/plugins/{name}/reload,
/// DELETE /admin/plugins/{name}, POST /admin/catalog/reload, GET
/// /admin/applications/{id}/trace (TraceRoutes.cpp) (GET /metrics is in
/// MetricsRoutes.h). A department admin (dept:<d>:admin) manages its
/// department's plugins and dead letters (docs/privacy.md). The hub:admin routes carry their role as a
/// RouteAccess (checked by the server); each of their answers, and each refusal
/// of another person's identity, is written to services.audit with the actor,
/// the method and path, outcome and status (system left empty).
void addAdminRoutes(Router& router, AdminServices services);

}  // namespace hub::api
