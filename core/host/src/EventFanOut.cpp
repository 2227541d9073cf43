#include "EventFanOut.h"

#include <campushub/plugin.h>

#include <memory>

namespace hub::host {

std::vector<std::string> fanOut(const PluginRegistry::Entries& slots, const std::string& type,
                                const std::string& eventJson,
                                const std::function<void(const std::string& plugin, const CallResult&)>& refused) {
    auto event = std::make_shared<const std::string>(eventJson);
    std::vector<std::string> offered;
    for (const auto& [name, slot] : slots) {
        // The instance current now; a reload meanwhile does not change who gets it.
        auto plugin = std::atomic_load(&slot->plugin);
        if (!plugin->manifest().subscribesTo(type)) continue;
        bool queued = slot->pool->trySubmit([plugin, event, refused, pluginName = name] {
            CallResult r = plugin->onEvent(*event);
            if (r.status != CH_OK) refused(pluginName, r);
        });
        if (queued) {
            offered.push_back(name);
        } else {
            refused(name, {CH_ERR_UNAVAILABLE, "the plugin's queue is full or it is unloading"});
        }
    }
    return offered;
}

}  // namespace hub::host
