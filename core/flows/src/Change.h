#pragma once

// The one change ApplicationService::applyChange writes. Private to hub::flows.

#include "hub/flows/ApplicationService.h"

#include <optional>
#include <string>
#include <vector>

namespace hub::flows {

/// What one change does to an application, decided from its current state.
struct ApplicationService::Change {
    ApplicationStatus to;
    std::string actor;
    std::string reason;
    std::optional<std::string> formJson;
    std::optional<std::vector<std::string>> materials;
    std::optional<std::string> resultJson;
};

}  // namespace hub::flows
