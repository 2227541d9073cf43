#include "ApiRoutes.h"
#include "ClusterApply.h"
#include "ClusterChanges.h"
#include "FlowDeployments.h"
#include "HubParts.h"
#include "PrivacyParts.h"
#include "Settings.h"

#include "hub/api/AdminRoutes.h"
#include "hub/api/ApplicationRoutes.h"
#include "hub/api/CatalogRoutes.h"
#include "hub/api/ConsoleApiRoutes.h"
#include "hub/api/ConsoleRoutes.h"
#include "hub/api/MetricsRoutes.h"
#include "hub/api/PrefillRoutes.h"
#include "hub/api/PrivacyRoutes.h"
#include "hub/api/SystemRoutes.h"
#include "hub/api/TaskRoutes.h"
#include "hub/api/WebhookRoutes.h"
#include "hub/catalog/DataOwners.h"
#include "hub/common/Exceptions.h"
#include "hub/identity/StaticDirectory.h"
#include "hub/runtime/WorkerPool.h"

#include <Poco/Logger.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <chrono>

namespace hub::app {

namespace {

// What a form may take from the identity store: the static list first, then the synced persons.
api::PersonLookup personFacts(const identity::StaticDirectory& listed, identity::IdentityDirectory& synced) {
    return [&listed, &synced](const std::string& id) -> std::optional<api::PersonFacts> {
        auto facts = [](const identity::Person& p) {
            return api::PersonFacts{p.id, p.name, p.department, p.emails.empty() ? std::string() : p.emails.front(),
                                    p.phones.empty() ? std::string() : p.phones.front(), p.audience};
        };
        if (const identity::Person* person = listed.find(id)) return facts(*person);
        auto person = synced.findById(id);
        if (!person || person->status != identity::PersonStatus::Active) return std::nullopt;
        return facts(*person);
    };
}

// A joint review's other departments: an open task of the application's flow is theirs.
auto jointReviewer(FlowDeployments& deployments, store::Database& db) {
    return [&deployments, &db](const api::Principal& caller, const std::string& applicationId) {
        auto session = db.session();
        // The application's open tasks for the caller only, not every open task.
        flows::engine::TaskSelection selection;
        selection.assignee = caller.subject;
        selection.groups = caller.roles;
        selection.applicationId = applicationId;
        for (const auto& task : deployments.store().openTasksFor(session, selection)) {
            if (!task.assignee.empty() && task.assignee == caller.subject) return true;
            Poco::StringTokenizer groups(task.candidateGroups, ",",
                                         Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
            for (const auto& group : groups)
                if (caller.hasRole(group)) return true;
        }
        return false;
    };
}

// Records a change that took effect here for the other hubs on the database.
// A store that fails then leaves it this node's alone: said in the log, the
// answer stays (the change did take effect here).
// A reload read the department folders as they are on disk: what an operator
// edited there by hand is stored first (recordLocalFiles), so the other nodes
// follow the folders, not the last upload.
std::function<void(const std::string&, const std::string&, const std::optional<std::string>&)> recorder(
    ClusterChanges* changes, const Poco::Util::AbstractConfiguration& cfg, const FlowDeployments& deployments) {
    return [changes, &cfg, &deployments](const std::string& kind, const std::string& subject,
                                         const std::optional<std::string>& content) {
        if (!changes) return;
        try {
            if (kind == ClusterChanges::kCatalogDepartment || kind == ClusterChanges::kFlowDepartment) {
                changes->recordFile(kind, subject, content);
                return;
            }
            if (kind != ClusterChanges::kPluginReload && kind != ClusterChanges::kPluginUnload &&
                kind != ClusterChanges::kPluginRescan)
                recordLocalFiles(*changes, cfg, deployments);
            changes->record(kind, subject);
        } catch (...) {
            Poco::Logger::get("hub.cluster")
                .error("%s %s took effect on this node only; the other nodes apply it at their next restart or "
                       "reload: %s",
                       kind, subject, currentExceptionText());
        }
    };
}

}  // namespace

ApiRoutes::ApiRoutes(const Parts& parts)
    : ownedFields(parts.dataOwners, personFacts(parts.directory, parts.identity.people), parts.plugins.host.get()),
      evaluation(parts.store.db, parts.events.calendar, parts.numbers.utcOffsetSeconds),
      activity(*parts.plugins.host, std::chrono::seconds(parts.numbers.consoleActivitySeconds)),
      callKeys(parts.store.db) {
    Poco::Logger::get("hub").information("privacy: %z owned field(s)", parts.dataOwners->all().size());
    addServiceRoutes(parts);
    addApplicationAndTaskRoutes(parts);
    addAdminAndPrivacyRoutes(parts);
    addConsoleRoutes(parts);
    addMetricsRoutes(parts);
}

void ApiRoutes::addServiceRoutes(const Parts& parts) {
    host::PluginHost& plugins = *parts.plugins.host;
    api::addHealthRoutes(router, plugins, &parts.store.db);
    api::addSystemRoutes(router, plugins, &parts.store.audit, {&callKeys, &parts.store.db, &parts.blocking});
    api::addWebhookRoutes(router, plugins, api::WebhookOptions::fromConfig(parts.cfg), &parts.store.audit);
    api::addCatalogRoutes(router, parts.store.catalogue);
}

void ApiRoutes::addApplicationAndTaskRoutes(const Parts& parts) {
    auto& cfg = parts.cfg;
    auto& applications = parts.events.applications;
    auto& catalogue = parts.store.catalogue;
    auto& flowDeployments = parts.deployments;
    auto& flowRunner = parts.flows.runner;
    api::addApplicationRoutes(router, applications, catalogue, *parts.plugins.host, parts.blocking,
                              &parts.store.audit, &ownedFields, &parts.privacy.answers(),
                              jointReviewer(flowDeployments, parts.store.db));
    api::addPrefillRoutes(router, catalogue, ownedFields);
    // Each change that took effect here is recorded for the other hubs (ClusterChanges).
    auto record = recorder(parts.changes, cfg, flowDeployments);
    using Outcome = api::DepartmentFlowChange::Outcome;
    api::addTaskRoutes(router, {&applications, &flowRunner, &flowDeployments.store(), &flowDeployments.repository(),
                                &parts.store.db, &parts.blocking, &parts.store.audit,
                                [&flowDeployments, &flowRunner, &cfg, record] {
                                    std::string summary = flowDeployments.reload(cfg);
                                    flowRunner.setExternalGroups(FlowDeployments::externalGroups(cfg));
                                    record(ClusterChanges::kFlowReload, "", std::nullopt);
                                    return summary;
                                },
                                &catalogue,
                                {[&flowDeployments, &cfg, record](const std::string& department,
                                                                  const std::string& file, const std::string& xml) {
                                     auto change = flowDeployments.putDepartmentFlow(cfg, department, file, xml);
                                     if (change.outcome == Outcome::Done)
                                         record(ClusterChanges::kFlowDepartment, department + "/" + file, xml);
                                     return change;
                                 },
                                 [&flowDeployments, &cfg, record](const std::string& department,
                                                                  const std::string& file) {
                                     auto change = flowDeployments.removeDepartmentFlow(cfg, department, file);
                                     if (change.outcome == Outcome::Done)
                                         record(ClusterChanges::kFlowDepartment, department + "/" + file,
                                                std::nullopt);
                                     return change;
                                 },
                                 [&flowDeployments, &cfg, record](const std::string& department) {
                                     auto change = flowDeployments.reloadDepartment(cfg, department);
                                     if (change.outcome == Outcome::Done)
                                         record(ClusterChanges::kFlowDepartmentReload, department, std::nullopt);
                                     return change;
                                 }}});
}

void ApiRoutes::addAdminAndPrivacyRoutes(const Parts& parts) {
    auto& applications = parts.events.applications;
    const auto& directory = parts.directory;
    api::AdminServices admin;
    admin.directory = &parts.identity.people;
    admin.sourcedFields = &parts.identity.sourcedFields;
    admin.syncer = parts.identity.syncer.get();
    admin.relay = &parts.events.relay;
    admin.plugins = parts.plugins.host.get();
    admin.catalog = &parts.store.catalogue;
    admin.blocking = &parts.blocking;
    admin.audit = &parts.store.audit;
    admin.store = &parts.store.db;
    admin.staticPerson = [&directory](const std::string& id) { return directory.json(id); };
    admin.answers = &parts.privacy.answers();
    admin.pluginDepartment = parts.privacy.pluginDepartment();
    admin.applicationDepartment = [&applications](const std::string& id) {
        auto application = applications.find(id);
        return application ? application->department : std::string();
    };
    admin.changed = recorder(parts.changes, parts.cfg, parts.deployments);
    if (parts.changes)
        admin.changesGeneration = [changes = parts.changes] { return changes->generation(); };
    api::addAdminRoutes(router, admin);
    api::addPrivacyRoutes(router, {admin, &applications, parts.privacy.retention()});
}

// The web console: its static files, and the figures and series its pages read.
void ApiRoutes::addConsoleRoutes(const Parts& parts) {
    api::addConsoleRoutes(router, {parts.cfg.getString("console.dir", defaultConsoleDir())});
    api::addConsoleApiRoutes(router, {&parts.events.applications, &evaluation, &parts.events.relay, &activity,
                                      &parts.blocking, &parts.store.audit, &parts.store.db});
}

// /metrics: on the API's listener, or alone on its own (metrics.port) for ops.
void ApiRoutes::addMetricsRoutes(const Parts& parts) {
    auto& plugins = parts.plugins.host;
    api::MetricsServices metrics{plugins.get(), &parts.store.audit, &parts.events.relay, &parts.store.db,
                                 &requestMetrics, parts.cfg.getBool("metrics.requireToken"), &parts.flows.runner};
    api::addMetricsRoutes(parts.cfg.has("metrics.port") ? metricsRouter : router, metrics);
    requestMetrics.track(router, "/api/v1/systems/{system}/operations/{operation}",
                         [&plugins](const std::string& name) { return plugins->has(name); });
}

}  // namespace hub::app
