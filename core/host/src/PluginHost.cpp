#include "hub/host/PluginHost.h"

#include "hub/common/Exceptions.h"
#include "hub/host/WorkerPool.h"
#include "hub/http/Loop.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <dirent.h>
#include <filesystem>
#include <unistd.h>
#include <sys/stat.h>

namespace hub::host {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("hub.host"); }

// For catch-alls: a log channel that fails (a full disk under a file channel)
// must not take the handling of the first failure down with it.
void logQuietly(const std::string& message) noexcept {
    try {
        logger().error(message);
    } catch (...) {
    }
}

std::string realPath(const std::string& path) {
    char resolved[PATH_MAX];
    if (!::realpath(path.c_str(), resolved)) return {};
    return resolved;
}

}  // namespace

// Counters and the circuit breaker of one plugin. Shared by the slot and every
// call in flight, and kept across reloads: it is about the vendor system behind
// the plugin, not about one build of its library.
struct CallStats {
    std::string name;
    int failureThreshold = 5;
    std::chrono::milliseconds openFor{5000};

    enum class Circuit { Closed, Open, HalfOpen };
    std::mutex mutex;
    Circuit circuit = Circuit::Closed;
    Clock::time_point openUntil{};
    bool probeInFlight = false;
    int consecutiveFailures = 0;
    std::uint64_t calls = 0, failures = 0, windowCalls = 0, windowFailures = 0;
    double recentErrorRate = 0;
    std::string pluginHealth = "up";  // the plugin's own last answer
    std::string pluginDetail;
    PluginHost::Health reported = PluginHost::Health::Up;

    // Decides whether a call may go to the plugin now; sets probe for the one
    // call that tests a half-open circuit.
    bool admit(bool& probe) {
        std::lock_guard lock(mutex);
        if (circuit == Circuit::Open) {
            if (Clock::now() < openUntil) return false;
            circuit = Circuit::HalfOpen;
        }
        if (circuit == Circuit::HalfOpen) {
            if (probeInFlight) return false;
            probeInFlight = probe = true;
        }
        return true;
    }

    void record(bool ok, bool probe) {
        std::lock_guard lock(mutex);
        ++calls;
        ++windowCalls;
        if (probe) probeInFlight = false;
        if (ok) {
            consecutiveFailures = 0;
            if (circuit != Circuit::Closed)
                Poco::Logger::get("hub.host").information("plugin %s: circuit closed, the vendor system answers again",
                                                          name);
            circuit = Circuit::Closed;
            return;
        }
        ++failures;
        ++windowFailures;
        ++consecutiveFailures;
        if (probe || (circuit == Circuit::Closed && consecutiveFailures >= failureThreshold)) {
            if (circuit != Circuit::Open)
                Poco::Logger::get("hub.host").warning(
                    "plugin %s: circuit open after %d failure(s); failing fast for %s ms", name, consecutiveFailures,
                    std::to_string(openFor.count()));
            circuit = Circuit::Open;
            openUntil = Clock::now() + openFor;
        }
    }

    void cancelProbe(bool probe) {
        if (!probe) return;
        std::lock_guard lock(mutex);
        probeInFlight = false;
    }

    // A call that failed because the plugin's worker process is being restarted:
    // counted, but the hub's own matter and over soon, so it neither opens the
    // circuit nor decides a probe (the next call probes, once the worker is back).
    void recordRestart(bool probe) {
        std::lock_guard lock(mutex);
        ++calls;
        ++windowCalls;
        ++failures;
        ++windowFailures;
        if (probe) probeInFlight = false;
    }

    const char* circuitName() const {
        return circuit == Circuit::Closed ? "closed" : circuit == Circuit::Open ? "open" : "half_open";
    }

    // Call with mutex held.
    PluginHost::Health health(std::string& detail) const {
        if (circuit == Circuit::Open) {
            detail = "circuit open after " + std::to_string(consecutiveFailures) + " consecutive failures";
            return PluginHost::Health::Down;
        }
        if (pluginHealth == "down") {
            detail = pluginDetail.empty() ? "the plugin reports down" : pluginDetail;
            return PluginHost::Health::Down;
        }
        if (circuit == Circuit::HalfOpen) {
            detail = "probing the vendor system";
            return PluginHost::Health::Degraded;
        }
        if (pluginHealth == "degraded") {
            detail = pluginDetail;
            return PluginHost::Health::Degraded;
        }
        if (recentErrorRate > 0.2) {
            detail = std::to_string(static_cast<int>(recentErrorRate * 100)) + "% of recent calls failed";
            return PluginHost::Health::Degraded;
        }
        detail = pluginDetail;
        return PluginHost::Health::Up;
    }
};

