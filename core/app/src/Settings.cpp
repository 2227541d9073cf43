#include "Settings.h"

#include "hub/catalog/WorkingCalendar.h"
#include "hub/common/ConfigValue.h"
#include "hub/host/PluginHost.h"

#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Util/MapConfiguration.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

namespace hub::app {

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

Numbers Numbers::read(const Poco::Util::AbstractConfiguration& cfg) {
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
    n.flowMessageTtlSeconds = readInt(cfg, "flows.messageTtlSeconds", 3600, {0, 30 * 86400});
    n.flowSettleMs = readInt(cfg, "flows.settleMs", 5000, {0, 60000});
    n.flowTimerLeaseSeconds = readInt(cfg, "flows.timerLeaseSeconds", 15, {2, 600});
    n.clusterPollMs = readInt(cfg, "cluster.pollMs", 1000, {50, 60000});
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

api::HttpServer::Options Numbers::serverOptions(const std::string& address) const {
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

catalog::WorkingCalendar loadCalendar(const Poco::Util::AbstractConfiguration& cfg) {
    const std::string shipped = "config/calendar/calendar.xml";
    if (cfg.has("calendar.file")) return catalog::WorkingCalendar::fromFile(cfg.getString("calendar.file"));
    if (Poco::File(shipped).exists()) return catalog::WorkingCalendar::fromFile(shipped);
    Poco::Logger::get("hub").warning("no holiday calendar (calendar.file): due dates count Monday to Friday only");
    return {};
}

std::string defaultConsoleDir() {
    // Found from hubd's own path, as the plugin worker is (ProcessPlugin), so that
    // a package built on any host serves /usr/share/campushub/console.
    std::error_code error;
    std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    if (error) return "/usr/share/campushub/console";
    const std::filesystem::path dir = self.parent_path();
    const std::filesystem::path installed = (dir / HUB_CONSOLE_INSTALLED_RELATIVE).lexically_normal();
    const std::filesystem::path built = (dir / HUB_CONSOLE_BUILT_RELATIVE).lexically_normal();
    if (!std::filesystem::exists(installed / "index.html", error) &&
        std::filesystem::exists(built / "index.html", error))
        return built.string();
    return installed.string();
}

}  // namespace hub::app
