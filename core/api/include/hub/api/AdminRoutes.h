#pragma once

#include "hub/api/Router.h"

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
};

/// GET /api/v1/identities/me, GET /api/v1/identities/{id} (one's own, or any
/// with hub:admin) and, for hub:admin only, GET /api/v1/identities?q=,
/// GET/POST /admin/identity/sync, GET /admin/events/dead-letters,
/// POST /admin/events/dead-letters/replay, GET /admin/plugins (refusals too),
/// POST /admin/plugins/rescan, POST /admin/plugins/{name}/reload,
/// DELETE /admin/plugins/{name}, POST /admin/catalog/reload, GET
/// /admin/applications/{id}/trace (TraceRoutes.cpp) (GET /metrics is in
/// MetricsRoutes.h). The hub:admin routes carry their role as a
/// RouteAccess (checked by the server); each of their answers, and each refusal
/// of another person's identity, is written to services.audit with the actor,
/// the method and path, outcome and status (system left empty).
void addAdminRoutes(Router& router, AdminServices services);

}  // namespace hub::api