// The bulkhead of a plugin's calls on event loops, as WorkerPool is for its
// workers: at most `concurrency` calls at the plugin at once, at most `queue`
// more parked (each on its fiber) in arrival order. A finished call hands its
// turn to the oldest parked one, on that one's own loop.
class LoopGate {
public:
    enum class Entry { Run, Parked, Refused };
    struct Waiter {
        http::Loop::Fiber* fiber = http::Loop::running();
        bool granted = false;
    };

    LoopGate(std::size_t concurrency, std::size_t queue) : concurrency_(concurrency), capacity_(queue) {}

    // On the call's fiber. Parked: call awaitTurn next.
    Entry tryEnter(Waiter& self) {
        std::lock_guard lock(mutex_);
        if (active_ < concurrency_) {
            ++active_;
            return Entry::Run;
        }
        if (waiting_.size() >= capacity_) return Entry::Refused;
        waiting_.push_back(&self);
        return Entry::Parked;
    }

    // False when woken without a turn: its loop is stopping.
    bool awaitTurn(Waiter& self) {
        http::Loop::suspend();
        std::lock_guard lock(mutex_);
        if (self.granted) return true;
        waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &self));
        return false;
    }

    void leave() {
        std::lock_guard lock(mutex_);
        if (waiting_.empty()) {
            --active_;
            return;
        }
        Waiter* next = waiting_.front();
        waiting_.pop_front();
        next->granted = true;  // the turn passes on; active_ stays
        http::Loop::resumeLater(next->fiber);
    }

    std::size_t active() const {
        std::lock_guard lock(mutex_);
        return active_;
    }
    std::size_t queued() const {
        std::lock_guard lock(mutex_);
        return waiting_.size();
    }

private:
    const std::size_t concurrency_, capacity_;
    mutable std::mutex mutex_;
    std::size_t active_ = 0;
    std::deque<Waiter*> waiting_;
};

struct PluginHost::Slot {
    std::string manifestPath;
    std::string stamp;                       // what the folder looked like when loaded
    std::shared_ptr<PluginInstance> plugin;  // std::atomic_load/store: swapped by reload
    PluginLimits limits;
    std::atomic<std::uint64_t> generation{1};
    std::shared_ptr<CallStats> stats;
    std::unique_ptr<WorkerPool> pool;  // joined first, while the plugin is alive
    std::shared_ptr<LoopGate> gate;    // for execution "loop"; held by each call on a loop
    ~Slot() { pool.reset(); }
};

struct PluginHost::Built {
    Manifest manifest;
    std::string library;
    std::string stamp;
    std::shared_ptr<PluginInstance> instance;
    PluginLimits limits;
};

namespace {

// Identity of what is on disk: a replaced manifest or library changes it.
std::string fileStamp(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "-";
    return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) +
           "." + std::to_string(st.st_mtim.tv_nsec);
}

// A plugin folder's stamp: its manifest and the library the manifest names now
// (as build() stamps what it loads).
std::string folderStamp(const std::string& manifestPath) {
    std::string library;
    try {
        Manifest m = readManifest(manifestPath);
        library = realPath(manifestPath.substr(0, manifestPath.find_last_of('/')) + "/" + m.library);
    } catch (const std::exception&) {
        // No readable manifest: its own stamp says when that changes.
    }
    return fileStamp(manifestPath) + "|" + fileStamp(library);
}

}  // namespace

PluginLimits PluginLimits::fromConfig(const Poco::Util::AbstractConfiguration& c, const std::string& prefix,
                                      const PluginLimits& fallback) {
    using config::readInt;
    PluginLimits l = fallback;
    l.timeout = std::chrono::milliseconds(
        readInt(c, prefix + ".timeoutMs", static_cast<int>(l.timeout.count()), kTimeoutMs));
    l.concurrency = static_cast<std::size_t>(
        readInt(c, prefix + ".concurrency", static_cast<int>(l.concurrency), kConcurrency));
    l.queue = static_cast<std::size_t>(readInt(c, prefix + ".queue", static_cast<int>(l.queue), kQueue));
    l.failureThreshold = readInt(c, prefix + ".failureThreshold", l.failureThreshold, kFailureThreshold);
    l.openFor = std::chrono::milliseconds(
        readInt(c, prefix + ".openMs", static_cast<int>(l.openFor.count()), kOpenMs));
    std::string execution = c.getString(prefix + ".execution", l.onEventLoop ? "loop" : "workers");
    if (execution != "workers" && execution != "loop")
        throw config::ConfigError(prefix + ".execution '" + execution.substr(0, 64) + "' must be workers or loop");
    l.onEventLoop = execution == "loop";
    return l;
}

