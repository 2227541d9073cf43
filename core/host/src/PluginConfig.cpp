#include "hub/host/PluginConfig.h"

#include "hub/common/JsonWriter.h"
#include "hub/common/Utf8.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <stdexcept>

namespace hub::host {

namespace {

using Values = std::map<std::string, std::string, std::less<>>;

// Every key under prefix that has a value, depth first. An element with
// children can have a value too (Poco gives its text): kept, as config_get
// has always answered it.
void collect(const Poco::Util::AbstractConfiguration& section, const std::string& prefix, Values& out) {
    Poco::Util::AbstractConfiguration::Keys keys;
    section.keys(prefix, keys);
    for (const auto& key : keys) {
        std::string full = prefix.empty() ? key : prefix + "." + key;
        try {
            if (section.hasProperty(full)) {
                std::string value = section.getString(full);
                // Checked here, not when the plugin asks: the JSON both
                // isolations get must carry key and value unchanged.
                if (!hub::isValidUtf8(full)) throw std::runtime_error("a config key is not valid UTF-8");
                if (!hub::isValidUtf8(value))
                    throw std::runtime_error("the value of config key '" + full + "' is not valid UTF-8");
                out.emplace(full, std::move(value));
            }
        } catch (const Poco::Exception& e) {
            // e.g. a ${...} reference to itself: say which key.
            throw std::runtime_error("config key '" + full + "' cannot be read: " + e.displayText());
        }
        collect(section, full, out);
    }
}

}  // namespace

PluginConfig::PluginConfig() : json_("{}") {}

PluginConfig::PluginConfig(Values values) : values_(std::move(values)) {
    json_ = "{";
    for (const auto& [key, value] : values_) {
        if (json_.size() > 1) json_ += ',';
        json::appendKey(json_, key);
        json::appendString(json_, value);
    }
    json_ += '}';
}

PluginConfig PluginConfig::fromSection(const Poco::Util::AbstractConfiguration* section) {
    Values values;
    if (section) collect(*section, "", values);
    return PluginConfig(std::move(values));
}

PluginConfig PluginConfig::fromJson(std::string_view text) {
    Poco::Dynamic::Var parsed;
    try {
        Poco::JSON::Parser parser;
        parsed = parser.parse(std::string(text));
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("config is not JSON: " + e.displayText());
    }
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) throw std::runtime_error("config is not a JSON object");
    Values values;
    for (const auto& [key, value] : *parsed.extract<Poco::JSON::Object::Ptr>()) {
        if (!value.isString()) throw std::runtime_error("config key '" + key + "' is not a string");
        values.emplace(key, value.extract<std::string>());
    }
    return PluginConfig(std::move(values));
}

const std::string* PluginConfig::find(std::string_view key) const {
    auto it = values_.find(key);
    return it == values_.end() ? nullptr : &it->second;
}

}  // namespace hub::host
