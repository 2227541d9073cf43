#pragma once

#include "hub/host/Manifest.h"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace Poco {
class Logger;
namespace Util {
class AbstractConfiguration;
}
}  // namespace Poco

namespace hub::http {
class Client;
}

namespace hub::host {

using Clock = std::chrono::steady_clock;

/// Who a call is made for, as the API authenticated them.
struct Caller {
    std::string subject;
    std::vector<std::string> roles;
    std::string actingFor;  ///< Set when a service token acts for a user.
};

/// A plugin's answer: a ch_status value and JSON (or a message on error).
struct CallResult {
    int status = 0;  ///< ch_status
    std::string body;
};

/// A library that failed to load; what() says why, for the log and the admin API.
class LoadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// What the host lends a plugin: its config section, the outbound HTTP client,
/// its logger. Outlives the LoadedPlugin.
struct PluginServices {
    Poco::Util::AbstractConfiguration* config = nullptr;  ///< The plugin's <config> section, may be null.
    http::Client* http = nullptr;
    Poco::Logger* logger = nullptr;
};

/// A running plugin, whatever its isolation: the host calls it only through this.
class PluginInstance {
public:
    virtual ~PluginInstance() = default;
    virtual const Manifest& manifest() const = 0;
    virtual const std::string& describeJson() const = 0;
    /// Runs an operation on the calling thread, returning by deadline at the
    /// latest where the isolation allows it. Never throws.
    virtual CallResult invoke(std::string_view operation, std::string_view input, const Caller& caller,
                              Clock::time_point deadline) noexcept = 0;
    /// The plugin's health JSON; {"status":"up"} when it has no health function.
    virtual CallResult health() noexcept = 0;
};

/// One loaded plugin library and the one instance created from it (isolation
/// "inproc").
///
/// Loading reads nothing but the library named by an already validated manifest,
/// checks the ABI before calling anything else, creates the instance, and checks
/// that describe() matches the manifest. Destruction destroys the instance, then
/// unloads the library: owners keep a shared_ptr for every call in flight, so the
/// library outlives everything it handed out.
class LoadedPlugin final : public PluginInstance {
public:
    LoadedPlugin(Manifest manifest, const std::string& libraryPath, PluginServices services);
    ~LoadedPlugin();

    LoadedPlugin(const LoadedPlugin&) = delete;
    LoadedPlugin& operator=(const LoadedPlugin&) = delete;

    const Manifest& manifest() const override { return manifest_; }
    const std::string& describeJson() const override { return describe_; }
    CallResult invoke(std::string_view operation, std::string_view input, const Caller& caller,
                      Clock::time_point deadline) noexcept override;
    CallResult health() noexcept override;

private:
    struct Impl;
    Manifest manifest_;
    std::string describe_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hub::host