const char* PluginHost::toString(Health h) {
    return h == Health::Up ? "up" : h == Health::Degraded ? "degraded" : "down";
}

PluginHost::PluginHost(Options options) : options_(std::move(options)) {
    realPluginsDir_ = realPath(options_.pluginsDir);
    // Once here, so that a plugin load does not find a half-made table.
    if (options_.database) migrateStore(*options_.database);
    if (options_.watchInterval.count() > 0 || options_.healthInterval.count() > 0)
        watcher_ = std::thread([this] { watch(); });
}

PluginHost::~PluginHost() {
    {
        std::lock_guard lock(watchMutex_);
        stopping_ = true;
    }
    watchWake_.notify_all();
    if (watcher_.joinable()) watcher_.join();
    std::map<std::string, std::shared_ptr<Slot>, std::less<>> slots;
    {
        std::lock_guard lock(mutex_);
        slots.swap(slots_);
    }
    for (auto& [name, s] : slots) s->pool->shutdown();  // calls in flight finish
    slots.clear();                                       // then each library unloads
    if (!shadowDir_.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(shadowDir_, ignored);
    }
}

bool PluginHost::recordRefusal(const std::string& path, const std::string& reason, const std::string& stamp) {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(refusals_.begin(), refusals_.end(), [&](const Refused& r) { return r.refusal.path == path; });
    if (it == refusals_.end()) {
        refusals_.push_back({{path, reason}, stamp});
        return true;
    }
    it->stamp = stamp;
    if (it->refusal.reason == reason) return false;
    it->refusal.reason = reason;
    return true;
}

void PluginHost::refuse(const std::string& path, const std::string& reason, const std::string& stamp) {
    // Said once per reason: a plugin refused again for the same reason at the
    // next rescan is not news.
    if (recordRefusal(path, reason, stamp)) logger().error("plugin refused: %s", reason);
}

std::vector<std::string> PluginHost::scanFolder() const {
    std::vector<std::string> manifests;
    DIR* dir = ::opendir(realPluginsDir_.c_str());
    if (!dir) return manifests;
    while (dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        std::string manifest = realPluginsDir_ + "/" + entry->d_name + "/plugin.xml";
        struct stat st {};
        if (::stat(manifest.c_str(), &st) == 0 && S_ISREG(st.st_mode)) manifests.push_back(manifest);
    }
    ::closedir(dir);
    std::sort(manifests.begin(), manifests.end());  // a stable, predictable load order
    return manifests;
}

void PluginHost::loadAll() {
    if (realPluginsDir_.empty()) {
        refuse(options_.pluginsDir, "plugins folder " + options_.pluginsDir + " does not exist", "");
        return;
    }
    if (::access(realPluginsDir_.c_str(), R_OK | X_OK) != 0) {
        refuse(options_.pluginsDir, std::string("cannot read plugins folder: ") + std::strerror(errno), "");
        return;
    }
    for (const auto& m : scanFolder()) {
        try {
            load(m);
        } catch (const std::exception&) {
            // already refused with its reason
        }
    }
}

