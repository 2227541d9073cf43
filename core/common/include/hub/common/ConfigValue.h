#pragma once

// Reading numbers from the hub's configuration with their allowed range, so a
// negative timeout or a port past 65535 stops the hub at start with the key's
// name, instead of wrapping or spinning later.

#include <optional>
#include <stdexcept>
#include <string>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::config {

/// A configuration value that is missing, malformed or out of range. what()
/// names the key, what is allowed and what was found.
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The inclusive range an integer key may take.
struct IntRange {
    int min;
    int max;
};

/// The integer at key (decimal, surrounding spaces allowed), which must lie in
/// range; fallback when the key is not set. Throws ConfigError, e.g.
/// "http.port must be an integer from 0 to 65535, got '70000'".
int readInt(const Poco::Util::AbstractConfiguration& config, const std::string& key, int fallback, IntRange range);

/// The same for a key that must be set.
int readInt(const Poco::Util::AbstractConfiguration& config, const std::string& key, IntRange range);

/// The integer at key if it is set (checked as readInt does), else nothing. For
/// keys another module reads itself: checked here, read there.
std::optional<int> readOptionalInt(const Poco::Util::AbstractConfiguration& config, const std::string& key,
                                   IntRange range);

}  // namespace hub::config
