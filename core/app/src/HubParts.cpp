#include "HubParts.h"
#include "FlowDeployments.h"
#include "PrivacyParts.h"
#include "Settings.h"

#include "hub/events/CloudEvent.h"
#include "hub/events/Outbox.h"
#include "hub/events/RelayConfig.h"
#include "hub/http/Client.h"
#include "hub/identity/StaticDirectory.h"

#include <campushub/plugin.h>

#include <Poco/AutoPtr.h>
#include <Poco/Data/Session.h>
#include <Poco/JSON/Object.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <Poco/Util/AbstractConfiguration.h>
#include <Poco/Util/OptionException.h>

#include <chrono>
#include <sstream>
#include <stdexcept>

namespace hub::app {

namespace {

// The outbox's tables first (every event of the start goes there), then the calendar.
catalog::WorkingCalendar migrateOutboxThenLoadCalendar(store::Database& db,
                                                       const Poco::Util::AbstractConfiguration& cfg) {
    events::Outbox::migrate(db);
    return loadCalendar(cfg);
}

// The relay's CURVE key pair lives beside the database unless configured.
events::RelayConfig relayConfig(Poco::Util::AbstractConfiguration& cfg) {
    return events::RelayConfig::fromConfiguration(
        *Poco::AutoPtr<Poco::Util::AbstractConfiguration>(cfg.createView("events")),
        Poco::Path(cfg.getString("store.path")).makeAbsolute().parent().toString());
}

// Each identity change as an identity.changed event, in the sync's transaction.
identity::ChangeSink identityChangesToOutbox(const std::string& source) {
    return [source](Poco::Data::Session& session, const identity::IdentityChange& change) {
        events::Outbox::append(session, events::CloudEvent::create(events::EventType::IdentityChanged, source,
                                                                   change.subject + "s/" + change.id,
                                                                   change.toJson()));
    };
}

// The directory's syncer when one is configured (identity.ldap.uri), else none.
std::unique_ptr<identity::Syncer> directorySyncer(Poco::Util::AbstractConfiguration& cfg, store::Database& db,
                                                  const std::string& source) {
    if (!cfg.has("identity.ldap.uri")) return nullptr;
    auto identityConfig = Poco::AutoPtr<Poco::Util::AbstractConfiguration>(cfg.createView("identity"));
    auto syncOptions = identity::SyncOptions::fromConfig(*identityConfig);
    return std::make_unique<identity::Syncer>(db, syncOptions, identityChangesToOutbox(source));
}

// A plugin's health change as a plugin.health_changed event, in its own transaction.
decltype(host::PluginHost::Options::onHealthChanged) healthChangesToOutbox(store::Database& db,
                                                                           const std::string& source) {
    return [&db, source](const std::string& plugin, host::PluginHost::Health previous,
                         host::PluginHost::Health current, const std::string& detail) {
        Poco::JSON::Object data;
        data.set("plugin", plugin);
        data.set("health", host::PluginHost::toString(current));
        data.set("previous", host::PluginHost::toString(previous));
        data.set("detail", detail);
        std::ostringstream json;
        data.stringify(json);
        Poco::Data::Session session = db.session();
        session.begin();
        events::Outbox::append(session, events::CloudEvent::create(events::EventType::PluginHealthChanged, source,
                                                                   "plugins/" + plugin, json.str()));
        session.commit();
    };
}

// The plugin host's options: hub.xml's plugins subtree, the limits read by
// Numbers, the outbound clients, and the outbox for health changes and for
// the plugins' own events (through the flows' messages first).
host::PluginHost::Options pluginHostOptions(Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers,
                                            http::Client& httpClient, PluginParts& parts, store::Database& db,
                                            const std::string& source, identity::SourcedFields& sourcedFields) {
    host::PluginHost::Options o;
    o.pluginsDir = cfg.getString("plugins.dir");
    o.config = Poco::AutoPtr<Poco::Util::AbstractConfiguration>(cfg.createView("plugins"));
    o.http = &httpClient;
    o.defaults = numbers.pluginDefaults;
    o.process.workerExecutable = cfg.getString("plugins.workerExecutable", "");
    o.process.httpCaFile = cfg.getString("http.client.caFile", "");
    o.watchInterval = std::chrono::milliseconds(numbers.watchIntervalMs);
    o.healthInterval = std::chrono::milliseconds(numbers.healthIntervalMs);
    o.onHealthChanged = healthChangesToOutbox(db, source);
    o.database = &db;
    o.soap = &parts.soapClient;
    o.sql = parts.sqlSources->empty() ? nullptr : parts.sqlSources.get();
    o.emitEvent = parts.flowMessages.wrap(pluginEventsToOutbox(db, source, parts.eventTypes));
    o.onManifest = [&eventTypes = parts.eventTypes](const host::Manifest& manifest) { eventTypes.declare(manifest); };
    o.submitIdentity = pluginRecordsToIdentity(sourcedFields);
    return o;
}

// hub.xml's <schedules>, checked before anything starts.
std::vector<host::PluginSchedule::Entry> scheduleEntries(Poco::Util::AbstractConfiguration& cfg) {
    if (!cfg.has("schedules")) return {};
    try {
        return host::PluginSchedule::fromConfig(
            *Poco::AutoPtr<Poco::Util::AbstractConfiguration>(cfg.createView("schedules")));
    } catch (const std::invalid_argument& e) {
        throw Poco::Util::InvalidArgumentException(e.what());
    }
}

// The runner's view of the hall: working days by the calendar as loaded at
// start, and a person's department, roles and audience.
flows::FlowRunner::Options runnerOptions(const EventParts& events, const Numbers& numbers,
                                         const identity::StaticDirectory& directory,
                                         identity::IdentityDirectory& people) {
    const int utcOffsetSeconds = numbers.utcOffsetSeconds;
    flows::FlowRunner::Options options;
    options.messageTtlSeconds = numbers.flowMessageTtlSeconds;
    options.timerLeaseTtl = std::chrono::seconds(numbers.flowTimerLeaseSeconds);
    // Timers in working days count the calendar as loaded at start, from
    // the time of day they are armed (the hall's zone).
    options.engine.addWorkingDays = [calendar = events.calendar, offsetMs = std::int64_t{utcOffsetSeconds} * 1000](
                                        std::int64_t fromMs, std::int64_t count) {
        using namespace std::chrono;
        const sys_days from = floor<days>(sys_time<milliseconds>(milliseconds(fromMs + offsetMs)));
        const sys_days to = sys_days(calendar.addWorkingDays(year_month_day(from), static_cast<int>(count)));
        return fromMs + duration_cast<milliseconds>(to - from).count();
    };
    options.person = [&directory, &people](const std::string& id) -> std::optional<flows::FlowRunner::Person> {
        if (const identity::Person* listed = directory.find(id))
            return flows::FlowRunner::Person{listed->department, listed->roles, listed->audience};
        auto person = people.findById(id);
        if (!person) return std::nullopt;
        return flows::FlowRunner::Person{person->department, person->roles, person->audience};
    };
    return options;
}

}  // namespace

StoreParts::StoreParts(const Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers, PrivacyParts& privacy)
    : db(store::Database::Options::fromConfig(cfg)),  // store.backend: sqlite or postgresql
      catalogue({cfg.getString("catalog.dir"), "",
                 cfg.getString("catalog.departmentsDir", cfg.getString("catalog.dir") + "/departments")}),
      audit(db, 100000, std::chrono::milliseconds(numbers.auditCommitIntervalMs)) {
    Poco::Logger::get("hub").information("catalogue: %z service items", catalogue.snapshot()->items().size());
    privacy.start(db, audit);
}

EventParts::EventParts(Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers, store::Database& db)
    : source(cfg.getString("events.source")),
      calendar(migrateOutboxThenLoadCalendar(db, cfg)),
      applications(db, {calendar, numbers.utcOffsetSeconds}),
      approvals(applications, source),
      relay(db, relayConfig(cfg), approvals.inboundHandler()) {
    applications.setEventSink(approvals.outboxSink());
    relay.start();
}

IdentityParts::IdentityParts(Poco::Util::AbstractConfiguration& cfg, store::Database& db, const std::string& source)
    : people(db), syncer(directorySyncer(cfg, db, source)), sourcedFields(db) {}

PluginParts::PluginParts(Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers, http::Client& httpClient,
                         StoreParts& store, const std::string& source, IdentityParts& identity,
                         const Defines& defines)
    : soapClient(httpClient),
      sqlSources(sql::Sources::fromConfig(cfg)),
      host(std::make_unique<host::PluginHost>(
          pluginHostOptions(cfg, numbers, httpClient, *this, store.db, source, identity.sourcedFields))),
      provisioning(
          store.db, [this] { return host->subscribers(events::EventType::IdentityChanged); },
          [this](const std::string& plugin, const std::string& json) {
              host::CallResult r = host->deliverEventTo(plugin, json);
              return r.status == CH_OK ? std::string()
                                       : "status " + std::to_string(r.status) + ": " + r.body.substr(0, 1000);
          }) {
    auto& log = Poco::Logger::get("hub");
    host->loadAll();
    reportOverridesOfAbsentPlugins(defines, *host);
    if (identity::Syncer* syncer = identity.syncer.get()) {
        // Several hubs on one PostgreSQL: the sync and the forwarding each run on
        // the node holding their lease (docs/store.md, "Leases").
        if (store.db.dialect() == store::Dialect::PostgreSql) {
            syncer->coordinate(std::chrono::seconds(syncer->options().leaseSeconds));
            provisioning.coordinate(std::chrono::seconds(cfg.getInt("identity.provisioning.leaseSeconds", 15)));
        }
        syncSchedule.start(*syncer, std::chrono::seconds(syncer->options().intervalSeconds),
                           [this] { provisioning.forward(); });
        log.information("directory sync every %d s from %s", syncer->options().intervalSeconds,
                        cfg.getString("identity.ldap.uri"));
    }
    log.information("%z plugin(s) loaded, %z refused", host->list().size(), host->refusals().size());
}

ScheduleParts::ScheduleParts(Poco::Util::AbstractConfiguration& cfg, host::PluginHost& plugins,
                             store::Database& db, store::AuditLog& audit)
    : schedule(plugins, &audit, scheduleEntries(cfg), &db) {  // a lease per schedule: one node runs each
    schedule.start();
    for (const auto& e : schedule.entries())
        Poco::Logger::get("hub").information("schedule: %s.%s every %d s", e.plugin, e.operation,
                                             static_cast<int>(e.every.count()));
}

FlowParts::FlowParts(Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers, StoreParts& store,
                     EventParts& events, const identity::StaticDirectory& directory, IdentityParts& identity,
                     PluginParts& plugins, FlowDeployments& deployments)
    : runner(store.db, events.applications, deployments.store(), deployments.repository(), *plugins.host,
             runnerOptions(events, numbers, directory, identity.people)),
      detach_{plugins.flowMessages} {
    plugins.flowMessages.attach(&runner);
    runner.setExternalGroups(FlowDeployments::externalGroups(cfg));
    // The external approval engine's decisions for flow-driven applications.
    events.approvals.setFlowDecision([this](Poco::Data::Session& session, const flows::FlowRunner::Decision& d) {
        return runner.applyDecisionWithin(session, d);
    });
    // An automatic flow (the enrolment certificate) answers its submit
    // with where it ended, if it ends within flows.settleMs.
    if (numbers.flowSettleMs > 0)
        events.applications.setFlowSettle([this, bound = std::chrono::milliseconds(numbers.flowSettleMs)](
                                              const std::string& id) { runner.waitSettled(id, bound); });
    events.applications.setFlowStarter([this](Poco::Data::Session& session, const flows::Application& application,
                                              const std::string& flowId) {
        return runner.startWithin(session, application, flowId);
    });
    // A withdrawn application cancels its flow in the same transaction.
    events.applications.setEventSink([sink = events.approvals.outboxSink(), this](Poco::Data::Session& session,
                                                                                const std::string& type,
                                                                                const std::string& subject,
                                                                                const std::string& dataJson) {
        sink(session, type, subject, dataJson);
        runner.onApplicationEvent(session, type, dataJson);
    });
    runner.resume();
}

}  // namespace hub::app