PluginHost::Built PluginHost::build(const std::string& manifestPath, bool shadowCopy) {
    Built b;
    b.manifest = readManifest(manifestPath);
    // The operator's narrowing of the access policies travels with this instance,
    // so a reload (which reads hub.xml's view again) swaps both at once.
    try {
        applyOperatorPolicies(b.manifest, options_.config.get());
    } catch (const std::invalid_argument& e) {
        throw LoadError(b.manifest.name + ": " + e.what());
    }
    for (const auto& op : b.manifest.operations) {
        if (!op.access.declared)
            logger().warning("plugin %s: operation %s declares no access policy; every call to it is refused "
                             "(docs/sdk/abi-reference.md#access-policies)",
                             b.manifest.name, op.name);
        else if (op.access.fromHubConfig)
            logger().notice("plugin %s: operation %s: access policy from hub.xml, not the manifest: %s",
                            b.manifest.name, op.name, op.access.describe());
    }
    const Manifest& manifest = b.manifest;
    std::string folder = manifestPath.substr(0, manifestPath.find_last_of('/'));
    b.library = realPath(folder + "/" + manifest.library);
    if (b.library.empty())
        throw LoadError(manifest.name + ": library " + folder + "/" + manifest.library + " not found");
    // Symlinks are resolved first: only code under the configured folder runs.
    if (realPluginsDir_.empty() || b.library.compare(0, realPluginsDir_.size() + 1, realPluginsDir_ + "/") != 0)
        throw LoadError(manifest.name + ": library " + b.library + " is outside the plugins folder " +
                        options_.pluginsDir);
    b.stamp = fileStamp(manifestPath) + "|" + fileStamp(b.library);

    b.limits = options_.defaults;
    PluginConfig config;
    // Each key on its own, whether or not the file has a <plugin> element for
    // this plugin: an operator's -D override of one key is enough.
    const std::string prefix = "plugin[@name=" + manifest.name + "]";
    if (options_.config) {
        auto& c = *options_.config;
        try {
            b.limits = PluginLimits::fromConfig(c, prefix, options_.defaults);
        } catch (const config::ConfigError& e) {
            // The view is the config's "plugins" subtree: name the key as the operator wrote it.
            throw LoadError(manifest.name + ": plugins." + e.what());
        }
        Poco::Util::AbstractConfiguration::Keys configKeys;
        c.keys(prefix + ".config", configKeys);
        if (c.has(prefix + ".config") || !configKeys.empty()) {
            Poco::AutoPtr<Poco::Util::AbstractConfiguration> section(c.createView(prefix + ".config"));
            try {
                config = PluginConfig::fromSection(section.get());
            } catch (const std::runtime_error& e) {
                throw LoadError(manifest.name + ": " + e.what());
            }
        }
    }
    if (b.limits.onEventLoop && !offload_ && (options_.database || options_.emitEvent))
        offload_ = std::make_unique<WorkerPool>("host-offload", 2, 4096);
    PluginServices services;
    services.offload = b.limits.onEventLoop ? offload_.get() : nullptr;
    services.config = config;
    services.http = options_.http;
    services.logger = &Poco::Logger::get("hub.plugin." + manifest.name);
    services.emitEvent = options_.emitEvent;
    services.database = options_.database;
    services.soap = options_.soap;
    // Config may override the manifest's isolation: IT decides what it trusts.
    std::string isolation = options_.config && options_.config->has(prefix + ".isolation")
                                ? options_.config->getString(prefix + ".isolation")
                                : manifest.isolation;
    if (isolation == "process" && b.limits.onEventLoop)
        throw LoadError(manifest.name + ": execution 'loop' is for in-process plugins; a process plugin's calls "
                        "wait for its worker process");
    if (isolation == "process") {
        ProcessPlugin::Options po = options_.process;
        po.concurrency = b.limits.concurrency;  // worker threads = the bulkhead
        po.eventTimeout = b.limits.timeout;
        b.instance = std::make_shared<ProcessPlugin>(manifest, b.library, std::move(config), po);
    } else if (isolation == "inproc") {
        std::string path = b.library;
        if (shadowCopy) {
            // dlopen hands back the already loaded library for a path it knows, so
            // a new version beside the old one must come from a path of its own.
            if (shadowDir_.empty()) {
                char templ[] = "/tmp/campushub-plugins-XXXXXX";
                if (!::mkdtemp(templ)) throw LoadError(manifest.name + ": cannot create a folder for the new version");
                shadowDir_ = templ;
            }
            static std::atomic<unsigned> counter{0};
            path = shadowDir_ + "/" + std::to_string(++counter) + "-" + manifest.library;
            std::filesystem::copy_file(b.library, path);
        }
        b.instance = std::make_shared<LoadedPlugin>(manifest, path, services);
        if (shadowCopy) {
            std::error_code ignored;
            std::filesystem::remove(path, ignored);  // the mapping stays; nothing else may open it
        }
    } else {
        throw LoadError(manifest.name + ": isolation '" + isolation + "' must be inproc or process");
    }
    return b;
}

