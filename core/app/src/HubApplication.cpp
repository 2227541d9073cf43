#include "HubApplication.h"
#include "FlowDeployments.h"
#include "PluginFlowMessages.h"
#include "PluginWiring.h"
#include "PrivacyParts.h"

#include "Reloader.h"
#include "ServiceManager.h"

#include "hub/api/AdminRoutes.h"
#include "hub/api/ApplicationRoutes.h"
#include "hub/api/Authentication.h"
#include "hub/api/CatalogRoutes.h"
#include "hub/api/ConsoleApiRoutes.h"
#include "hub/api/ConsoleRoutes.h"
#include "hub/api/HttpServer.h"
#include "hub/api/Metrics.h"
#include "hub/api/MetricsRoutes.h"
#include "hub/api/OwnedFields.h"
#include "hub/api/PrefillRoutes.h"
#include "hub/api/PrivacyRoutes.h"
#include "hub/api/PluginActivity.h"
#include "hub/api/RouteAudit.h"
#include "hub/api/Router.h"
#include "hub/api/SystemRoutes.h"
#include "hub/api/TaskRoutes.h"
#include "hub/api/WebhookRoutes.h"
#include "hub/auth/Access.h"
#include "hub/auth/TokenVerifier.h"
#include "hub/catalog/Catalog.h"
#include "hub/catalog/DataOwners.h"
#include "hub/catalog/WorkingCalendar.h"
#include "hub/events/CloudEvent.h"
#include "hub/events/Outbox.h"
#include "hub/events/Relay.h"
#include "hub/events/RelayConfig.h"
#include "hub/flows/ApplicationService.h"
#include "hub/flows/ApprovalEngineLink.h"
#include "hub/flows/Evaluation.h"
#include "hub/flows/FlowRunner.h"
#include "hub/runtime/WorkerPool.h"
#include "hub/identity/IdentityDirectory.h"
#include "hub/identity/ProvisioningForwarder.h"
#include "hub/identity/SourcedFields.h"
#include "hub/identity/StaticDirectory.h"
#include "hub/identity/SyncSchedule.h"
#include "hub/identity/Syncer.h"
#include "hub/soap/Client.h"
#include "hub/sql/Sources.h"
#include "hub/host/PluginHost.h"
#include "hub/host/PluginSchedule.h"
#include "hub/http/Client.h"
#include "hub/store/AuditLog.h"
#include "hub/store/Database.h"

#include "hub/common/ConfigValue.h"
#include "hub/common/LogFormatter.h"
#include "hub/common/Exceptions.h"

#include <campushub/plugin.h>

#include <Poco/AutoPtr.h>
#include <Poco/Crypto/Crypto.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/Path.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/OptionException.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionSet.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <ctime>
#include <functional>
#include <iostream>
#include <pthread.h>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

namespace hub::app {

namespace {

// The embedded defaults: hubd runs with no config file at all. A config file
// overrides any of them.
void addDefaults(Poco::Util::MapConfiguration& d) {
    d.setString("http.address", "127.0.0.1");
    d.setInt("http.port", 8080);
    d.setInt("http.ioThreads", 0);  // 0: one per core
    d.setInt("http.maxBodyBytes", 1024 * 1024);
    d.setInt("http.idleTimeoutSeconds", 30);
    d.setInt("http.readTimeoutSeconds", 15);
    d.setBool("metrics.requireToken", false);
    d.setInt("http.drainTimeoutMs", 10000);
    d.setInt("http.fiberStackKb", 256);  // plugin calls of execution "loop"
    d.setString("store.path", "var/hub.db");
    d.setString("catalog.dir", "config/catalog");
    d.setString("flows.dir", "config/flows");
    d.setInt("calendar.utcOffsetSeconds", 8 * 3600);  // China Standard Time
    d.setInt("http.blockingThreads", 8);
    d.setString("events.source", "/campus-hub");
    d.setString("auth.jwt.audience", "campushub");
    d.setString("plugins.dir", "plugins-enabled");
    d.setInt("plugins.defaults.timeoutMs", 5000);
    d.setInt("plugins.defaults.concurrency", 8);
    d.setInt("plugins.defaults.queue", 64);
    d.setInt("plugins.watchIntervalMs", 2000);   // 0: reload only from the admin API
    d.setInt("plugins.healthIntervalMs", 10000);
}

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

// Every integer key hubd reads, read once before anything starts, each with the
// range it may take: a value outside it stops the start with the key's name
// (config::ConfigError), where it used to wrap (a port of 70000) or misbehave
// later (a negative timeout). Keys other modules read themselves (auth.jwt.*,
// identity.*) are checked here too and read there.
struct Numbers {
    int httpPort, ioThreads, maxBodyBytes, idleTimeoutSeconds, readTimeoutSeconds, drainTimeoutMs, fiberStackKb,
        blockingThreads, metricsPort;
    int utcOffsetSeconds, auditCommitIntervalMs, watchIntervalMs, healthIntervalMs;
    int consoleActivitySeconds;
    host::PluginLimits pluginDefaults;

