#pragma once
// hubd's routes: the portal API, admin, privacy, console and /metrics, each
// registered with the parts it answers from, and the objects only the routes use.

#include "hub/api/CallKeys.h"
#include "hub/api/Metrics.h"
#include "hub/api/OwnedFields.h"
#include "hub/api/PluginActivity.h"
#include "hub/api/Router.h"
#include "hub/flows/Evaluation.h"

#include <memory>

namespace Poco::Util {
class AbstractConfiguration;
}
namespace hub::catalog {
class DataOwners;
}
namespace hub::identity {
class StaticDirectory;
}
namespace hub::runtime {
class WorkerPool;
}

namespace hub::app {

class ClusterChanges;
class FlowDeployments;
class PrivacyParts;
struct EventParts;
struct FlowParts;
struct IdentityParts;
struct Numbers;
struct PluginParts;
struct StoreParts;

class ApiRoutes {
public:
    /// The parts the routes answer from; they outlive the routes.
    struct Parts {
        Poco::Util::AbstractConfiguration& cfg;
        const Numbers& numbers;
        StoreParts& store;
        EventParts& events;
        const identity::StaticDirectory& directory;
        IdentityParts& identity;
        PluginParts& plugins;
        FlowDeployments& deployments;
        runtime::WorkerPool& blocking;  // database work of the API runs here, never on the I/O threads
        FlowParts& flows;
        PrivacyParts& privacy;
        std::shared_ptr<const catalog::DataOwners> dataOwners;
        ClusterChanges* changes = nullptr;  // admin changes recorded for the other hubs; null: none
    };

    /// Registers every route. /metrics goes on metricsRouter when metrics.port
    /// is set (its own listener, for ops), else on router.
    explicit ApiRoutes(const Parts& parts);

    api::Router router;
    /// Owned form fields, from the identity store or their department's plugin.
    api::OwnedFields ownedFields;
    flows::Evaluation evaluation;
    api::PluginActivity activity;
    api::RequestMetrics requestMetrics;
    api::Router metricsRouter;
    api::CallKeys callKeys;  // the portal's Idempotency-Key of direct plugin calls, in the store

private:
    void addServiceRoutes(const Parts& parts);
    void addApplicationAndTaskRoutes(const Parts& parts);
    void addAdminAndPrivacyRoutes(const Parts& parts);
    void addConsoleRoutes(const Parts& parts);
    void addMetricsRoutes(const Parts& parts);
};

}  // namespace hub::app