void PluginHost::load(const std::string& manifestPath) {
    std::lock_guard serial(reloadMutex_);
    // Taken before loading: files replaced meanwhile are tried again next time.
    std::string stamp = folderStamp(manifestPath);
    try {
        {
            // Cheap check first: a second plugin of a loaded name is refused
            // before any of its code runs. Its files do not say when that changes.
            Manifest manifest = readManifest(manifestPath);
            std::lock_guard lock(mutex_);
            if (slots_.count(manifest.name)) {
                stamp.clear();
                throw LoadError(manifest.name + ": a plugin of that name is already loaded");
            }
        }
        Built b = build(manifestPath, false);
        auto slot = std::make_shared<Slot>();
        slot->manifestPath = manifestPath;
        slot->stamp = b.stamp;
        slot->plugin = b.instance;
        slot->limits = b.limits;
        slot->stats = std::make_shared<CallStats>();
        slot->stats->name = b.manifest.name;
        slot->stats->failureThreshold = b.limits.failureThreshold;
        slot->stats->openFor = b.limits.openFor;
        // On loops, a call holds no thread; the workers then only take what comes
        // from elsewhere (flows, event delivery), so a few suffice.
        std::size_t workers = b.limits.onEventLoop ? std::min<std::size_t>(b.limits.concurrency, 4) : b.limits.concurrency;
        slot->pool = std::make_unique<WorkerPool>(b.manifest.name, workers, b.limits.queue);
        if (b.limits.onEventLoop) slot->gate = std::make_shared<LoopGate>(b.limits.concurrency, b.limits.queue);
        logger().information("plugin %s %s loaded from %s (%s, timeout %s ms)", b.manifest.name,
                             b.manifest.version, b.library,
                             b.limits.onEventLoop ? std::to_string(b.limits.concurrency) + " calls on the event loops"
                                                  : std::to_string(workers) + " workers",
                             std::to_string(b.limits.timeout.count()));
        std::lock_guard lock(mutex_);
        slots_.emplace(b.manifest.name, std::move(slot));
        std::erase_if(refusals_, [&](const Refused& r) { return r.refusal.path == manifestPath; });
    } catch (const ManifestError& e) {
        refuse(manifestPath, e.what(), stamp);
        throw;
    } catch (const LoadError& e) {
        refuse(manifestPath, e.what(), stamp);
        throw;
    } catch (const std::exception& e) {
        // A Poco exception's what() is only its kind ("Circular reference"):
        // the displayText says of what.
        std::string why = currentExceptionText();
        refuse(manifestPath, manifestPath + ": " + why, stamp);
        throw LoadError(why);
    }
}

std::string PluginHost::reload(std::string_view system) {
    std::lock_guard serial(reloadMutex_);
    auto s = slot(system);
    if (!s) throw LoadError(std::string(system) + ": no such plugin");
    Built b;
    try {
        b = build(s->manifestPath, true);
        if (b.manifest.name != system)
            throw LoadError(s->manifestPath + " now names plugin '" + b.manifest.name + "', not '" +
                            std::string(system) + "'");
    } catch (const std::exception& e) {
        logger().error("plugin %s: reload refused, the running version stays: %s", std::string(system),
                       std::string(e.what()));
        throw LoadError(e.what());
    }
    auto previous = std::atomic_load(&s->plugin);
    {
        // rescan reads the stamp under the host mutex, not under reloadMutex_.
        std::lock_guard lock(mutex_);
        s->stamp = b.stamp;
        std::erase_if(refusals_, [&](const Refused& r) { return r.refusal.path == s->manifestPath; });
    }
    std::atomic_store(&s->plugin, b.instance);
    s->generation.fetch_add(1);
    logger().information("plugin %s reloaded: %s -> %s; the old version unloads when its last call ends",
                         std::string(system), previous->manifest().version, b.manifest.version);
    return b.manifest.version;
}

bool PluginHost::unload(std::string_view system) {
    std::lock_guard serial(reloadMutex_);
    std::shared_ptr<Slot> s;
    {
        std::lock_guard lock(mutex_);
        auto it = slots_.find(system);
        if (it == slots_.end()) return false;
        s = it->second;
        slots_.erase(it);
    }
    s->pool->shutdown();  // new calls are refused; calls in flight finish
    logger().information("plugin %s unloaded", std::string(system));
    return true;
}

