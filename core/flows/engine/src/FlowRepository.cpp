#include "hub/flows/engine/FlowRepository.h"

#include <Poco/Data/Transaction.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace hub::flows::engine {

FlowRepository::FlowRepository(store::Database& db, EngineStore& store, std::string directory, DeployOptions options)
    : db_(db), store_(store), directory_(std::move(directory)), options_(std::move(options)) {}

void FlowRepository::setOptions(DeployOptions options) {
    std::lock_guard lock(mutex_);
    options_ = std::move(options);
}

FlowRepository::Report FlowRepository::reload(std::int64_t nowMs) {
    namespace fs = std::filesystem;
    Report report;
    std::vector<fs::path> files;
    std::error_code error;
    for (fs::directory_iterator it(directory_, error), end; !error && it != end; it.increment(error))
        if (it->is_regular_file() && it->path().extension() == ".bpmn") files.push_back(it->path());
    if (error) {
        report.refused.emplace_back(directory_, "cannot list the folder: " + error.message());
        return report;
    }
    std::sort(files.begin(), files.end());

    DeployOptions options;
    {
        std::lock_guard lock(mutex_);
        options = options_;
    }
    // Parsed outside the lock: readers keep the current set meanwhile.
    std::map<std::string, std::pair<DefinitionPtr, std::string>> parsed;  // flowId -> definition, file
    for (const auto& path : files) {
        const std::string name = path.filename().string();
        std::ifstream in(path, std::ios::binary);
        // Read at most one byte past the limit: deployFlow refuses the rest.
        std::string xml(options.maxBytes + 1, '\0');
        in.read(xml.data(), static_cast<std::streamsize>(xml.size()));
        xml.resize(static_cast<std::size_t>(in.gcount()));
        if (in.bad()) {
            report.refused.emplace_back(name, "cannot read the file");
            continue;
        }
        try {
            auto definition = deployFlow(std::move(xml), name, options);
            if (parsed.count(definition->flowId)) {
                report.refused.emplace_back(name, name + ": process id '" + definition->flowId +
                                                      "' is already defined by " + parsed[definition->flowId].second);
                continue;
            }
            for (const auto& warning : definition->warnings) report.warnings.push_back(name + ": " + warning);
            parsed[definition->flowId] = {definition, name};
        } catch (const DeployError& e) {
            report.refused.emplace_back(name, e.what());
        }
    }

    // Versions come from the store, so every hub sharing it agrees on them.
    std::map<std::string, std::pair<DefinitionPtr, int>> fresh;
    {
        auto session = db_.session();
        Poco::Data::Transaction tx(session, true);
        for (const auto& [flowId, entry] : parsed)
            fresh[flowId] = {entry.first, store_.saveDeployment(session, *entry.first, nowMs)};
        tx.commit();
    }

    std::lock_guard lock(mutex_);
    for (const auto& [flowId, entry] : fresh) {
        auto current = latest_.find(flowId);
        if (current != latest_.end() && current->second.second == entry.second) {
            report.unchanged.push_back(flowId);
            continue;
        }
        report.deployed.push_back(flowId + " v" + std::to_string(entry.second) + " (" + entry.first->file + ")");
        latest_[flowId] = entry;
        versions_[{flowId, entry.second}] = entry.first;
    }
    return report;
}

std::pair<DefinitionPtr, int> FlowRepository::latest(const std::string& flowId) const {
    std::lock_guard lock(mutex_);
    auto found = latest_.find(flowId);
    if (found == latest_.end()) return {nullptr, 0};
    return found->second;
}

DefinitionPtr FlowRepository::version(const std::string& flowId, int number) {
    {
        std::lock_guard lock(mutex_);
        auto found = versions_.find({flowId, number});
        if (found != versions_.end()) return found->second;
    }
    std::optional<std::string> xml;
    {
        auto session = db_.session();
        xml = store_.deploymentXml(session, flowId, number);
    }
    if (!xml) return nullptr;
    DeployOptions options;
    {
        std::lock_guard lock(mutex_);
        options = options_;
    }
    // An old version is run as it was deployed: its plugin operations are not
    // judged again (a plugin may have changed since; its calls then fail).
    options.operations = nullptr;
    try {
        auto definition = deployFlow(std::move(*xml), flowId + " v" + std::to_string(number), options);
        std::lock_guard lock(mutex_);
        versions_[{flowId, number}] = definition;
        return definition;
    } catch (const DeployError&) {
        return nullptr;
    }
}

std::vector<std::string> FlowRepository::flowIds() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> ids;
    for (const auto& [flowId, entry] : latest_) ids.push_back(flowId);
    return ids;
}

}  // namespace hub::flows::engine
