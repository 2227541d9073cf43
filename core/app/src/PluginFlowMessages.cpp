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
    const auto& id = data.member("messageId");
    if (id.isString()) message.messageId = id.asString().substr(0, 200);
    std::lock_guard lock(mutex_);
    if (!runner_) return CH_ERR_UNAVAILABLE;
    using Outcome = flows::FlowRunner::Publication::Outcome;
    const auto published = runner_->publishMessage(message);
    switch (published.outcome) {
    case Outcome::Delivered:
        log.information("plugin %s: flow message %s (%s) reached %z instance(s)", plugin, message.name,
                        message.correlationKey, published.instances.size());
        return CH_OK;
    case Outcome::Buffered:
        log.information("plugin %s: flow message %s (%s) kept for a wait that has not begun", plugin, message.name,
                        message.correlationKey);
        return CH_OK;
    case Outcome::Duplicate:
        log.information("plugin %s: flow message %s (%s) id %s came before: not applied again", plugin,
                        message.name, message.correlationKey, published.messageId);
        return CH_ERR_CONFLICT;
    case Outcome::NoWait: break;
    }
    return CH_ERR_NOT_FOUND;
}

}  // namespace hub::app
