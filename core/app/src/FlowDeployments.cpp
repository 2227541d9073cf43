#include "FlowDeployments.h"

#include <Poco/Logger.h>
#include <Poco/StringTokenizer.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>

namespace hub::app {
namespace {

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Poco::Logger& deploymentLogger() { return Poco::Logger::get("hub.flows"); }

}  // namespace

FlowDeployments::FlowDeployments(store::Database& db, const Poco::Util::AbstractConfiguration& config,
                                 const host::PluginHost& plugins)
    : plugins_(plugins), directory_(config.getString("flows.dir", "config/flows")), store_(db),
      repository_(db, store_, directory_) {
    std::error_code error;
    if (!std::filesystem::is_directory(directory_, error)) {
        // Not an error: a hub without flows runs every item on the stand-in path.
        deploymentLogger().information("flows.dir %s: no such folder; no BPMN flow is deployed", directory_);
        return;
    }
    try {
        deploymentLogger().information("%s", reload(config));
    } catch (const std::exception& e) {
        // Already logged per file; the other flows run.
        deploymentLogger().warning("flows: %s deployed in all; the refused ones are left out",
                         std::to_string(repository_.flowIds().size()));
    }
}

flows::engine::DeployOptions FlowDeployments::options(const Poco::Util::AbstractConfiguration& config) const {
    flows::engine::DeployOptions o;
    // A snapshot of the manifests as loaded now: a plugin reloaded later is
    // checked again on the next flow reload.
    std::map<std::string, std::set<std::string>> declared;
    for (const auto& plugin : plugins_.list())
        for (const auto& operation : plugin.operations) declared[plugin.name].insert(operation.name);
    o.operations = [declared = std::move(declared)](const std::string& plugin, const std::string& operation) {
        auto found = declared.find(plugin);
        if (found == declared.end()) return flows::engine::OperationCheck::PluginNotLoaded;
        return found->second.count(operation) ? flows::engine::OperationCheck::Known
                                              : flows::engine::OperationCheck::UnknownOperation;
    };
    o.externalGroups = externalGroups(config);
    return o;
}

std::set<std::string> FlowDeployments::externalGroups(const Poco::Util::AbstractConfiguration& config) {
    Poco::StringTokenizer groups(config.getString("flows.externalGroups", ""), ",",
                                 Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    return {groups.begin(), groups.end()};
}

std::string FlowDeployments::reload(const Poco::Util::AbstractConfiguration& config) {
    std::lock_guard lock(reloadMutex_);
    std::error_code error;
    if (!std::filesystem::is_directory(directory_, error) && repository_.flowIds().empty())
        return "no folder " + directory_ + ", no flows";
    repository_.setOptions(options(config));
    const auto report = repository_.reload(nowMs());
    for (const auto& line : report.deployed) deploymentLogger().information("flow deployed: %s", line);
    for (const auto& warning : report.warnings) deploymentLogger().warning("flow: %s", warning);
    std::string refused;
    for (const auto& [file, reason] : report.refused) {
        deploymentLogger().error("flow refused: %s: %s", file, reason);
        refused += (refused.empty() ? "" : "; ") + file + ": " + reason;
    }
    const std::string summary = "flows: " + std::to_string(report.deployed.size()) + " deployed, " +
                                std::to_string(report.unchanged.size()) + " unchanged, " +
                                std::to_string(report.refused.size()) + " refused";
    if (!refused.empty()) throw std::runtime_error(summary + " (the refused keep their running version): " + refused);
    return summary;
}

}  // namespace hub::app
