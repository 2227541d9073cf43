#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::host {

/// A plugin's config section as the plugin sees it, the same in either
/// isolation: every key of its <config> that has a value, nested keys joined
/// with dots as config_get looks them up ("auth.user"), each value a string
/// with its ${...} references expanded once, by the hub.
///
/// In process, config_get answers from it and create() gets json(). A worker
/// process gets json() over its control socket and rebuilds the same config
/// with fromJson(), so config_get and create() see the very same keys, values
/// and bytes there. Immutable once made; each plugin instance keeps its own.
class PluginConfig {
public:
    /// Empty: a plugin without a config section.
    PluginConfig();

    /// Reads section, as a view of hub.xml's plugins.plugin[@name=X].config (null:
    /// empty). Throws std::runtime_error naming the key whose value cannot be read
    /// (a ${...} that refers to itself) or is not UTF-8.
    static PluginConfig fromSection(const Poco::Util::AbstractConfiguration* section);

    /// Reads json() back, on the worker's side. Throws std::runtime_error when
    /// text is not a JSON object of strings.
    static PluginConfig fromJson(std::string_view text);

    /// The value of key, or null when it is not set.
    const std::string* find(std::string_view key) const;
    std::size_t size() const { return values_.size(); }

    /// A JSON object of strings, keys in byte order:
    /// {"auth.user":"svc-hub","base_url":"https://..."}.
    const std::string& json() const { return json_; }

private:
    explicit PluginConfig(std::map<std::string, std::string, std::less<>> values);

    std::map<std::string, std::string, std::less<>> values_;
    std::string json_;
};

}  // namespace hub::host
