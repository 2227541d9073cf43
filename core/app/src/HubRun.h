#pragma once

#include "Reloader.h"

#include <string>
#include <utility>
#include <vector>

namespace Poco::Util {
class LayeredConfiguration;
}

namespace hub::app {

/// Runs the hub on `cfg`: starts its parts in order (HubParts.h), the routes
/// and then the listeners last, serves until a stop signal (reloading on
/// SIGHUP from `layers`), and stops them in reverse. `defines` are the -D
/// keys, checked against the plugins loaded. Throws when the hub cannot start;
/// whatever had started is stopped first.
void runHub(Poco::Util::LayeredConfiguration& cfg, const std::vector<std::pair<std::string, std::string>>& defines,
            const Reloader::Layers& layers);

}  // namespace hub::app
