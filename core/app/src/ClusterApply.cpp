#include "ClusterApply.h"

#include "FlowDeployments.h"
#include "Reloader.h"

#include "hub/catalog/Catalog.h"
#include "hub/common/Exceptions.h"
#include "hub/flows/FlowRunner.h"
#include "hub/host/PluginHost.h"

#include <Poco/Logger.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace hub::app {

namespace {

// A file's text, or nullopt when there is none.
std::optional<std::string> clusterLocalFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string catalogLine(const catalog::Catalog::DepartmentResult& result, const std::string& department) {
    if (!result.ok || !result.foreign.empty()) {
        std::string errors;
        for (const auto& e : result.errors) errors += (errors.empty() ? "" : "; ") + e.toString();
        for (const auto& e : result.foreign) errors += (errors.empty() ? "" : "; ") + e.toString();
        throw std::runtime_error("catalogue of department " + department + " refused here: " + errors);
    }
    return "catalogue version " + std::to_string(result.version);
}

std::string flowLine(const api::DepartmentFlowChange& change) {
    using Outcome = api::DepartmentFlowChange::Outcome;
    if (change.outcome == Outcome::Foreign || change.outcome == Outcome::Invalid) {
        std::string problems;
        for (const auto& p : change.problems) problems += (problems.empty() ? "" : "; ") + p;
        throw std::runtime_error(change.summary + ": refused here: " + problems);
    }
    return change.summary;
}

// "department/file" of a flow file's change.
std::pair<std::string, std::string> flowSubject(const std::string& subject) {
    auto slash = subject.find('/');
    if (slash == std::string::npos) throw std::runtime_error("malformed flow file subject '" + subject + "'");
    return {subject.substr(0, slash), subject.substr(slash + 1)};
}

}  // namespace

ClusterChanges::Applier clusterApplier(ClusterTargets t) {
    return [t](const ClusterChanges::Change& c) -> std::string {
        using C = ClusterChanges;
        if (c.kind == C::kCatalogDepartment) {
            if (!c.hasFile) return "no stored file: nothing to apply";
            if (!c.content) {
                auto result = t.catalogue.removeDepartment(c.subject);
                return result.existed ? catalogLine(result, c.subject) : "no file here";
            }
            return catalogLine(t.catalogue.putDepartment(c.subject, *c.content), c.subject);
        }
        if (c.kind == C::kCatalogDepartmentReload)
            return catalogLine(t.catalogue.reloadDepartment(c.subject), c.subject);
        if (c.kind == C::kCatalogReload) {
            auto result = t.catalogue.reload();
            if (!result.ok) throw std::runtime_error("the catalogue here refused its reload; it stays as it was");
            return "catalogue version " + std::to_string(result.version);
        }
        if (c.kind == C::kFlowDepartment) {
            if (!c.hasFile) return "no stored file: nothing to apply";
            auto [department, file] = flowSubject(c.subject);
            if (!c.content) return flowLine(t.deployments.removeDepartmentFlow(t.cfg, department, file));
            return flowLine(t.deployments.putDepartmentFlow(t.cfg, department, file, *c.content));
        }
        if (c.kind == C::kFlowDepartmentReload) return flowLine(t.deployments.reloadDepartment(t.cfg, c.subject));
        if (c.kind == C::kFlowReload) {
            std::string summary = t.deployments.reload(t.cfg);
            t.runner.setExternalGroups(FlowDeployments::externalGroups(t.cfg));
            return summary;
        }
        if (c.kind == C::kPluginReload) {
            if (!t.plugins.has(c.subject)) return "not loaded here";
            return "version " + t.plugins.reload(c.subject);
        }
        if (c.kind == C::kPluginUnload) return t.plugins.unload(c.subject) ? "unloaded" : "not loaded here";
        if (c.kind == C::kPluginRescan) return std::to_string(t.plugins.rescan().size()) + " change(s)";
        if (c.kind == C::kReload) {
            auto report = t.reloader.reload();
            return std::to_string(report.applied.size()) + " part(s) reloaded, " +
                   std::to_string(report.problems.size()) + " kept";
        }
        // A newer hub's kind: an older node leaves it to its restart.
        return "unknown kind, ignored";
    };
}

