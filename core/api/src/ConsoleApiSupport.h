#pragma once

// What the console's route groups share. Private to hub::api.

#include "AdminRouteSupport.h"

#include "hub/api/ConsoleApiRoutes.h"

#include <set>
#include <string>

namespace hub::api::detail {

/// The admin routes' helpers (blocking, AdminRouter) take AdminServices.
inline AdminServices adminServicesOf(const ConsoleApiServices& s) {
    AdminServices a;
    a.relay = s.relay;
    a.blocking = s.blocking;
    a.audit = s.audit;
    a.store = s.store;
    return a;
}

/// The departments in which the principal holds any role dept:<d>:<role>.
inline std::set<std::string> departmentsOf(const Principal& p) {
    std::set<std::string> out;
    for (const auto& role : p.roles) {
        if (role.rfind("dept:", 0) != 0) continue;
        auto colon = role.find(':', 5);
        if (colon != std::string::npos && colon > 5) out.insert(role.substr(5, colon - 5));
    }
    return out;
}

void addRatingRoutes(Router& router, const ConsoleApiServices& s);
void addEvaluationRoutes(Router& router, const ConsoleApiServices& s);
void addPluginActivityRoutes(Router& router, const ConsoleApiServices& s);
void addRelayConsumerRoutes(Router& router, const ConsoleApiServices& s);

}  // namespace hub::api::detail
