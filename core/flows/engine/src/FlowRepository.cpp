#include "hub/flows/engine/FlowRepository.h"

#include <Poco/Data/Session.h>

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
    std::vector<Source> sources;
    std::error_code error;
    for (fs::directory_iterator it(directory_, error), end; !error && it != end; it.increment(error))
        if (it->is_regular_file() && it->path().extension() == ".bpmn")
            sources.push_back({it->path().string(), it->path().filename().string(), ""});
    // A hub may keep only departments' flows: then the folder itself may be missing.
    const bool departmentsOnly = error == std::errc::no_such_file_or_directory && !departmentsDirectory_.empty();
    if (error && !departmentsOnly) {
        report.refused.emplace_back(directory_, "cannot list the folder: " + error.message());
        return report;
    }
    std::sort(sources.begin(), sources.end(), [](const Source& a, const Source& b) { return a.path < b.path; });
    if (!departmentsDirectory_.empty()) {
        std::vector<std::string> departments;
        error.clear();
        for (fs::directory_iterator it(departmentsDirectory_, error), end; !error && it != end; it.increment(error))
            if (it->is_directory()) departments.push_back(it->path().filename().string());
        std::sort(departments.begin(), departments.end());
        for (const auto& department : departments) {
            auto files = departmentSources(department, report);
            sources.insert(sources.end(), files.begin(), files.end());
        }
    }
    publish(parse(sources, report), report, nowMs);
    return report;
}

FlowRepository::Report FlowRepository::reloadDepartment(const std::string& department, std::int64_t nowMs) {
    Report report;
    const auto sources = departmentSources(department, report);
    Parsed parsed = parse(sources, report);
    {
        // A department's file never takes over a flow another folder defines.
        std::lock_guard lock(mutex_);
        for (auto it = parsed.begin(); it != parsed.end();) {
            auto current = latest_.find(it->first);
            if (current != latest_.end() && departmentOfFile(current->second.first->file) != department) {
                report.refused.emplace_back(it->second.second, it->second.second + ": process id '" + it->first +
                                                                   "' is the flow of " +
                                                                   current->second.first->file +
                                                                   ", outside department '" + department + "'");
                it = parsed.erase(it);
            } else {
                ++it;
            }
        }
    }
    publish(parsed, report, nowMs);
    std::lock_guard lock(mutex_);
    for (auto it = latest_.begin(); it != latest_.end();) {
        const std::string& file = it->second.first->file;
        const bool present = std::any_of(sources.begin(), sources.end(), [&file](const Source& s) { return s.name == file; });
        if (departmentOfFile(file) == department && !present) {
            report.withdrawn.push_back(it->first);
            it = latest_.erase(it);  // versions_ keeps it for the instances running on it
        } else {
            ++it;
        }
    }
    return report;
}

std::vector<FlowRepository::Source> FlowRepository::departmentSources(const std::string& department,
                                                                       Report& report) const {
    namespace fs = std::filesystem;
    std::vector<Source> sources;
    if (departmentsDirectory_.empty()) return sources;
    std::error_code error;
    const fs::path folder = fs::path(departmentsDirectory_) / department;
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error))
        if (it->is_regular_file() && it->path().extension() == ".bpmn")
            sources.push_back({it->path().string(),
                               "departments/" + department + "/" + it->path().filename().string(), department});
    if (error && error != std::errc::no_such_file_or_directory)
        report.refused.emplace_back("departments/" + department, "cannot list the folder: " + error.message());
    std::sort(sources.begin(), sources.end(), [](const Source& a, const Source& b) { return a.path < b.path; });
    return sources;
}

std::string FlowRepository::departmentOfFile(const std::string& file) {
    static const std::string prefix = "departments/";
    if (file.rfind(prefix, 0) != 0) return {};
    const auto slash = file.find('/', prefix.size());
    return slash == std::string::npos ? std::string() : file.substr(prefix.size(), slash - prefix.size());
}

void FlowRepository::setDepartmentsDirectory(std::string directory) {
    std::lock_guard lock(mutex_);
    departmentsDirectory_ = std::move(directory);
}

void FlowRepository::setDepartmentCheck(DepartmentCheck check) {
    std::lock_guard lock(mutex_);
    departmentCheck_ = std::move(check);
}

FlowRepository::Parsed FlowRepository::parse(const std::vector<Source>& sources, Report& report) {
    DeployOptions options;
    DepartmentCheck check;
    {
        std::lock_guard lock(mutex_);
        options = options_;
        check = departmentCheck_;
    }
    // Parsed outside the lock: readers keep the current set meanwhile.
    Parsed parsed;
    for (const auto& source : sources) {
        const std::string& name = source.name;
        std::ifstream in(source.path, std::ios::binary);
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
            if (!source.department.empty() && check) {
                auto problems = check(*definition, source.department);
                if (!problems.empty()) {
                    std::string text;
                    for (const auto& problem : problems) text += (text.empty() ? "" : "; ") + problem;
                    report.refused.emplace_back(name, text);
                    continue;
                }
            }
            for (const auto& warning : definition->warnings) report.warnings.push_back(name + ": " + warning);
            parsed[definition->flowId] = {definition, name};
        } catch (const DeployError& e) {
            report.refused.emplace_back(name, e.what());
        }
    }
    return parsed;
}

void FlowRepository::publish(const Parsed& parsed, Report& report, std::int64_t nowMs) {
    // Versions come from the store, so every hub sharing it agrees on them.
    std::map<std::string, std::pair<DefinitionPtr, int>> fresh;
    if (!parsed.empty()) {
        auto session = db_.session();
        // IMMEDIATE: the write lock first (waiting for it as long as the store
        // lets writers wait). A deferred transaction reads the deployments first
        // and cannot become the writer once another connection (the audit
        // trail, a flow step) has committed meanwhile: SQLite answers "DB
        // locked" at once, without waiting. On PostgreSQL hubs that deploy at
        // once (all of them at start) take turns on an advisory lock, so each
        // numbers its versions after the other's commit.
        if (db_.dialect() == store::Dialect::PostgreSql) {
            session << "BEGIN", Poco::Data::Keywords::now;
        } else {
            session << "BEGIN IMMEDIATE", Poco::Data::Keywords::now;
        }
        try {
            if (db_.dialect() == store::Dialect::PostgreSql)
                session << "SELECT pg_advisory_xact_lock(hashtext('flows_engine_deployments'))",
                    Poco::Data::Keywords::now;
            for (const auto& [flowId, entry] : parsed)
                fresh[flowId] = {entry.first, store_.saveDeployment(session, *entry.first, nowMs)};
            session << "COMMIT", Poco::Data::Keywords::now;
        } catch (...) {
            try {
                session << "ROLLBACK", Poco::Data::Keywords::now;
            } catch (...) {
            }
            throw;
        }
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
