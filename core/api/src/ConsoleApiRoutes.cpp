// The routes the web console needs beyond the existing ones, group by group.
#include "ConsoleApiSupport.h"

namespace hub::api {

void addConsoleApiRoutes(Router& router, ConsoleApiServices services) {
    detail::addRatingRoutes(router, services);
    detail::addEvaluationRoutes(router, services);
    detail::addPluginActivityRoutes(router, services);
    detail::addRelayConsumerRoutes(router, services);
}

}  // namespace hub::api
