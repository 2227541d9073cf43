#pragma once

#include "hub/api/Router.h"

namespace hub::events {
class Relay;
}
namespace hub::flows {
class ApplicationService;
class Evaluation;
}  // namespace hub::flows
namespace hub::runtime {
class WorkerPool;
}
namespace hub::store {
class AuditLog;
class Database;
}  // namespace hub::store

namespace hub::api {

class PluginActivity;

/// What the routes the web console needs (beyond the existing ones) use;
/// absent parts answer 404.
struct ConsoleApiServices {
    flows::ApplicationService* applications = nullptr;
    flows::Evaluation* evaluation = nullptr;
    events::Relay* relay = nullptr;
    PluginActivity* activity = nullptr;
    runtime::WorkerPool* blocking = nullptr;  ///< Database work runs here, never on an I/O thread.
    store::AuditLog* audit = nullptr;
    store::Database* store = nullptr;
};

/// POST /api/v1/applications/{id}/rating (the applicant, once the application
/// is closed; RatingRoutes.cpp); GET /admin/evaluation (hub:admin: every
/// department; a holder of a department role dept:<d>:<role>: that
/// department's; EvaluationRoutes.cpp); GET /admin/plugins/activity
/// (PluginActivityRoutes.cpp) and GET /admin/events/consumers
/// (RelayConsumerRoutes.cpp), hub:admin. Refusals and every answer of the
/// /admin routes are written to services.audit.
void addConsoleApiRoutes(Router& router, ConsoleApiServices services);

}  // namespace hub::api
