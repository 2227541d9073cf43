#pragma once

#include "hub/api/Router.h"

namespace hub::host {
class PluginHost;
}
namespace hub::store {
class AuditLog;
}

namespace hub::api {

/// GET /api/v1/systems and POST /api/v1/systems/{system}/operations/{operation}:
/// the portal's way to call any connected system through its plugin.
void addSystemRoutes(Router& router, host::PluginHost& plugins, store::AuditLog* audit);

/// GET /healthz (the process answers), GET /readyz (plugins loaded) and
/// GET /api/v1/openapi.json (the API's description).
void addHealthRoutes(Router& router, host::PluginHost& plugins);

}  // namespace hub::api
