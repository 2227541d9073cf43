#pragma once

#include "hub/api/Router.h"

namespace hub::host {
class PluginHost;
}
namespace hub::store {
class AuditLog;
class Database;
}  // namespace hub::store
namespace hub::runtime {
class WorkerPool;
}

namespace hub::api {

class CallKeys;

/// Where a call's Idempotency-Key is kept (CallKeys): without `calls`, the key
/// only reaches the plugin (a hub of its own, tests); with it, a retry on any
/// hub of the database is answered from the stored result. The store's work
/// runs on `blocking` (never on an I/O thread); `database` counts its faults.
struct SystemCallKeys {
    CallKeys* calls = nullptr;
    store::Database* database = nullptr;
    runtime::WorkerPool* blocking = nullptr;
};

/// GET /api/v1/systems and POST /api/v1/systems/{system}/operations/{operation}:
/// the portal's way to call any connected system through its plugin.
void addSystemRoutes(Router& router, host::PluginHost& plugins, store::AuditLog* audit, SystemCallKeys keys = {});

/// GET /healthz (the process answers), GET /readyz (plugins loaded and, with
/// `store`, the store can write; else 503 with the reason) and
/// GET /api/v1/openapi.json (the API's description).
void addHealthRoutes(Router& router, host::PluginHost& plugins, store::Database* store = nullptr);

}  // namespace hub::api
