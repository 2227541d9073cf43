#pragma once

// The checks on a read process as a whole (links, gateways, reachability,
// static deadlocks, plugin operations, candidate groups). Private to the engine.

#include "hub/flows/engine/Deployer.h"

namespace hub::flows::engine::detail {

void validate(Definition& definition, const DeployOptions& options, std::vector<Problem>& problems);

}  // namespace hub::flows::engine::detail
