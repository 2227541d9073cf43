#include "FlowDeployments.h"

#include <Poco/Logger.h>
#include <Poco/StringTokenizer.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
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
                                 const host::PluginHost& plugins,
                                 std::function<std::string(const std::string&)> pluginDepartment)
    : plugins_(plugins), directory_(config.getString("flows.dir", "config/flows")),
      departmentsDirectory_(config.getString("flows.departmentsDir", directory_ + "/departments")),
      pluginDepartment_(std::move(pluginDepartment)), store_(db), repository_(db, store_, directory_) {
    repository_.setDepartmentsDirectory(departmentsDirectory_);
    repository_.setDepartmentCheck([this](const flows::engine::Definition& definition, const std::string& department) {
        return reachesPast(definition, department, externalGroups_);
    });
    std::error_code error;
    if (!std::filesystem::is_directory(directory_, error) &&
        !std::filesystem::is_directory(departmentsDirectory_, error)) {
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
    if (!std::filesystem::is_directory(directory_, error) &&
        !std::filesystem::is_directory(departmentsDirectory_, error) && repository_.flowIds().empty())
        return "no folder " + directory_ + ", no flows";
    repository_.setOptions(options(config));
    externalGroups_ = externalGroups(config);
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

namespace {

using Change = api::DepartmentFlowChange;

Change refusal(Change::Outcome outcome, std::vector<std::string> problems) {
    Change change;
    change.outcome = outcome;
    change.problems = std::move(problems);
    return change;
}

bool isDepartmentId(const std::string& id) {
    static const std::regex pattern("[a-z][a-z0-9_.-]{0,63}");
    return std::regex_match(id, pattern);
}

// A plain file name: no folder, no hidden file, no temporary file of ours.
bool isFlowFileName(const std::string& file) {
    static const std::regex pattern("[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\\.bpmn");
    return std::regex_match(file, pattern);
}

// dept:<department>:<role>'s department, "" for any other group.
std::string departmentOfGroup(const std::string& group) {
    if (group.rfind("dept:", 0) != 0) return {};
    const auto colon = group.find(':', 5);
    return colon == std::string::npos ? std::string() : group.substr(5, colon - 5);
}

std::string place(const flows::engine::Definition& definition, const flows::engine::Element& element) {
    return definition.file + ":" + std::to_string(element.line) + ": element '" + element.id + "'" +
           (element.name.empty() ? "" : " (" + element.name + ")");
}

}  // namespace

std::vector<std::string> FlowDeployments::reachesPast(const flows::engine::Definition& definition,
                                                      const std::string& department,
                                                      const std::set<std::string>& external) const {
    // The applicant's own unit is the one group a department's flow may
    // compute; any other expression could name any department.
    static const std::regex applicantsUnit(R"re(="dept:"\+applicant\.department\+":[A-Za-z0-9_.-]+")re");
    std::vector<std::string> problems;
    for (const auto& element : definition.process.elements) {
        for (const auto& group : element.candidateGroups) {
            if (group == "hub:admin" || external.count(group) || departmentOfGroup(group) == department) continue;
            problems.push_back(place(definition, element) + ": candidate group '" + group +
                               "' is not department '" + department + "''s");
        }
        if (!element.candidateGroupsExpression.empty()) {
            std::string text;
            for (char c : element.candidateGroupsExpression.text())
                if (!std::isspace(static_cast<unsigned char>(c))) text += c;
            if (text.empty() || text.front() != '=') text.insert(text.begin(), '=');
            if (!std::regex_match(text, applicantsUnit))
                problems.push_back(place(definition, element) + ": candidate groups '" +
                                   element.candidateGroupsExpression.text() +
                                   "': a department's flow computes no group but the applicant's unit "
                                   "(= \"dept:\" + applicant.department + \":<role>\")");
        }
        if (!element.plugin.empty() && pluginDepartment_) {
            const std::string owner = pluginDepartment_(element.plugin);
            if (!owner.empty() && owner != department)
                problems.push_back(place(definition, element) + ": plugin '" + element.plugin +
                                   "' belongs to department '" + owner + "'");
        }
    }
    return problems;
}

Change FlowDeployments::putDepartmentFlow(const Poco::Util::AbstractConfiguration& config,
                                          const std::string& department, const std::string& file,
                                          const std::string& xml) {
    std::lock_guard lock(reloadMutex_);
    if (!isDepartmentId(department) || !isFlowFileName(file))
        return refusal(Change::Outcome::Invalid, {"'" + file + "': a file name is [A-Za-z0-9][A-Za-z0-9_.-]*.bpmn, "
                                                  "in the folder of a department id"});
    const std::string name = "departments/" + department + "/" + file;
    auto options = this->options(config);
    externalGroups_ = options.externalGroups;
    repository_.setOptions(options);
    flows::engine::DefinitionPtr definition;
    try {
        definition = flows::engine::deployFlow(xml, name, options);
    } catch (const flows::engine::DeployError& e) {
        return refusal(Change::Outcome::Invalid, {e.what()});
    }
    auto problems = reachesPast(*definition, department, externalGroups_);
    auto current = repository_.latest(definition->flowId).first;
    if (current && flows::engine::FlowRepository::departmentOfFile(current->file) != department)
        problems.push_back(name + ": process id '" + definition->flowId + "' is the flow of " + current->file +
                           ", outside department '" + department + "'");
    if (!problems.empty()) return refusal(Change::Outcome::Foreign, std::move(problems));
    if (current && current->file != name)
        return refusal(Change::Outcome::Invalid, {name + ": process id '" + definition->flowId +
                                                  "' is already the flow of " + current->file});

    // Temporary file beside it (not *.bpmn: no reload reads it), renamed into place.
    namespace fs = std::filesystem;
    const fs::path folder = fs::path(departmentsDirectory_) / department;
    fs::create_directories(folder);
    const fs::path temporary = folder / ("." + file + "." + std::to_string(::getpid()) + ".tmp");
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out.write(xml.data(), static_cast<std::streamsize>(xml.size()));
        out.flush();
        if (!out) {
            std::error_code ignored;
            fs::remove(temporary, ignored);
            throw std::runtime_error("cannot write " + temporary.string());
        }
    }
    fs::rename(temporary, folder / file);
    return deployDepartment(department);
}

Change FlowDeployments::removeDepartmentFlow(const Poco::Util::AbstractConfiguration& config,
                                             const std::string& department, const std::string& file) {
    std::lock_guard lock(reloadMutex_);
    if (!isDepartmentId(department) || !isFlowFileName(file))
        return refusal(Change::Outcome::NotFound, {"no file '" + file + "' of department '" + department + "'"});
    const auto path = std::filesystem::path(departmentsDirectory_) / department / file;
    std::error_code error;
    if (!std::filesystem::remove(path, error)) {
        if (error) throw std::runtime_error("cannot delete " + path.string() + ": " + error.message());
        return refusal(Change::Outcome::NotFound, {"no file '" + file + "' of department '" + department + "'"});
    }
    auto options = this->options(config);
    externalGroups_ = options.externalGroups;
    repository_.setOptions(options);
    return deployDepartment(department);
}

Change FlowDeployments::reloadDepartment(const Poco::Util::AbstractConfiguration& config,
                                         const std::string& department) {
    std::lock_guard lock(reloadMutex_);
    if (!isDepartmentId(department))
        return refusal(Change::Outcome::NotFound, {"'" + department + "' is not a department id"});
    auto options = this->options(config);
    externalGroups_ = options.externalGroups;
    repository_.setOptions(options);
    auto change = deployDepartment(department);
    if (!change.problems.empty()) change.outcome = Change::Outcome::Invalid;
    return change;
}

// Under reloadMutex_.
Change FlowDeployments::deployDepartment(const std::string& department) {
    const auto report = repository_.reloadDepartment(department, nowMs());
    Change change;
    for (const auto& line : report.deployed) deploymentLogger().information("flow deployed: %s", line);
    for (const auto& flowId : report.withdrawn) deploymentLogger().information("flow withdrawn: %s (its file is gone)", flowId);
    for (const auto& warning : report.warnings) deploymentLogger().warning("flow: %s", warning);
    for (const auto& [file, reason] : report.refused) {
        deploymentLogger().error("flow refused: %s: %s", file, reason);
        change.problems.push_back(file + ": " + reason);
    }
    change.summary = "department " + department + ": " + std::to_string(report.deployed.size()) + " deployed, " +
                     std::to_string(report.unchanged.size()) + " unchanged, " +
                     std::to_string(report.withdrawn.size()) + " withdrawn, " +
                     std::to_string(report.refused.size()) + " refused";
    return change;
}

}  // namespace hub::app