std::vector<std::string> PluginHost::rescan() {
    std::vector<std::string> changes;
    if (realPluginsDir_.empty()) return changes;
    auto manifests = scanFolder();
    std::map<std::string, std::string> loadedPaths;  // manifest path -> name
    std::map<std::string, std::string> stamps;       // name -> stamp
    {
        std::lock_guard lock(mutex_);
        for (const auto& [name, s] : slots_) {
            loadedPaths[s->manifestPath] = name;
            stamps[name] = s->stamp;
        }
        // A refusal of a folder that is gone is no longer true.
        std::erase_if(refusals_, [&](const Refused& r) {
            const std::string& path = r.refusal.path;
            return path.compare(0, realPluginsDir_.size() + 1, realPluginsDir_ + "/") == 0 &&
                   std::find(manifests.begin(), manifests.end(), path) == manifests.end();
        });
    }
    for (const auto& [path, name] : loadedPaths) {
        if (std::find(manifests.begin(), manifests.end(), path) == manifests.end()) {
            if (unload(name)) changes.push_back("unloaded " + name);
            continue;
        }
        std::string stamp = folderStamp(path);
        if (stamp == stamps[name]) continue;
        try {
            changes.push_back("reloaded " + name + " " + reload(name));
        } catch (const std::exception& e) {
            // Remember the refused state so it is not retried until it changes again.
            {
                std::lock_guard lock(mutex_);
                if (auto it = slots_.find(name); it != slots_.end()) it->second->stamp = stamp;
            }
            recordRefusal(path, e.what(), stamp);  // reload() has logged it
            changes.push_back("reload of " + name + " refused: " + e.what());
        }
    }
    for (const auto& path : manifests) {
        if (loadedPaths.count(path)) continue;
        std::string known;  // the reason it was refused for, if it was
        {
            std::string stamp = folderStamp(path);
            std::lock_guard lock(mutex_);
            auto it = std::find_if(refusals_.begin(), refusals_.end(),
                                   [&](const Refused& r) { return r.refusal.path == path; });
            if (it != refusals_.end()) {
                if (!it->stamp.empty() && it->stamp == stamp) continue;  // unchanged since refused
                known = it->refusal.reason;
            }
        }
        try {
            load(path);
            changes.push_back("loaded " + path);
        } catch (const std::exception& e) {
            if (known != e.what()) changes.push_back("refused " + path + ": " + e.what());
        }
    }
    return changes;
}

void PluginHost::checkHealth() {
    std::vector<std::pair<std::string, std::shared_ptr<Slot>>> slots;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [name, s] : slots_) slots.emplace_back(name, s);
    }
    for (auto& [name, s] : slots) {
        // Ask on the plugin's own pool, never here: a hanging health function
        // costs the plugin a worker, not the watcher. The answer lands next round.
        auto plugin = std::atomic_load(&s->plugin);
        auto stats = s->stats;
        s->pool->trySubmit([plugin, stats] {
            CallResult r = plugin->health();
            std::string status = "down", detail;
            if (r.status == CH_OK) {
                try {
                    Poco::JSON::Parser parser;
                    auto o = parser.parse(r.body).extract<Poco::JSON::Object::Ptr>();
                    status = o->optValue<std::string>("status", "down");
                    detail = o->optValue<std::string>("detail", "");
                } catch (const std::exception&) {
                    detail = "the plugin answered health with invalid JSON";
                }
            } else {
                detail = r.body;
            }
            if (status != "up" && status != "degraded") status = "down";
            std::lock_guard lock(stats->mutex);
            stats->pluginHealth = status;
            stats->pluginDetail = detail.substr(0, 500);
        });
        Health previous, current;
        std::string detail;
        {
            std::lock_guard lock(s->stats->mutex);
            auto& st = *s->stats;
            st.recentErrorRate = st.windowCalls >= 5 ? static_cast<double>(st.windowFailures) / st.windowCalls : 0;
            st.windowCalls = st.windowFailures = 0;
            current = st.health(detail);
            previous = st.reported;
            st.reported = current;
        }
        if (current != previous) {
            logger().information("plugin %s is %s (was %s) %s", name, std::string(toString(current)),
                                 std::string(toString(previous)), detail);
            if (options_.onHealthChanged) {
                try {
                    options_.onHealthChanged(name, previous, current, detail);
                } catch (...) {
                    logQuietly("health change of " + name + " not reported: " + currentExceptionText());
                }
            }
        }
    }
}

