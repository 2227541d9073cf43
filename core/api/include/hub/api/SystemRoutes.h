#pragma once

#include "hub/api/Router.h"

namespace hub::host {
class PluginHost;
}
namespace hub::store {
class AuditLog;
class Database;
}  // namespace hub::store

namespace hub::api {

/// GET /api/v1/systems and POST /api/v1/systems/{system}/operations/{operation}:
/// the portal's way to call any connected system through its plugin.
void addSystemRoutes(Router& router, host::PluginHost& plugins, store::AuditLog* audit);

/// GET /healthz (the process answers), GET /readyz (plugins loaded and, with
/// `store`, the store can write; else 503 with the reason) and
/// GET /api/v1/openapi.json (the API's description).
void addHealthRoutes(Router& router, host::PluginHost& plugins, store::Database* store = nullptr);

}  // namespace hub::api
