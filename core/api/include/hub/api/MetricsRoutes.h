#pragma once

#include "hub/api/Metrics.h"
#include "hub/api/Router.h"

#include <string>

namespace hub::events {
class Relay;
}
namespace hub::flows {
class FlowRunner;
}
namespace hub::host {
class PluginHost;
}
namespace hub::store {
class AuditLog;
class Database;
}

namespace hub::api {

/// What /metrics reports on; absent parts are left out.
struct MetricsServices {
    host::PluginHost* plugins = nullptr;
    store::AuditLog* audit = nullptr;
    events::Relay* relay = nullptr;
    store::Database* store = nullptr;  ///< Whether it can write, and the faults it met.
    const RequestMetrics* requests = nullptr;  ///< Latency histograms per route and plugin.
    /// When true, /metrics needs a bearer token whose principal has the role
    /// hub:admin or hub:metrics (401 without one, 403 without the role).
    bool requireToken = false;
    flows::FlowRunner* flows = nullptr;  ///< Flow messages kept and expired.
};

/// The role that may read /metrics when it needs a token (besides hub:admin).
inline constexpr const char* kMetricsRole = "hub:metrics";

/// Every series as Prometheus text (format 0.0.4).
std::string renderMetrics(const MetricsServices& services);

/// GET /metrics.
void addMetricsRoutes(Router& router, MetricsServices services);

}  // namespace hub::api
