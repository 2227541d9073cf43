#include "HubRun.h"
#include "ApiRoutes.h"
#include "ClusterApply.h"
#include "ClusterChanges.h"
#include "FlowDeployments.h"
#include "HttpServers.h"
#include "HubParts.h"
#include "PrivacyParts.h"
#include "Settings.h"
#include "Signals.h"

#include "hub/auth/Access.h"
#include "hub/auth/TokenVerifier.h"
#include "hub/catalog/DataOwners.h"
#include "hub/common/Exceptions.h"
#include "hub/http/Client.h"
#include "hub/identity/StaticDirectory.h"
#include "hub/runtime/WorkerPool.h"

#include <Poco/Crypto/Crypto.h>
#include <Poco/Logger.h>
#include <Poco/Util/LayeredConfiguration.h>

#include <chrono>
#include <utility>

namespace hub::app {

namespace {

// For catch-alls on the hub's threads: a log channel that fails in turn (a full
// disk under a file channel) must not end the thread.
void logQuietly(const std::string& logger, const std::string& message) noexcept {
    try {
        Poco::Logger::get(logger).error(message);
    } catch (...) {
    }
}

// Runs fn when the scope is left, however it is left.
template <class Fn>
class OnExit {
public:
    explicit OnExit(Fn fn) : fn_(std::move(fn)) {}
    ~OnExit() { fn_(); }
    OnExit(const OnExit&) = delete;
    OnExit& operator=(const OnExit&) = delete;

private:
    Fn fn_;
};

}  // namespace

void runHub(Poco::Util::LayeredConfiguration& cfg, const std::vector<std::pair<std::string, std::string>>& defines,
            const Reloader::Layers& layers) {
    auto& log = Poco::Logger::get("hub");
    // Start order: store, outbound connectors, plugins, then the listener last, so
    // nothing is served before everything it needs is up. Stop in reverse.
    // Authentication is not optional: without a key, refuse to start.
    const Numbers numbers = Numbers::read(cfg);
    // One datum, one source: a field with two owners stops the start here.
    auto dataOwners = catalog::DataOwners::fromConfig(cfg);
    PrivacyParts privacy(cfg);  // privacy.answers and privacy.retention checked before anything starts
    for (const auto& define : defines) overriddenPlugin(define.first);  // throws for an unknown plugin key
    Poco::Crypto::initializeCrypto();
    auth::TokenVerifier verifier(cfg, "auth");
    auth::Access access = auth::Access::fromConfig(cfg, "auth");
    identity::StaticDirectory directory(cfg);

    StoreParts store(cfg, numbers, privacy);
    // What another hub on the same database changes (a reload, a department's
    // upload) reaches this one through here (ClusterChanges.h).
    ClusterChanges changes(store.db);
    http::Client::Options clientOptions;
    clientOptions.caFile = cfg.getString("http.client.caFile", "");
    http::Client httpClient(clientOptions);
    EventParts events(cfg, numbers, store.db);
    IdentityParts identity(cfg, store.db, events.source);
    PluginParts plugins(cfg, numbers, httpClient, store, events.source, identity, defines);
    ScheduleParts schedules(cfg, *plugins.host, store.db, store.audit);
    // The BPMN flows, checked against the manifests just loaded.
    FlowDeployments flowDeployments(store.db, cfg, *plugins.host, privacy.pluginDepartment());
    events.approvals.setFlowDriven([&flowDeployments](Poco::Data::Session& session, const std::string& id) {
        return flowDeployments.store().instanceOf(session, id).has_value();
    });
    // Database work of the API runs here, never on the I/O threads.
    auto blockingThreads = static_cast<std::size_t>(numbers.blockingThreads);
    runtime::WorkerPool blocking("api", blockingThreads, blockingThreads * 64);
    FlowParts flows(cfg, numbers, store, events, directory, identity, plugins, flowDeployments);

    ApiRoutes routes({cfg, numbers, store, events, directory, identity, plugins, flowDeployments, blocking, flows,
                      privacy, dataOwners, &changes});
    HttpServers servers(cfg, numbers, routes.router);
    // Stop order, on every way out of here: what answers through the server or
    // runs on a thread of its own stops before the objects it uses go. Locals
    // go in reverse order, so the api pool (declared before the server) would
    // otherwise outlive it, and a plugin pool could still answer into it.
    const auto drainTimeout = std::chrono::milliseconds(numbers.drainTimeoutMs);
    bool stopped = false;
    auto stopAll = [&] {
        if (std::exchange(stopped, true)) return;
        changes.stop();  // no other hub's change is applied to parts that are going
        servers.stop(drainTimeout);
        blocking.shutdown();  // after the drain: its tasks answer requests in flight
        privacy.stop();
        plugins.syncSchedule.stop();
        schedules.schedule.stop();  // waits for its runs in flight, before the plugins they call go
        events.relay.stop();
        plugins.flowMessages.attach(nullptr);  // no plugin's message reaches a stopping runner
        flows.runner.stop();                   // before the plugins its calls answer from
        routes.activity.stop();                // its sampler reads the plugin host's counters
        plugins.host.reset();                  // joins each plugin's pool, then unloads it
        store.audit.flush();
    };
    OnExit stopOnExit([&] {
        try {
            stopAll();
        } catch (...) {
            logQuietly("hub", "while stopping: " + currentExceptionText());
        }
    });
    // SIGHUP: what can change without a restart (Reloader.h).
    Reloader reloader(cfg, layers,
                      {&store.catalogue, &events.applications, plugins.host.get(), identity.syncer.get(),
                       &plugins.syncSchedule},
                      [](const Poco::Util::AbstractConfiguration& next) { Numbers::read(next); }, loadCalendar);
    addReloadHooks(reloader, flowDeployments, flows.runner, routes.ownedFields);
    // The other hubs' changes: what was uploaded while this node was away
    // first (before anything is served), then every change as it comes
    // (cluster.pollMs, 1 s).
    const ClusterTargets clusterTargets{cfg, store.catalogue, *plugins.host, flowDeployments, flows.runner, reloader};
    try {
        if (auto n = catchUpFiles(changes, clusterTargets))
            log.information("caught up with %z department file(s) stored by other nodes", n);
        changes.start(clusterApplier(clusterTargets), std::chrono::milliseconds(numbers.clusterPollMs));
    } catch (...) {
        // A store that fails now: this node serves what it has; a restart catches up.
        log.error("the other nodes' changes are not followed: %s", currentExceptionText());
    }
    OnExit stopChanges([&changes] { changes.stop(); });  // before the reloader it calls goes
    servers.start(hubAuthenticator(verifier, access, directory, identity.people, store.audit),
                  routes.requestMetrics, routes.metricsRouter);
    serveUntilStopped(reloader, servers, [&changes, &log, &cfg, &flowDeployments] {
        try {
            recordLocalFiles(changes, cfg, flowDeployments);  // the department folders as the reload read them
            changes.record(ClusterChanges::kReload, "");
        } catch (...) {
            log.error("SIGHUP reloaded this node only: %s", currentExceptionText());
        }
    });

    log.information("stopping: draining requests in flight");
    stopAll();
    Poco::Crypto::uninitializeCrypto();
    log.information("stopped");
}

}  // namespace hub::app
