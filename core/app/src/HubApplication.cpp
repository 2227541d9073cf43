#include "HubApplication.h"

#include "hub/api/Authentication.h"
#include "hub/api/CatalogRoutes.h"
#include "hub/api/HttpServer.h"
#include "hub/api/Router.h"
#include "hub/api/SystemRoutes.h"
#include "hub/auth/Access.h"
#include "hub/auth/TokenVerifier.h"
#include "hub/catalog/Catalog.h"
#include "hub/host/PluginHost.h"
#include "hub/http/Client.h"
#include "hub/store/AuditLog.h"
#include "hub/store/Database.h"

#include <Poco/AutoPtr.h>
#include <Poco/Crypto/Crypto.h>
#include <Poco/StringTokenizer.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/File.h>
#include <Poco/FileStream.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/PatternFormatter.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/OptionException.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionSet.h>

#include <iostream>

namespace hub::app {

namespace {

// The embedded defaults: hubd runs with no config file at all. A config file
// overrides any of them.
void addDefaults(Poco::Util::MapConfiguration& d) {
    d.setString("http.address", "127.0.0.1");
    d.setInt("http.port", 8080);
    d.setInt("http.ioThreads", 2);
    d.setInt("http.maxBodyBytes", 1024 * 1024);
    d.setInt("http.idleTimeoutSeconds", 30);
    d.setInt("http.drainTimeoutMs", 10000);
    d.setString("store.path", "var/hub.db");
    d.setString("catalog.dir", "config/catalog");
    d.setString("auth.jwt.audience", "campushub");
    d.setString("plugins.dir", "plugins-enabled");
    d.setInt("plugins.defaults.timeoutMs", 5000);
    d.setInt("plugins.defaults.concurrency", 8);
    d.setInt("plugins.defaults.queue", 64);
}

// Identities from the config file (identity.static.person[n]), for a hub
// without a directory yet, the demo and tests. The LDAP sync replaces it.
class StaticDirectory {
public:
    explicit StaticDirectory(const Poco::Util::AbstractConfiguration& cfg) {
        for (int i = 0;; ++i) {
            std::string key = "identity.static.person[" + std::to_string(i) + "]";
            if (!cfg.has(key)) break;
            api::IdentityInfo info;
            info.name = cfg.getString(key + "[@name]", "");
            info.department = cfg.getString(key + "[@department]", "");
            info.audiences = split(cfg.getString(key + "[@audience]", ""));
            info.roles = split(cfg.getString(key + "[@roles]", ""));
            people_.emplace(cfg.getString(key + "[@id]"), std::move(info));
        }
    }
    std::optional<api::IdentityInfo> find(const std::string& subject) const {
        auto it = people_.find(subject);
        if (it == people_.end()) return std::nullopt;
        return it->second;
    }
    std::size_t size() const { return people_.size(); }

private:
    static std::vector<std::string> split(const std::string& s) {
        Poco::StringTokenizer t(s, ", ", Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
        return {t.begin(), t.end()};
    }
    std::map<std::string, api::IdentityInfo> people_;
};

}  // namespace

HubApplication::HubApplication() { setUnixOptions(true); }
HubApplication::~HubApplication() = default;

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
}

void HubApplication::handleConfig(const std::string&, const std::string& value) { configFile_ = value; }

void HubApplication::handleDefine(const std::string&, const std::string& value) {
    auto eq = value.find('=');
    if (eq == std::string::npos || eq == 0)
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

void HubApplication::initialize(Poco::Util::Application& self) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> defaults(new Poco::Util::MapConfiguration);
    addDefaults(*defaults);
    config().add(defaults, PRIO_DEFAULT + 100);  // below everything else
    if (!configFile_.empty()) loadConfiguration(configFile_, PRIO_DEFAULT);
    if (!defines_.empty()) {
        Poco::AutoPtr<Poco::Util::MapConfiguration> overrides(new Poco::Util::MapConfiguration);
        for (const auto& [key, value] : defines_) overrides->setString(key, value);
        config().add(overrides, PRIO_APPLICATION);  // above the file
    }

    // Console logging unless the config sets up its own channels.
    if (!config().has("logging.loggers.root.channel")) {
        Poco::AutoPtr<Poco::PatternFormatter> pattern(
            new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%i %q [%s] %t"));
        Poco::AutoPtr<Poco::FormattingChannel> channel(
            new Poco::FormattingChannel(pattern, new Poco::ConsoleChannel));
        Poco::Logger::root().setChannel(channel);
        Poco::Logger::root().setLevel(config().getString("logging.level", "information"));
    }
    ServerApplication::initialize(self);
}

int HubApplication::main(const std::vector<std::string>&) {
    if (helpRequested_) return EXIT_OK;
    auto& cfg = config();
    auto& log = Poco::Logger::get("hub");
    try {
        // Start order: store, outbound connectors, plugins, then the listener last, so
        // nothing is served before everything it needs is up. Stop in reverse.
        // Authentication is not optional: without a key, refuse to start.
        Poco::Crypto::initializeCrypto();
        auth::TokenVerifier verifier(cfg, "auth");
        auth::Access access = auth::Access::fromConfig(cfg, "auth");
        StaticDirectory directory(cfg);

        store::Database db({cfg.getString("store.path")});
        catalog::Catalog catalogue({cfg.getString("catalog.dir"), ""});
        log.information("catalogue: %z service items", catalogue.snapshot()->items().size());
        store::AuditLog audit(db);
        http::Client httpClient;

        host::PluginHost::Options hostOptions;
        hostOptions.pluginsDir = cfg.getString("plugins.dir");
        hostOptions.config = Poco::AutoPtr<Poco::Util::AbstractConfiguration>(cfg.createView("plugins"));
        hostOptions.http = &httpClient;
        hostOptions.defaults.timeout = std::chrono::milliseconds(cfg.getInt("plugins.defaults.timeoutMs"));
        hostOptions.defaults.concurrency = static_cast<std::size_t>(cfg.getInt("plugins.defaults.concurrency"));
        hostOptions.defaults.queue = static_cast<std::size_t>(cfg.getInt("plugins.defaults.queue"));
        hostOptions.process.workerExecutable = cfg.getString("plugins.workerExecutable", "");
        auto plugins = std::make_unique<host::PluginHost>(hostOptions);
        plugins->loadAll();
        log.information("%z plugin(s) loaded, %z refused", plugins->list().size(), plugins->refusals().size());

        api::Router router;
        api::addHealthRoutes(router, *plugins);
        api::addSystemRoutes(router, *plugins, &audit);
        api::addCatalogRoutes(router, catalogue);

        api::HttpServer::Options httpOptions;
        httpOptions.address = cfg.getString("http.address");
        httpOptions.port = static_cast<std::uint16_t>(cfg.getInt("http.port"));
        httpOptions.ioThreads = static_cast<std::size_t>(cfg.getInt("http.ioThreads"));
        httpOptions.maxBodyBytes = static_cast<std::size_t>(cfg.getInt("http.maxBodyBytes"));
        httpOptions.idleTimeout = std::chrono::seconds(cfg.getInt("http.idleTimeoutSeconds"));
        api::HttpServer server(httpOptions, router);
        server.setAuthenticator(api::makeAuthenticator(
            verifier, access, [&directory](const std::string& subject) { return directory.find(subject); }));
        server.start();
        if (cfg.has("http.portFile")) {
            // Written whole, then renamed: a reader never sees half a port number.
            std::string path = cfg.getString("http.portFile");
            {
                Poco::FileOutputStream out(path + ".tmp");
                out << server.port() << "\n";
            }
            Poco::File(path + ".tmp").renameTo(path);
        }
        log.information("hubd ready on http://%s:%hu/", httpOptions.address, server.port());

        waitForTerminationRequest();

        log.information("stopping: draining requests in flight");
        server.stop(std::chrono::milliseconds(cfg.getInt("http.drainTimeoutMs")));
        plugins.reset();  // joins each plugin's pool, then unloads it
        audit.flush();
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