std::vector<std::string> PluginHost::deliverEvent(const std::string& type, const std::string& eventJson) {
    std::vector<std::pair<std::string, std::shared_ptr<Slot>>> slots;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [name, s] : slots_) slots.emplace_back(name, s);
    }
    auto report = [this, type](const std::string& plugin, const CallResult& result) {
        logQuietly("event " + type + " not accepted by plugin " + plugin + " (status " +
                   std::to_string(result.status) + "): " + result.body.substr(0, 500));
        if (!options_.onEventFailed) return;
        try {
            options_.onEventFailed(plugin, type, result);
        } catch (...) {
            logQuietly("event failure of " + plugin + " not reported: " + currentExceptionText());
        }
    };
    // Shared by the tasks, not copied per plugin.
    auto event = std::make_shared<const std::string>(eventJson);
    std::vector<std::string> offered;
    for (auto& [name, s] : slots) {
        // The instance current now; a reload meanwhile does not change who gets it.
        auto plugin = std::atomic_load(&s->plugin);
        if (!plugin->manifest().subscribesTo(type)) continue;
        bool queued = s->pool->trySubmit([plugin, event, report, pluginName = name] {
            CallResult r = plugin->onEvent(*event);
            if (r.status != CH_OK) report(pluginName, r);
        });
        if (queued) {
            offered.push_back(name);
        } else {
            report(name, {CH_ERR_UNAVAILABLE, "the plugin's queue is full or it is unloading"});
        }
    }
    return offered;
}

void PluginHost::watch() {
    auto nextScan = Clock::now() + options_.watchInterval;
    auto nextHealth = Clock::now() + options_.healthInterval;
    std::unique_lock lock(watchMutex_);
    while (!stopping_) {
        auto now = Clock::now();
        auto wake = Clock::time_point::max();
        if (options_.watchInterval.count() > 0) wake = std::min(wake, nextScan);
        if (options_.healthInterval.count() > 0) wake = std::min(wake, nextHealth);
        if (watchWake_.wait_until(lock, wake, [this] { return stopping_; })) break;
        lock.unlock();
        now = Clock::now();
        try {
            if (options_.watchInterval.count() > 0 && now >= nextScan) {
                for (const auto& change : rescan()) logger().information("plugins folder: %s", change);
                nextScan = now + options_.watchInterval;
            }
            if (options_.healthInterval.count() > 0 && now >= nextHealth) {
                checkHealth();
                nextHealth = now + options_.healthInterval;
            }
        } catch (...) {
            // A failed round is logged and the next one comes; the thread stays.
            logQuietly("plugin watcher: " + currentExceptionText());
        }
        lock.lock();
    }
}

std::shared_ptr<PluginHost::Slot> PluginHost::slot(std::string_view system) const {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(system);
    return it == slots_.end() ? nullptr : it->second;
}

bool PluginHost::has(std::string_view system) const { return slot(system) != nullptr; }

PluginLimits PluginHost::limits(std::string_view system) const {
    auto s = slot(system);
    return s ? s->limits : options_.defaults;
}

std::vector<PluginHost::Refusal> PluginHost::refusals() const {
    std::vector<Refusal> out;
    std::lock_guard lock(mutex_);
    out.reserve(refusals_.size());
    for (const auto& r : refusals_) out.push_back(r.refusal);
    return out;
}

std::vector<PluginHost::Status> PluginHost::list() const {
    std::vector<Status> out;
    std::lock_guard lock(mutex_);
    for (const auto& [name, s] : slots_) {
        auto plugin = std::atomic_load(&s->plugin);
        const Manifest& m = plugin->manifest();
        Status st;
        st.name = m.name;
        st.version = m.version;
        st.vendor = m.vendor;
        st.description = m.description;
        st.isolation = dynamic_cast<const ProcessPlugin*>(plugin.get()) ? "process" : "inproc";
        st.execution = s->gate ? "loop" : "workers";
        st.operations = m.operations;
        st.active = s->pool->active() + (s->gate ? s->gate->active() : 0);
        st.queued = s->pool->queued() + (s->gate ? s->gate->queued() : 0);
        st.generation = s->generation.load();
        {
            std::lock_guard statsLock(s->stats->mutex);
            const auto& cs = *s->stats;
            st.status = toString(cs.health(st.healthDetail));
            st.circuit = cs.circuitName();
            st.calls = cs.calls;
            st.failures = cs.failures;
            st.recentErrorRate = cs.recentErrorRate;
        }
        out.push_back(std::move(st));
    }
    return out;
}

