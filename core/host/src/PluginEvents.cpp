// PluginHost's per-plugin event delivery: who subscribes to a type, and one
// event offered to one plugin, answered on the calling thread. A durable
// delivery (a cursor per plugin, retries, dead letters) is built on these.
#include "hub/host/PluginHost.h"

#include "PluginRegistry.h"

#include "hub/common/Exceptions.h"

#include <campushub/plugin.h>

namespace hub::host {

std::vector<std::string> PluginHost::subscribers(std::string_view type) const {
    std::vector<std::string> names;
    for (const auto& [name, slot] : registry_->all())
        if (std::atomic_load(&slot->plugin)->manifest().subscribesTo(type)) names.push_back(name);
    return names;
}

CallResult PluginHost::deliverEventTo(std::string_view plugin, std::string_view eventJson) {
    try {
        auto slot = registry_->find(plugin);
        if (!slot) return {CH_ERR_UNAVAILABLE, "no plugin named " + std::string(plugin) + " is loaded"};
        // Holds the instance (and its library) until the answer, as a call does.
        std::shared_ptr<PluginInstance> instance = std::atomic_load(&slot->plugin);
        return instance->onEvent(eventJson);
    } catch (...) {
        return {CH_ERR_INTERNAL, "the hub failed while offering the event: " + currentExceptionText()};
    }
}

}  // namespace hub::host