std::size_t catchUpFiles(ClusterChanges& changes, const ClusterTargets& t) {
    auto& log = Poco::Logger::get("hub.cluster");
    std::size_t changed = 0;
    auto each = [&](const std::string& kind, const std::string& subject, const std::string& path,
                    const std::optional<std::string>& content) {
        const auto local = clusterLocalFile(path);
        if (local == content) return;
        ClusterChanges::Change c{0, kind, subject, "(stored)", true, content};
        try {
            std::string line = clusterApplier(t)(c);
            ++changed;
            log.information("caught up with %s %s: %s", kind, subject, line);
        } catch (...) {
            log.error("could not catch up with %s %s: %s", kind, subject, currentExceptionText());
        }
    };
    for (const auto& [department, content] : changes.files(ClusterChanges::kCatalogDepartment))
        each(ClusterChanges::kCatalogDepartment, department, t.catalogue.departmentFile(department), content);
    for (const auto& [subject, content] : changes.files(ClusterChanges::kFlowDepartment)) {
        auto slash = subject.find('/');
        if (slash == std::string::npos) continue;
        each(ClusterChanges::kFlowDepartment, subject,
             (std::filesystem::path(t.deployments.departmentsDirectory()) / subject.substr(0, slash) /
              subject.substr(slash + 1))
                 .string(),
             content);
    }
    return changed;
}

std::size_t recordLocalFiles(ClusterChanges& changes, const Poco::Util::AbstractConfiguration& cfg,
                             const FlowDeployments& deployments) {
    namespace fs = std::filesystem;
    std::size_t recorded = 0;
    // Each kind: what is on disk (subject -> text) against what is stored.
    auto follow = [&](const char* kind, const std::map<std::string, std::string>& local) {
        std::map<std::string, std::optional<std::string>> stored;
        for (auto& [subject, content] : changes.files(kind)) stored[subject] = content;
        for (const auto& [subject, text] : local) {
            auto at = stored.find(subject);
            if (at != stored.end() && at->second == text) continue;
            changes.recordFile(kind, subject, text);
            ++recorded;
        }
        for (const auto& [subject, content] : stored)
            if (content && !local.count(subject)) {
                changes.recordFile(kind, subject, std::nullopt);
                ++recorded;
            }
    };
    std::error_code error;
    std::map<std::string, std::string> catalogFiles;
    const std::string catalogDir =
        cfg.getString("catalog.departmentsDir", cfg.getString("catalog.dir", "config/catalog") + "/departments");
    for (fs::directory_iterator it(catalogDir, error), end; !error && it != end; it.increment(error))
        if (it->is_regular_file() && it->path().extension() == ".xml")
            if (auto text = clusterLocalFile(it->path().string())) catalogFiles[it->path().stem().string()] = *text;
    follow(ClusterChanges::kCatalogDepartment, catalogFiles);

    std::map<std::string, std::string> flowFiles;
    error.clear();
    for (fs::directory_iterator dept(deployments.departmentsDirectory(), error), end; !error && dept != end;
         dept.increment(error)) {
        if (!dept->is_directory()) continue;
        std::error_code inner;
        for (fs::directory_iterator it(dept->path(), inner), stop; !inner && it != stop; it.increment(inner))
            if (it->is_regular_file() && it->path().extension() == ".bpmn")
                if (auto text = clusterLocalFile(it->path().string()))
                    flowFiles[dept->path().filename().string() + "/" + it->path().filename().string()] = *text;
    }
    follow(ClusterChanges::kFlowDepartment, flowFiles);
    return recorded;
}

}  // namespace hub::app