PluginHost::Submit PluginHost::submit(std::string_view system, std::string_view operation,
                                      std::string input, Caller caller, Clock::time_point deadline,
                                      Completion done, std::string* refusal) {
    auto s = slot(system);
    if (!s) return Submit::UnknownSystem;
    // The call holds this instance (and so its library) alive until it completes,
    // even if a reload switches later calls to a newer one.
    std::shared_ptr<PluginInstance> plugin = std::atomic_load(&s->plugin);
    const Manifest::Operation* op = plugin->manifest().findOperation(operation);
    if (!op) return Submit::UnknownOperation;
    // Authorisation is the hub's, before any of the plugin's code runs.
    const std::string& user = caller.actingFor.empty() ? caller.subject : caller.actingFor;
    if (std::string why = op->access.refusal(user, caller.roles, caller.audiences, input); !why.empty()) {
        if (refusal) *refusal = "operation " + op->name + " of plugin " + plugin->manifest().name + " " + why;
        return Submit::Forbidden;
    }
    bool probe = false;
    if (!s->stats->admit(probe)) return Submit::CircuitOpen;
    auto stats = s->stats;
    // One call, wherever it runs; its captures keep the plugin and stats alive.
    auto call = [plugin, stats, probe, op = std::string(operation), input = std::move(input),
                 caller = std::move(caller), deadline, done = std::move(done)]() mutable {
        // done is called exactly once, even when the hub itself fails here (out
        // of memory, a log channel that throws): then with CH_ERR_INTERNAL.
        bool answered = false;
        try {
            if (Clock::now() >= deadline) {
                stats->cancelProbe(probe);  // our own queue, not the vendor's fault
                answered = true;
                done({CH_ERR_TIMEOUT, "the call waited in the queue past its deadline"});
                return;
            }
            CallResult result = plugin->invoke(op, input, caller, deadline);
            if (result.retryAfter.count() > 0) {
                stats->recordRestart(probe);  // the worker process, not the vendor
            } else {
                // Failures of the vendor system (or of the plugin) feed the breaker;
                // a caller's bad input does not.
                bool failed = result.status == CH_ERR_UNAVAILABLE || result.status == CH_ERR_TIMEOUT ||
                              result.status == CH_ERR_INTERNAL || Clock::now() > deadline;
                stats->record(!failed, probe);
            }
            answered = true;
            done(std::move(result));
        } catch (...) {
            std::string what = currentExceptionText();
            logQuietly("plugin " + stats->name + ": call of " + op + " failed in the hub: " + what);
            if (answered) return;  // the completion itself threw; it had its answer
            try {
                stats->cancelProbe(probe);
                done({CH_ERR_INTERNAL, "the hub failed while running the call: " + what});
            } catch (...) {
                logQuietly("plugin " + stats->name + ": call of " + op + " not answered: " + currentExceptionText());
            }
        }
    };

    if (s->gate) {
        if (http::Loop* loop = http::Loop::current()) {
            // The fiber decides under the gate's lock whether it runs, parks or is
            // refused. It starts at once, so the decision is known when spawn
            // returns; it writes to this frame only before it first waits.
            auto entry = LoopGate::Entry::Refused;
            loop->spawn(std::string(system), [gate = s->gate, decided = &entry, call = std::move(call)]() mutable {
                LoopGate::Waiter self;
                auto e = gate->tryEnter(self);
                *decided = e;
                decided = nullptr;
                if (e == LoopGate::Entry::Refused) return;
                // Woken without a turn (the loop is stopping), the call still ends
                // the ordinary way: its requests fail at once.
                bool turn = e == LoopGate::Entry::Run || gate->awaitTurn(self);
                call();
                if (turn) gate->leave();
            });
            if (entry == LoopGate::Entry::Refused) {
                stats->cancelProbe(probe);
                return Submit::Overloaded;
            }
            return Submit::Accepted;
        }
    }
    bool accepted = s->pool->trySubmit(std::move(call));
    if (!accepted) stats->cancelProbe(probe);
    return accepted ? Submit::Accepted : Submit::Overloaded;
}

}  // namespace hub::host
