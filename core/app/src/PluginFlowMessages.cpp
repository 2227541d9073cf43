#include "PluginFlowMessages.h"

#include <campushub/plugin.h>

#include <Poco/Logger.h>

namespace hub::app {

host::EmitEvent PluginFlowMessages::wrap(host::EmitEvent toOutbox) {
    return [this, toOutbox = std::move(toOutbox)](const std::string& plugin, std::string_view json) {
        // The host checked the event's shape; only its type decides the way here.
        const auto type = flows::engine::Value::fromJson(json).member("type");
        if (type.isString() && type.asString() == eventType) return deliver(plugin, json);
        return toOutbox(plugin, json);
    };
}

void PluginFlowMessages::attach(flows::FlowRunner* runner) {
    std::lock_guard lock(mutex_);
    runner_ = runner;
}

int PluginFlowMessages::deliver(const std::string& plugin, std::string_view eventJson) {
    auto& log = Poco::Logger::get("hub.flows");
    const auto data = flows::engine::Value::fromJson(eventJson).member("data");
    flows::FlowRunner::Message message;
    const auto& name = data.member("name");
    const auto& key = data.member("correlationKey");
    message.name = name.isString() ? name.asString() : std::string();
    message.correlationKey = key.isString() ? key.asString() : key.isNumber() ? key.toJson() : std::string();
    message.variables = data.member("variables").isObject() ? data.member("variables")
                                                            : flows::engine::Value(flows::engine::Value::Object{});
    message.actor = "plugin:" + plugin;
    if (message.name.rfind(plugin + ".", 0) != 0 || message.correlationKey.empty()) {
        log.warning("plugin %s: flow message '%s' refused: a plugin publishes messages named %s.* with a "
                    "correlationKey",
                    plugin, message.name, plugin);
        return CH_ERR_INVALID_ARGUMENT;
    }
    std::lock_guard lock(mutex_);
    if (!runner_) return CH_ERR_UNAVAILABLE;
    const auto delivered = runner_->deliverMessage(message);
    log.information("plugin %s: flow message %s (%s) reached %z instance(s)", plugin, message.name,
                    message.correlationKey, delivered.size());
    return delivered.empty() ? CH_ERR_NOT_FOUND : CH_OK;
}

}  // namespace hub::app
