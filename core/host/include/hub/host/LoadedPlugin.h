#pragma once

#include "hub/host/Manifest.h"
#include "hub/host/PluginInstance.h"
#include "hub/host/PluginServices.h"

#include <memory>
#include <string>
#include <string_view>

namespace hub::host {

/// One loaded plugin library and the one instance created from it (isolation
/// "inproc").
///
/// Loading reads nothing but the library named by an already validated manifest,
/// checks the ABI before calling anything else, creates the instance with the
/// host services of PluginServices (src/HostServices.cpp), and checks that
/// describe() matches the manifest (describeMismatch). Destruction destroys the
/// instance, then unloads the library: owners keep a shared_ptr for every call
/// in flight, so the library outlives everything it handed out.
class LoadedPlugin final : public PluginInstance {
public:
    LoadedPlugin(Manifest manifest, const std::string& libraryPath, PluginServices services);
    ~LoadedPlugin();

    LoadedPlugin(const LoadedPlugin&) = delete;
    LoadedPlugin& operator=(const LoadedPlugin&) = delete;

    const Manifest& manifest() const override { return manifest_; }
    const std::string& describeJson() const override { return describe_; }
    using PluginInstance::invoke;
    CallResult invoke(std::string_view operation, std::string_view input, const Caller& caller,
                      const CallContext& context, Clock::time_point deadline) noexcept override;
    CallResult health() noexcept override;
    CallResult onEvent(std::string_view eventJson) noexcept override;

private:
    struct Impl;
    Manifest manifest_;
    std::string describe_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace hub::host
