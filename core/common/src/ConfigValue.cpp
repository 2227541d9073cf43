#include "hub/common/ConfigValue.h"

#include <Poco/String.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <cerrno>
#include <cstdlib>

namespace hub::config {

namespace {

[[noreturn]] void outOfRange(const std::string& key, IntRange range, const std::string& found) {
    // Quoted as found, cut short: a value may be anything an operator typed.
    std::string shown = found.size() > 64 ? found.substr(0, 64) + "..." : found;
    throw ConfigError(key + " must be an integer from " + std::to_string(range.min) + " to " +
                      std::to_string(range.max) + ", got '" + shown + "'");
}

}  // namespace

std::optional<int> readOptionalInt(const Poco::Util::AbstractConfiguration& config, const std::string& key,
                                   IntRange range) {
    if (!config.hasProperty(key)) return std::nullopt;
    // getString expands ${...} references, as getInt would.
    const std::string text = Poco::trim(config.getString(key));
    // strtoll rather than Poco's getInt: that one takes 0x hex and, past the
    // range of int, throws without naming the key.
    if (text.empty() || text.find_first_not_of("+-0123456789") != std::string::npos) outOfRange(key, range, text);
    errno = 0;
    char* end = nullptr;
    long long value = std::strtoll(text.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || value < range.min || value > range.max) outOfRange(key, range, text);
    return static_cast<int>(value);
}

int readInt(const Poco::Util::AbstractConfiguration& config, const std::string& key, int fallback, IntRange range) {
    return readOptionalInt(config, key, range).value_or(fallback);
}

int readInt(const Poco::Util::AbstractConfiguration& config, const std::string& key, IntRange range) {
    if (auto value = readOptionalInt(config, key, range)) return *value;
    throw ConfigError(key + " must be set (an integer from " + std::to_string(range.min) + " to " +
                      std::to_string(range.max) + ")");
}

}  // namespace hub::config