    static Numbers read(const Poco::Util::AbstractConfiguration& cfg) {
        using config::readInt;
        using config::readOptionalInt;
        Numbers n;
        n.httpPort = readInt(cfg, "http.port", {0, 65535});
        n.ioThreads = readInt(cfg, "http.ioThreads", {0, 1024});
        n.maxBodyBytes = readInt(cfg, "http.maxBodyBytes", {1, 1 << 30});
        n.idleTimeoutSeconds = readInt(cfg, "http.idleTimeoutSeconds", {1, 86400});
        n.readTimeoutSeconds = readInt(cfg, "http.readTimeoutSeconds", {1, 3600});
        n.metricsPort = readInt(cfg, "metrics.port", 0, {0, 65535});
        n.drainTimeoutMs = readInt(cfg, "http.drainTimeoutMs", {0, 3600000});
        n.fiberStackKb = readInt(cfg, "http.fiberStackKb", {64, 65536});
        n.blockingThreads = readInt(cfg, "http.blockingThreads", {1, 1024});
        n.utcOffsetSeconds = readInt(cfg, "calendar.utcOffsetSeconds", {-12 * 3600, 14 * 3600});
        n.auditCommitIntervalMs = readInt(cfg, "audit.commitIntervalMs", 50, {1, 60000});
        n.watchIntervalMs = readInt(cfg, "plugins.watchIntervalMs", {0, 86400000});
        n.healthIntervalMs = readInt(cfg, "plugins.healthIntervalMs", {0, 86400000});
        n.pluginDefaults = host::PluginLimits::fromConfig(cfg, "plugins.defaults", host::PluginLimits{});
        n.consoleActivitySeconds = readInt(cfg, "console.activitySeconds", 60, {1, 3600});
        readOptionalInt(cfg, "auth.jwt.leewaySeconds", {0, 3600});
        readOptionalInt(cfg, "auth.jwt.maxTokenBytes", {512, 1 << 20});
        readOptionalInt(cfg, "auth.jwt.cacheSize", {0, 10000000});
        readOptionalInt(cfg, "identity.ldap.connectTimeoutMs", {1, 600000});
        readOptionalInt(cfg, "identity.ldap.operationTimeoutMs", {1, 3600000});
        readOptionalInt(cfg, "identity.ldap.pageSize", {1, 1000000});
        readOptionalInt(cfg, "identity.ldap.connectAttempts", {1, 100});
        readOptionalInt(cfg, "identity.ldap.backoffInitialMs", {0, 600000});
        readOptionalInt(cfg, "identity.ldap.backoffMaxMs", {0, 3600000});
        readOptionalInt(cfg, "identity.mapping.maxValueBytes", {1, 1 << 24});
        readOptionalInt(cfg, "identity.sync.intervalSeconds", {1, 7 * 86400});
        return n;
    }

