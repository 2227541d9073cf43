#pragma once
// Private to core/host.

#include "PluginRegistry.h"

#include <functional>
#include <string>
#include <vector>

namespace hub::host {

/// Offers an event to every plugin among slots whose manifest subscribes to its
/// type, each on that plugin's own pool, never on the calling thread; the
/// event's text is shared by the tasks, not copied per plugin. Returns the
/// names of the plugins it was queued for. refused is called (from a plugin's
/// worker, or here for a full queue) for each plugin that did not take it.
std::vector<std::string> fanOut(const PluginRegistry::Entries& slots, const std::string& type,
                                const std::string& eventJson,
                                const std::function<void(const std::string& plugin, const CallResult&)>& refused);

}  // namespace hub::host
