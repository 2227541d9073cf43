#pragma once
// hubd's parts below the API, grouped by what they do, in start order. Each
// part is made whole by its constructor (started, logged) and takes the parts
// made before it; hubd holds them as locals in this order (HubRun.cpp), so
// they go in reverse, each before what it uses.

#include "PluginFlowMessages.h"
#include "PluginWiring.h"

#include "hub/catalog/Catalog.h"
#include "hub/catalog/WorkingCalendar.h"
#include "hub/events/Relay.h"
#include "hub/flows/ApplicationService.h"
#include "hub/flows/ApprovalEngineLink.h"
#include "hub/flows/FlowRunner.h"
#include "hub/host/PluginHost.h"
#include "hub/host/PluginSchedule.h"
#include "hub/identity/IdentityDirectory.h"
#include "hub/identity/ProvisioningForwarder.h"
#include "hub/identity/SourcedFields.h"
#include "hub/identity/SyncSchedule.h"
#include "hub/identity/Syncer.h"
#include "hub/soap/Client.h"
#include "hub/sql/Sources.h"
#include "hub/store/AuditLog.h"
#include "hub/store/Database.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
}
namespace hub::http {
class Client;
}
namespace hub::identity {
class StaticDirectory;
}

namespace hub::app {

class FlowDeployments;
class PrivacyParts;
struct Numbers;

/// The store and what lives in it: the database, the service catalogue, the
/// audit log; the privacy parts' retention job starts on them.
struct StoreParts {
    StoreParts(const Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers, PrivacyParts& privacy);

    store::Database db;
    catalog::Catalog catalogue;
    store::AuditLog audit;
};

/// Applications and their events: every state change writes its CloudEvent to
/// the outbox in the same transaction; the relay, started here, delivers from
/// there and brings the approval engine's decisions in.
struct EventParts {
    EventParts(Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers, store::Database& db);

    const std::string source;  // events.source
    const catalog::WorkingCalendar calendar;
    flows::ApplicationService applications;
    flows::ApprovalEngineLink approvals;
    events::Relay relay;
};

/// Identity: the synced persons, the directory's syncer when identity.ldap.uri
/// is set (else identity.static alone), the fields plugins hand over.
struct IdentityParts {
    IdentityParts(Poco::Util::AbstractConfiguration& cfg, store::Database& db, const std::string& source);

    identity::IdentityDirectory people;
    std::unique_ptr<identity::Syncer> syncer;
    identity::SourcedFields sourcedFields;
};

/// The plugins, loaded here, with what the hub lends them, and the work that
/// calls them on a schedule of its own: the identity changes forwarded to the
/// plugins that provision accounts after each directory sync.
struct PluginParts {
    using Defines = std::vector<std::pair<std::string, std::string>>;

    PluginParts(Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers, http::Client& httpClient,
                StoreParts& store, const std::string& source, IdentityParts& identity, const Defines& defines);

    PluginEventTypes eventTypes;
    soap::Client soapClient;
    // sql/sources: the data sources IT gives plugins (sql_query); a bad one stops the start.
    std::unique_ptr<sql::Sources> sqlSources;
    // A plugin's flow message goes to the flows' runner once it runs (PluginFlowMessages.h).
    PluginFlowMessages flowMessages;
    std::unique_ptr<host::PluginHost> host;  // reset first thing at the stop: joins the pools, unloads
    identity::ProvisioningForwarder provisioning;
    // After everything its task uses, so that it is gone before they are, on a
    // failed start as well.
    identity::SyncSchedule syncSchedule;
};

/// The plugin operations hub.xml's <schedules> runs periodically (one node:
/// see PluginSchedule), checked and started.
struct ScheduleParts {
    ScheduleParts(Poco::Util::AbstractConfiguration& cfg, host::PluginHost& plugins, store::Database& db,
                  store::AuditLog& audit);

    host::PluginSchedule schedule;
};

/// The BPMN flows' runner: an item whose flow is deployed starts an instance
/// in its submit's transaction (docs/flows/bpmn.md, "In hubd"), the approval
/// engine's decisions and the plugins' flow messages reach it; the instances
/// in flight resume here.
struct FlowParts {
    FlowParts(Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers, StoreParts& store, EventParts& events,
              const identity::StaticDirectory& directory, IdentityParts& identity, PluginParts& plugins,
              FlowDeployments& deployments);

    flows::FlowRunner runner;

private:
    // No plugin's message reaches the runner once it goes, however the start ends.
    struct Detach {
        PluginFlowMessages& messages;
        ~Detach() { messages.attach(nullptr); }
    } detach_;
};

}  // namespace hub::app