    // The API listener's options.
    api::HttpServer::Options serverOptions(const std::string& address) const {
        api::HttpServer::Options o;
        o.address = address;
        o.port = static_cast<std::uint16_t>(httpPort);
        o.ioThreads = static_cast<std::size_t>(ioThreads);
        if (o.ioThreads == 0)  // one per core: measured best on 2 cores (docs/bench/api.md)
            o.ioThreads = std::max(1u, std::thread::hardware_concurrency());
        o.maxBodyBytes = static_cast<std::size_t>(maxBodyBytes);
        o.idleTimeout = std::chrono::seconds(idleTimeoutSeconds);
        o.readTimeout = std::chrono::seconds(readTimeoutSeconds);
        o.fiberStackBytes = static_cast<std::size_t>(fiberStackKb) * 1024;
        return o;
    }
};

// -D overrides of a plugin's keys (plugins.plugin[@name=X].KEY): the name of
// the plugin, or "" for any other key. A key the host does not know is a typo
// that would be ignored without a word, so it stops the start.
std::string overriddenPlugin(const std::string& key) {
    static const std::string kPrefix = "plugins.plugin[@name=";
    static const std::set<std::string> kKeys = {"timeoutMs", "concurrency", "queue", "failureThreshold",
                                                "openMs",    "isolation",   "execution", "config",
                                                "webhook"};
    if (key.rfind(kPrefix, 0) != 0) return {};
    auto close = key.find(']', kPrefix.size());
    std::string name = close == std::string::npos ? "" : key.substr(kPrefix.size(), close - kPrefix.size());
    std::string rest = close == std::string::npos ? "" : key.substr(close + 1);  // ".timeoutMs", ".config.x"
    std::string first = rest.size() > 1 && rest[0] == '.' ? rest.substr(1, rest.find('.', 1) - 1) : "";
    if (name.empty() || !kKeys.count(first) || (first == "config" && rest.size() <= 8))
        throw config::ConfigError("-D " + key + ": not a plugin key; under plugins.plugin[@name=X] they are "
                                  "timeoutMs, concurrency, queue, failureThreshold, openMs, isolation, execution, "
                                  "webhook.secretFile and config.*");
    return name;
}

// An override for a plugin that is not loaded is reported: it may be a typo of
// the name, or a plugin installed later (then it applies).
void reportOverridesOfAbsentPlugins(const std::vector<std::pair<std::string, std::string>>& defines,
                                    const host::PluginHost& plugins) {
    std::set<std::string> loaded;
    for (const auto& status : plugins.list()) loaded.insert(status.name);
    for (const auto& define : defines) {
        std::string name = overriddenPlugin(define.first);
        if (!name.empty() && !loaded.count(name))
            Poco::Logger::get("hub").warning(
                "-D %s: no plugin named '%s' is loaded; the override applies if one is loaded later", define.first,
                name);
    }
}

// The holiday calendar: a configured file must load; without one (and without
// the shipped default) due dates count Monday to Friday.
catalog::WorkingCalendar loadCalendar(const Poco::Util::AbstractConfiguration& cfg) {
    const std::string shipped = "config/calendar/calendar.xml";
    if (cfg.has("calendar.file")) return catalog::WorkingCalendar::fromFile(cfg.getString("calendar.file"));
    if (Poco::File(shipped).exists()) return catalog::WorkingCalendar::fromFile(shipped);
    Poco::Logger::get("hub").warning("no holiday calendar (calendar.file): due dates count Monday to Friday only");
    return {};
}

// console.dir's default: the build tree's console when hubd runs from its build
// tree, else where `cmake --install` (and so the package) puts it.
std::string defaultConsoleDir() {
    if (Poco::File(std::string(HUB_CONSOLE_DIR) + "/index.html").exists()) return HUB_CONSOLE_DIR;
    return HUB_CONSOLE_INSTALLED_DIR;
}

// Writes the whole number, then renames: a reader never sees half a port number.
void writePortFile(const std::string& path, std::uint16_t port) {
    {
        Poco::FileOutputStream out(path + ".tmp");
        out << port << "\n";
    }
    Poco::File(path + ".tmp").renameTo(path);
}

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

// Each identity change as an identity.changed event, in the sync's transaction.
identity::ChangeSink identityChangesToOutbox(const std::string& source) {
    return [source](Poco::Data::Session& session, const identity::IdentityChange& change) {
        events::Outbox::append(session, events::CloudEvent::create(events::EventType::IdentityChanged, source,
                                                                   change.subject + "s/" + change.id,
                                                                   change.toJson()));
    };
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
// the plugins' own events.
host::PluginHost::Options pluginHostOptions(Poco::Util::AbstractConfiguration& cfg, const Numbers& numbers,
                                            const std::string& caFile, http::Client& httpClient,
                                            soap::Client& soapClient, sql::Sources& sqlSources, store::Database& db,
                                            const std::string& source, PluginEventTypes& eventTypes,
                                            identity::SourcedFields& sourcedFields) {
    host::PluginHost::Options o;
    o.pluginsDir = cfg.getString("plugins.dir");
    o.config = Poco::AutoPtr<Poco::Util::AbstractConfiguration>(cfg.createView("plugins"));
    o.http = &httpClient;
    o.defaults = numbers.pluginDefaults;
    o.process.workerExecutable = cfg.getString("plugins.workerExecutable", "");
    o.process.httpCaFile = caFile;
    o.watchInterval = std::chrono::milliseconds(numbers.watchIntervalMs);
    o.healthInterval = std::chrono::milliseconds(numbers.healthIntervalMs);
    o.onHealthChanged = healthChangesToOutbox(db, source);
    o.database = &db;
    o.soap = &soapClient;
    o.sql = sqlSources.empty() ? nullptr : &sqlSources;
    o.emitEvent = pluginEventsToOutbox(db, source, eventTypes);
    o.onManifest = [&eventTypes](const host::Manifest& manifest) { eventTypes.declare(manifest); };
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

// Waits for a stop signal (SIGTERM, SIGINT, SIGQUIT; all blocked in every
// thread, see prepareSignals), running `reload` for each SIGHUP. When systemd
// asks for a watchdog (WatchdogSec=), sends WATCHDOG=1 every half period, but
// only while `healthy` says the event loops answer: a hub whose loops hang is
// then restarted by systemd.
void serveUntilStopped(const ServiceManager& manager, const std::function<void()>& reload,
                       const std::function<bool()>& healthy) {
    sigset_t wanted;
    sigemptyset(&wanted);
    for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&wanted, sig);
    const auto interval = manager.watchdogInterval();
    auto nextPing = std::chrono::steady_clock::now();
    for (;;) {
        int sig = 0;
        if (interval.count() > 0) {
            auto now = std::chrono::steady_clock::now();
            if (now >= nextPing) {
                if (healthy()) manager.watchdog();
                nextPing = now + interval;
            }
            auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(nextPing - now);
            timespec timeout{static_cast<time_t>(wait.count() / 1000000000),
                             static_cast<long>(wait.count() % 1000000000)};
            sig = ::sigtimedwait(&wanted, nullptr, &timeout);
            if (sig < 0) continue;  // EAGAIN: time to ping; EINTR: wait again
        } else if (::sigwait(&wanted, &sig) != 0) {
            continue;
        }
        if (sig != SIGHUP) return;
        reload();
    }
}

}  // namespace

HubApplication::HubApplication() { setUnixOptions(true); }
HubApplication::~HubApplication() = default;

void HubApplication::prepareSignals() {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGQUIT);
    sigaddset(&stop, SIGHUP);
    ::pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

void HubApplication::defineOptions(Poco::Util::OptionSet& options) {
    ServerApplication::defineOptions(options);
    options.addOption(Poco::Util::Option("config", "c", "read the hub configuration from FILE (XML)")
                          .required(false)
                          .repeatable(false)
                          .argument("FILE")
                          .callback(Poco::Util::OptionCallback<HubApplication>(this, &HubApplication::handleConfig)));
    options.addOption(Poco::Util::Option("define", "D", "set a configuration key, overriding the file: KEY=VALUE")
                          .required(false)
                          .repeatable(true)
                          .argument("KEY=VALUE")
                          .callback(Poco::Util::OptionCallback<HubApplication>(this, &HubApplication::handleDefine)));
    options.addOption(Poco::Util::Option("help", "h", "show the options and exit")
                          .required(false)
                          .repeatable(false)
                          .callback(Poco::Util::OptionCallback<HubApplication>(this, &HubApplication::handleHelp)));
    options.addOption(Poco::Util::Option("version", "", "print the version and exit")
                          .required(false)
                          .repeatable(false)
                          .callback(Poco::Util::OptionCallback<HubApplication>(this, &HubApplication::handleVersion)));
}

void HubApplication::handleConfig(const std::string&, const std::string& value) { configFile_ = value; }

void HubApplication::handleDefine(const std::string&, const std::string& value) {
    // The key ends at the first "=" outside brackets: plugins.plugin[@name=X].isolation=process.
    std::size_t eq = std::string::npos;
    int depth = 0;
    for (std::size_t i = 0; i < value.size() && eq == std::string::npos; ++i) {
        if (value[i] == '[') ++depth;
        else if (value[i] == ']' && depth > 0) --depth;
        else if (value[i] == '=' && depth == 0) eq = i;
    }
    if (eq == std::string::npos || eq == 0 || depth != 0)
        throw Poco::Util::InvalidArgumentException("--define needs KEY=VALUE, got '" + value + "'");
    defines_.emplace_back(value.substr(0, eq), value.substr(eq + 1));
}

void HubApplication::handleHelp(const std::string&, const std::string&) {
    helpRequested_ = true;
    Poco::Util::HelpFormatter help(options());
    help.setCommand(commandName());
    help.setUsage("[--config FILE] [--daemon --pidfile FILE]");
    help.setHeader("CampusHub integration hub daemon.");
    help.format(std::cout);
    stopOptionsProcessing();
}

void HubApplication::handleVersion(const std::string&, const std::string&) {
    versionRequested_ = true;
    std::cout << commandName() << " " << HUB_VERSION << std::endl;
    stopOptionsProcessing();
}

void HubApplication::initialize(Poco::Util::Application& self) {
    // SIGHUP is blocked in every thread (prepareSignals) and taken by main()'s
    // wait as a reload, so a closing terminal does not stop the hub either.
    defaults_ = new Poco::Util::MapConfiguration;
    addDefaults(*defaults_);
    config().add(defaults_, PRIO_DEFAULT + 100);  // below everything else
    if (!configFile_.empty()) {
        // Its own layer, which a reload replaces whole (ReloadableConfiguration.h).
        file_ = new ReloadableConfiguration(ReloadableConfiguration::read(configFile_));
        config().add(file_, PRIO_DEFAULT);
    }
    if (!defines_.empty()) {
        overrides_ = new Poco::Util::MapConfiguration;
        for (const auto& [key, value] : defines_) overrides_->setString(key, value);
        config().add(overrides_, PRIO_APPLICATION);  // above the file
    }

    // Console logging unless the config sets up its own channels: the hub's line
    // (text or JSON, personal data masked unless switched off), which the plugin
    // workers hubd starts take over through the environment.
    log::LogFormatter::Options logOptions;
    try {
        logOptions.style = log::LogFormatter::parseStyle(config().getString("logging.format", "text"));
        logOptions.maskPersonalData = config().getBool("logging.maskPersonalData", true);
    } catch (const Poco::Exception& e) {
        loggingError_ = e.displayText() + " (logging.format, logging.maskPersonalData)";
    }
    Poco::AutoPtr<log::LogFormatter> formatter(new log::LogFormatter(logOptions));
    formatter->exportToEnvironment();
    log::LogFormatter::registerWithPoco();  // before the logging subsystem reads logging.channels.*
    if (!config().has("logging.loggers.root.channel")) {
        Poco::AutoPtr<Poco::FormattingChannel> channel(
            new Poco::FormattingChannel(formatter, new Poco::ConsoleChannel));
        Poco::Logger::root().setChannel(channel);
        Poco::Logger::root().setLevel(config().getString("logging.level", "information"));
    }
    ServerApplication::initialize(self);
}

int HubApplication::main(const std::vector<std::string>&) {
    if (helpRequested_ || versionRequested_) return EXIT_OK;
    auto& cfg = config();
    auto& log = Poco::Logger::get("hub");
    if (!loggingError_.empty()) {
        log.fatal("cannot run: %s", loggingError_);
        return EXIT_CONFIG;
    }
    if (!cfg.getBool("logging.maskPersonalData", true))
        log.warning("logging.maskPersonalData is off: ID numbers, phone numbers and e-mail addresses are logged "
                    "in full; turn it back on after the debugging session");
    try {
        // Start order: store, outbound connectors, plugins, then the listener last, so
        // nothing is served before everything it needs is up. Stop in reverse.
        // Authentication is not optional: without a key, refuse to start.
        const Numbers numbers = Numbers::read(cfg);
        // One datum, one source: a field with two owners stops the start here.
        auto dataOwners = catalog::DataOwners::fromConfig(cfg);
        PrivacyParts privacy(cfg);  // privacy.answers and privacy.retention checked before anything starts
        for (const auto& define : defines_) overriddenPlugin(define.first);  // throws for an unknown plugin key
        Poco::Crypto::initializeCrypto();
        auth::TokenVerifier verifier(cfg, "auth");
        auth::Access access = auth::Access::fromConfig(cfg, "auth");
        identity::StaticDirectory directory(cfg);

        store::Database db(store::Database::Options::fromConfig(cfg));  // store.backend: sqlite or postgresql
        catalog::Catalog catalogue({cfg.getString("catalog.dir"), "",
                                    cfg.getString("catalog.departmentsDir", cfg.getString("catalog.dir") + "/departments")});
        log.information("catalogue: %z service items", catalogue.snapshot()->items().size());
        store::AuditLog audit(db, 100000, std::chrono::milliseconds(numbers.auditCommitIntervalMs));
        privacy.start(db, audit);
        http::Client::Options clientOptions;
        clientOptions.caFile = cfg.getString("http.client.caFile", "");
        http::Client httpClient(clientOptions);

        // Events: every state change writes its CloudEvent to the outbox in the
        // same transaction; the relay delivers from there.
        const std::string source = cfg.getString("events.source");
        events::Outbox::migrate(db);
        const catalog::WorkingCalendar calendar = loadCalendar(cfg);
        flows::ApplicationService applications(db, {calendar, numbers.utcOffsetSeconds});
        flows::ApprovalEngineLink approvals(applications, source);
        applications.setEventSink(approvals.outboxSink());

        // The relay's CURVE key pair lives beside the database unless configured.
        auto relayConfig = events::RelayConfig::fromConfiguration(
            *Poco::AutoPtr<Poco::Util::AbstractConfiguration>(cfg.createView("events")),
            Poco::Path(cfg.getString("store.path")).makeAbsolute().parent().toString());
        events::Relay relay(db, relayConfig, approvals.inboundHandler());
        relay.start();

        // Identity: the directory when one is configured, else identity.static.
        identity::IdentityDirectory people(db);
        std::unique_ptr<identity::Syncer> syncer;
        if (cfg.has("identity.ldap.uri")) {
            auto identityConfig = Poco::AutoPtr<Poco::Util::AbstractConfiguration>(cfg.createView("identity"));
            auto syncOptions = identity::SyncOptions::fromConfig(*identityConfig);
            syncer = std::make_unique<identity::Syncer>(db, syncOptions, identityChangesToOutbox(source));
        }

        identity::SourcedFields sourcedFields(db);
        PluginEventTypes pluginEventTypes;
        soap::Client soapClient(httpClient);
        // sql/sources: the data sources IT gives plugins (sql_query); a bad one stops the start.
        auto sqlSources = sql::Sources::fromConfig(cfg);
        // A plugin's flow message goes to the flows' runner once it runs (PluginFlowMessages.h).
        PluginFlowMessages flowMessages;
        auto hostOptions = pluginHostOptions(cfg, numbers, clientOptions.caFile, httpClient, soapClient, *sqlSources, db,
                                             source, pluginEventTypes, sourcedFields);
        hostOptions.emitEvent = flowMessages.wrap(std::move(hostOptions.emitEvent));
        auto plugins = std::make_unique<host::PluginHost>(std::move(hostOptions));
        plugins->loadAll();
        reportOverridesOfAbsentPlugins(defines_, *plugins);
        identity::ProvisioningForwarder provisioning(
            db, [&plugins] { return plugins->subscribers(events::EventType::IdentityChanged); },
            [&plugins](const std::string& plugin, const std::string& json) {
                host::CallResult r = plugins->deliverEventTo(plugin, json);
                return r.status == CH_OK ? std::string()
                                         : "status " + std::to_string(r.status) + ": " + r.body.substr(0, 1000);
            });
        // After everything its task uses, so that it is gone before they are, on
        // a failed start as well (locals go in reverse order).
        identity::SyncSchedule syncSchedule;
        if (syncer) {
            syncSchedule.start(*syncer, std::chrono::seconds(syncer->options().intervalSeconds),
                               [&provisioning] { provisioning.forward(); });
            log.information("directory sync every %d s from %s", syncer->options().intervalSeconds,
                            cfg.getString("identity.ldap.uri"));
        }
        log.information("%z plugin(s) loaded, %z refused", plugins->list().size(), plugins->refusals().size());
        // The plugin operations hub.xml's <schedules> runs periodically (one node: see PluginSchedule).
        host::PluginSchedule schedule(*plugins, &audit, scheduleEntries(cfg));
        schedule.start();
        for (const auto& e : schedule.entries())
            log.information("schedule: %s.%s every %d s", e.plugin, e.operation, static_cast<int>(e.every.count()));
        // The BPMN flows, checked against the manifests just loaded.
        FlowDeployments flowDeployments(db, cfg, *plugins, privacy.pluginDepartment());
        approvals.setFlowDriven([&flowDeployments](Poco::Data::Session& session, const std::string& id) {
            return flowDeployments.store().instanceOf(session, id).has_value();
        });

        // Database work of the API runs here, never on the I/O threads.
        auto blockingThreads = static_cast<std::size_t>(numbers.blockingThreads);
        runtime::WorkerPool blocking("api", blockingThreads, blockingThreads * 64);

        // The BPMN flows' runner: an item whose flow is deployed starts an
        // instance in its submit's transaction (docs/flows/bpmn.md, "In hubd").
        flows::FlowRunner::Options flowOptions;
        // Timers in working days count the calendar as loaded at start, from
        // the time of day they are armed (the hall's zone).
        flowOptions.engine.addWorkingDays = [calendar, offsetMs = std::int64_t{numbers.utcOffsetSeconds} * 1000](
                                                std::int64_t fromMs, std::int64_t count) {
            using namespace std::chrono;
            const sys_days from = floor<days>(sys_time<milliseconds>(milliseconds(fromMs + offsetMs)));
            const sys_days to = sys_days(calendar.addWorkingDays(year_month_day(from), static_cast<int>(count)));
            return fromMs + duration_cast<milliseconds>(to - from).count();
        };
        flowOptions.person = [&directory, &people](const std::string& id) -> std::optional<flows::FlowRunner::Person> {
            if (const identity::Person* listed = directory.find(id))
                return flows::FlowRunner::Person{listed->department, listed->roles, listed->audience};
            auto person = people.findById(id);
            if (!person) return std::nullopt;
            return flows::FlowRunner::Person{person->department, person->roles, person->audience};
        };
        flows::FlowRunner flowRunner(db, applications, flowDeployments.store(), flowDeployments.repository(), *plugins,
                                     std::move(flowOptions));
        flowMessages.attach(&flowRunner);
        OnExit detachFlowMessages([&flowMessages] { flowMessages.attach(nullptr); });
        flowRunner.setExternalGroups(FlowDeployments::externalGroups(cfg));
        // The external approval engine's decisions for flow-driven applications.
        approvals.setFlowDecision([&flowRunner](Poco::Data::Session& session, const flows::FlowRunner::Decision& d) {
            return flowRunner.applyDecisionWithin(session, d);
        });
        applications.setFlowStarter([&flowRunner](Poco::Data::Session& session, const flows::Application& application,
                                                  const std::string& flowId) {
            return flowRunner.startWithin(session, application, flowId);
        });
        // A withdrawn application cancels its flow in the same transaction.
        applications.setEventSink([sink = approvals.outboxSink(), &flowRunner](Poco::Data::Session& session,
                                                                              const std::string& type,
                                                                              const std::string& subject,
                                                                              const std::string& dataJson) {
            sink(session, type, subject, dataJson);
            flowRunner.onApplicationEvent(session, type, dataJson);
        });
        flowRunner.resume();

        api::Router router;
        api::addHealthRoutes(router, *plugins, &db);
        api::addSystemRoutes(router, *plugins, &audit);
        api::addWebhookRoutes(router, *plugins, api::WebhookOptions::fromConfig(cfg), &audit);
        api::addCatalogRoutes(router, catalogue);
        // Owned form fields, from the identity store or their department's plugin.
        api::OwnedFields ownedFields(dataOwners, personFacts(directory, people), plugins.get());
        log.information("privacy: %z owned field(s)", dataOwners->all().size());
        // A joint review's other departments: an open task of the application's flow is theirs.
        auto reviewer = [&flowDeployments, &db](const api::Principal& caller, const std::string& applicationId) {
            auto session = db.session();
            for (const auto& task : flowDeployments.store().openTasks(session)) {
                if (task.applicationId != applicationId) continue;
                if (!task.assignee.empty() && task.assignee == caller.subject) return true;
                Poco::StringTokenizer groups(task.candidateGroups, ",",
                                             Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
                for (const auto& group : groups)
                    if (caller.hasRole(group)) return true;
            }
            return false;
        };
        api::addApplicationRoutes(router, applications, catalogue, *plugins, blocking, &audit, &ownedFields,
                                  &privacy.answers(), reviewer);
        api::addPrefillRoutes(router, catalogue, ownedFields);
        api::addTaskRoutes(router, {&applications, &flowRunner, &flowDeployments.store(), &flowDeployments.repository(),
                                    &db, &blocking, &audit,
                                    [&flowDeployments, &flowRunner, &cfg] {
                                        std::string summary = flowDeployments.reload(cfg);
                                        flowRunner.setExternalGroups(FlowDeployments::externalGroups(cfg));
                                        return summary;
                                    },
                                    &catalogue,
                                    {[&flowDeployments, &cfg](const std::string& department, const std::string& file,
                                                              const std::string& xml) {
                                         return flowDeployments.putDepartmentFlow(cfg, department, file, xml);
                                     },
                                     [&flowDeployments, &cfg](const std::string& department, const std::string& file) {
                                         return flowDeployments.removeDepartmentFlow(cfg, department, file);
                                     },
                                     [&flowDeployments, &cfg](const std::string& department) {
                                         return flowDeployments.reloadDepartment(cfg, department);
                                     }}});
        api::AdminServices admin;
        admin.directory = &people;
        admin.sourcedFields = &sourcedFields;
        admin.syncer = syncer.get();
        admin.relay = &relay;
        admin.plugins = plugins.get();
        admin.catalog = &catalogue;
        admin.blocking = &blocking;
        admin.audit = &audit;
        admin.store = &db;
        admin.staticPerson = [&directory](const std::string& id) { return directory.json(id); };
        admin.answers = &privacy.answers();
        admin.pluginDepartment = privacy.pluginDepartment();
        admin.applicationDepartment = [&applications](const std::string& id) {
            auto application = applications.find(id);
            return application ? application->department : std::string();
        };
        api::addAdminRoutes(router, admin);
        api::addPrivacyRoutes(router, {admin, &applications, privacy.retention()});
        // The web console: its static files, and the figures and series its pages read.
        api::addConsoleRoutes(router, {cfg.getString("console.dir", defaultConsoleDir())});
        flows::Evaluation evaluation(db, calendar, numbers.utcOffsetSeconds);
        api::PluginActivity activity(*plugins, std::chrono::seconds(numbers.consoleActivitySeconds));
        api::addConsoleApiRoutes(router, {&applications, &evaluation, &relay, &activity, &blocking, &audit, &db});

        // /metrics: on the API's listener, or alone on its own (metrics.port) for ops.
        api::RequestMetrics requestMetrics;
        api::MetricsServices metrics{plugins.get(), &audit, &relay, &db, &requestMetrics,
                                     cfg.getBool("metrics.requireToken")};
        api::Router metricsRouter;
        api::addMetricsRoutes(cfg.has("metrics.port") ? metricsRouter : router, metrics);
        requestMetrics.track(router, "/api/v1/systems/{system}/operations/{operation}",
                             [&plugins](const std::string& name) { return plugins->has(name); });

        const api::HttpServer::Options httpOptions = numbers.serverOptions(cfg.getString("http.address"));
        api::HttpServer server(httpOptions, router);
        std::unique_ptr<api::HttpServer> metricsServer;
        // Stop order, on every way out of here: what answers through the server or
        // runs on a thread of its own stops before the objects it uses go. Locals
        // go in reverse order, so the api pool (declared before the server) would
        // otherwise outlive it, and a plugin pool could still answer into it.
        const auto drainTimeout = std::chrono::milliseconds(numbers.drainTimeoutMs);
        bool stopped = false;
        auto stopAll = [&] {
            if (std::exchange(stopped, true)) return;
            if (metricsServer) metricsServer->stop(std::chrono::milliseconds(1000));
            server.stop(drainTimeout);
            blocking.shutdown();  // after the drain: its tasks answer requests in flight
            privacy.stop();
            syncSchedule.stop();
            schedule.stop();  // waits for its runs in flight, before the plugins they call go
            relay.stop();
            flowMessages.attach(nullptr);  // no plugin's message reaches a stopping runner
            flowRunner.stop();  // before the plugins its calls answer from
            plugins.reset();  // joins each plugin's pool, then unloads it
            audit.flush();
        };
        OnExit stopOnExit([&] {
            try {
                stopAll();
            } catch (...) {
                logQuietly("hub", "while stopping: " + currentExceptionText());
            }
        });
        auto authenticator = api::makeAuthenticator(
            verifier, access, [&directory, &people](const std::string& subject) -> std::optional<api::IdentityInfo> {
                if (const identity::Person* listed = directory.find(subject))
                    return api::IdentityInfo{listed->name, listed->department, listed->audience, listed->roles};
                // A SQLite point read by primary key: microseconds from the page cache.
                auto person = people.findById(subject);
                if (!person || person->status != identity::PersonStatus::Active) return std::nullopt;
                return api::IdentityInfo{person->name, person->department, person->audience, person->roles};
            },
            [&audit](const api::Request& r, const api::Response& refusal) {
                api::auditRouteCall(&audit, r, refusal.status);
            });
        server.setAuthenticator(authenticator);
        server.setObserver(requestMetrics.observer());
        try {
            server.start();
        } catch (const std::exception& e) {
            throw std::runtime_error("cannot listen on " + httpOptions.address + ":" +
                                     std::to_string(httpOptions.port) + " (http.address, http.port): " + e.what());
        }
        if (cfg.has("metrics.port")) {
            api::HttpServer::Options metricsOptions;
            metricsOptions.address = cfg.getString("metrics.address", httpOptions.address);
            metricsOptions.port = static_cast<std::uint16_t>(numbers.metricsPort);
            metricsOptions.ioThreads = 1;
            metricsOptions.maxConnections = 64;
            metricsServer = std::make_unique<api::HttpServer>(metricsOptions, metricsRouter);
            metricsServer->setAuthenticator(authenticator);
            try {
                metricsServer->start();
            } catch (const std::exception& e) {
                throw std::runtime_error("cannot listen on " + metricsOptions.address + ":" +
                                         std::to_string(metricsOptions.port) + " (metrics.address, metrics.port): " +
                                         e.what());
            }
            if (cfg.has("metrics.portFile")) writePortFile(cfg.getString("metrics.portFile"), metricsServer->port());
            log.information("metrics on http://%s:%hu/metrics", metricsOptions.address, metricsServer->port());
        }
        if (cfg.has("http.portFile")) writePortFile(cfg.getString("http.portFile"), server.port());
        log.information("hubd ready on http://%s:%hu/", httpOptions.address, server.port());

        // SIGHUP: what can change without a restart (Reloader.h).
        Reloader reloader(cfg, {defaults_, file_, configFile_, overrides_},
                          {&catalogue, &applications, plugins.get(), syncer.get(), &syncSchedule},
                          [](const Poco::Util::AbstractConfiguration& next) { Numbers::read(next); }, loadCalendar);
        reloader.addHook("flows", [&](const auto& next) {
            std::string summary = flowDeployments.reload(next);
            flowRunner.setExternalGroups(FlowDeployments::externalGroups(next));
            return summary;
        });
        reloader.addHook("privacy", [&ownedFields](const auto& next) {
            auto owners = catalog::DataOwners::fromConfig(next);  // throws: the registry in use stays
            ownedFields.replace(owners);
            return "privacy: " + std::to_string(owners->all().size()) + " owned field(s)";
        });
        ServiceManager serviceManager;
        const std::string serving =
            "serving on http://" + httpOptions.address + ":" + std::to_string(server.port()) + "/";
        serviceManager.ready(serving);
        serveUntilStopped(
            serviceManager,
            [&] {
                log.information("SIGHUP: reloading");
                serviceManager.reloading();
                auto report = reloader.reload();
                serviceManager.ready(serving + "; last reload: " + std::to_string(report.applied.size()) +
                                     " part(s) reloaded, " + std::to_string(report.problems.size()) + " kept, " +
                                     std::to_string(report.restart.size()) + " key(s) waiting for a restart");
            },
            [&] { return server.heartbeat() && (!metricsServer || metricsServer->heartbeat()); });

        serviceManager.stopping();
        log.information("stopping: draining requests in flight");
        stopAll();
        Poco::Crypto::uninitializeCrypto();
        log.information("stopped");
        return EXIT_OK;
    } catch (const Poco::Exception& e) {
        log.fatal("cannot run: %s", e.displayText());
        return EXIT_SOFTWARE;
    } catch (const std::exception& e) {
        log.fatal("cannot run: %s", std::string(e.what()));
        return EXIT_SOFTWARE;
    }
}

}  // namespace hub::app
