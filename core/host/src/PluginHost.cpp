// The plugin host's façade and the lifecycle of its plugins: load, reload,
// unload and rescan, serialised by one mutex. The parts it is made of, each in
// its own file: PluginFolder (the folder on disk, stamps, shadow copies),
// PluginBuilder (manifest to running instance), PluginRegistry (the loaded
// plugins), Refusals, CircuitBreaker, PluginHealth, LoopGate, PluginCall (the
// call path, with submit), EventFanOut and HostWatcher (the background thread).
#include "hub/host/PluginHost.h"

#include "EventFanOut.h"
#include "HostWatcher.h"
#include "PluginBuilder.h"
#include "PluginFolder.h"
#include "PluginRegistry.h"
#include "Refusals.h"

#include "hub/common/Exceptions.h"
#include "hub/runtime/WorkerPool.h"

#include <Poco/Logger.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <unistd.h>

namespace hub::host {

namespace {

Poco::Logger& logger() {
    return Poco::Logger::get("hub.host");
}

// For catch-alls: a log channel that fails (a full disk under a file channel)
// must not take the handling of the first failure down with it.
void logQuietly(const std::string& message) noexcept {
    try {
        logger().error(message);
    } catch (...) {
    }
}

}  // namespace

const char* PluginHost::toString(Health h) {
    return h == Health::Up ? "up" : h == Health::Degraded ? "degraded" : "down";
}

PluginHost::PluginHost(Options options)
    : options_(std::move(options)),
      folder_(std::make_unique<PluginFolder>(options_.pluginsDir)),
      builder_(std::make_unique<PluginBuilder>(options_, *folder_)),
      registry_(std::make_unique<PluginRegistry>()),
      refusals_(std::make_unique<Refusals>()) {
    // Once here, so that a plugin load does not find a half-made table.
    if (options_.database) migrateStore(*options_.database);
    if (options_.watchInterval.count() > 0 || options_.healthInterval.count() > 0)
        watcher_ = std::make_unique<HostWatcher>(
            options_.watchInterval, options_.healthInterval,
            [this] {
                for (const auto& change : rescan()) logger().information("plugins folder: %s", change);
            },
            [this] { checkHealth(); });
}

PluginHost::~PluginHost() {
    watcher_.reset();
    auto slots = registry_->takeAll();
    for (auto& [name, s] : slots) s->pool->shutdown();  // calls in flight finish
    slots.clear();                                      // then each library unloads
}

void PluginHost::loadAll() {
    if (folder_->path().empty()) {
        refusals_->refuse(options_.pluginsDir, "plugins folder " + options_.pluginsDir + " does not exist", "");
        return;
    }
    if (::access(folder_->path().c_str(), R_OK | X_OK) != 0) {
        refusals_->refuse(options_.pluginsDir, std::string("cannot read plugins folder: ") + std::strerror(errno), "");
        return;
    }
    for (const auto& m : folder_->manifests()) {
        try {
            load(m);
        } catch (const std::exception&) {
            // already refused with its reason
        }
    }
}

void PluginHost::load(const std::string& manifestPath) {
    std::lock_guard serial(reloadMutex_);
    // Taken before loading: files replaced meanwhile are tried again next time.
    std::string stamp = PluginFolder::stamp(manifestPath);
    try {
        // Cheap check first: a second plugin of a loaded name is refused before
        // any of its code runs. Its files do not say when that changes.
        if (std::string name = readManifest(manifestPath).name; registry_->contains(name)) {
            stamp.clear();
            throw LoadError(name + ": a plugin of that name is already loaded");
        }
        auto b = builder_->build(manifestPath, false);
        auto slot = std::make_shared<PluginSlot>();
        slot->manifestPath = manifestPath;
        slot->stamp = b.stamp;
        slot->plugin = b.instance;
        slot->limits = b.limits;
        slot->breaker = std::make_shared<CircuitBreaker>(b.manifest.name, b.limits.failureThreshold, b.limits.openFor);
        slot->health = std::make_shared<PluginHealth>(slot->breaker);
        // On loops, a call holds no thread; the workers then only take what comes
        // from elsewhere (flows, event delivery), so a few suffice.
        std::size_t workers =
            b.limits.onEventLoop ? std::min<std::size_t>(b.limits.concurrency, 4) : b.limits.concurrency;
        slot->pool = std::make_unique<runtime::WorkerPool>(b.manifest.name, workers, b.limits.queue);
        if (b.limits.onEventLoop) slot->gate = std::make_shared<LoopGate>(b.limits.concurrency, b.limits.queue);
        logger().information("plugin %s %s loaded from %s (%s, timeout %s ms)", b.manifest.name, b.manifest.version,
                             b.library,
                             b.limits.onEventLoop ? std::to_string(b.limits.concurrency) + " calls on the event loops"
                                                  : std::to_string(workers) + " workers",
                             std::to_string(b.limits.timeout.count()));
        registry_->add(b.manifest.name, std::move(slot));
        refusals_->forget(manifestPath);
    } catch (const ManifestError& e) {
        refusals_->refuse(manifestPath, e.what(), stamp);
        throw;
    } catch (const LoadError& e) {
        refusals_->refuse(manifestPath, e.what(), stamp);
        throw;
    } catch (const std::exception& e) {
        // A Poco exception's what() is only its kind ("Circular reference"):
        // the displayText says of what.
        std::string why = currentExceptionText();
        refusals_->refuse(manifestPath, manifestPath + ": " + why, stamp);
        throw LoadError(why);
    }
}

std::string PluginHost::reload(std::string_view system) {
    std::lock_guard serial(reloadMutex_);
    auto s = registry_->find(system);
    if (!s) throw LoadError(std::string(system) + ": no such plugin");
    PluginBuilder::Built b;
    try {
        b = builder_->build(s->manifestPath, true);
        if (b.manifest.name != system)
            throw LoadError(s->manifestPath + " now names plugin '" + b.manifest.name + "', not '" +
                            std::string(system) + "'");
    } catch (const std::exception& e) {
        logger().error("plugin %s: reload refused, the running version stays: %s", std::string(system),
                       std::string(e.what()));
        throw LoadError(e.what());
    }
    // The old instance keeps its own config and library until its last call
    // has ended: nothing of it stays behind in the slot.
    auto previous = std::atomic_load(&s->plugin);
    registry_->restamp(*s, b.stamp);
    refusals_->forget(s->manifestPath);
    std::atomic_store(&s->plugin, b.instance);
    s->generation.fetch_add(1);
    logger().information("plugin %s reloaded: %s -> %s; the old version unloads when its last call ends",
                         std::string(system), previous->manifest().version, b.manifest.version);
    return b.manifest.version;
}

bool PluginHost::unload(std::string_view system) {
    std::lock_guard serial(reloadMutex_);
    auto s = registry_->remove(system);
    if (!s) return false;
    s->pool->shutdown();  // new calls are refused; calls in flight finish
    logger().information("plugin %s unloaded", std::string(system));
    return true;
}

std::vector<std::string> PluginHost::rescan() {
    std::vector<std::string> changes;
    if (folder_->path().empty()) return changes;
    auto manifests = folder_->manifests();
    auto inFolder = [&](const std::string& path) {
        return std::find(manifests.begin(), manifests.end(), path) != manifests.end();
    };
    // A refusal of a folder that is gone is no longer true.
    refusals_->forgetGone(*folder_, manifests);
    std::map<std::string, std::pair<std::string, std::shared_ptr<PluginSlot>>> loaded;  // by manifest path
    for (auto& [name, s] : registry_->all()) loaded.emplace(s->manifestPath, std::pair(name, s));
    for (const auto& [path, entry] : loaded) {
        const auto& [name, s] = entry;
        if (!inFolder(path)) {
            if (unload(name)) changes.push_back("unloaded " + name);
            continue;
        }
        std::string stamp = PluginFolder::stamp(path);
        if (stamp == registry_->stampOf(*s)) continue;
        try {
            changes.push_back("reloaded " + name + " " + reload(name));
        } catch (const std::exception& e) {
            // Remember the refused state so it is not retried until it changes again.
            registry_->restamp(*s, stamp);
            refusals_->record(path, e.what(), stamp);  // reload() has logged it
            changes.push_back("reload of " + name + " refused: " + e.what());
        }
    }
    for (const auto& path : manifests) {
        if (loaded.count(path)) continue;
        auto known = refusals_->find(path, PluginFolder::stamp(path));
        if (known && known->unchanged) continue;
        try {
            load(path);
            changes.push_back("loaded " + path);
        } catch (const std::exception& e) {
            if (!known || known->reason != e.what()) changes.push_back("refused " + path + ": " + e.what());
        }
    }
    return changes;
}

void PluginHost::checkHealth() {
    for (const auto& [name, s] : registry_->all()) {
        PluginHealth::ask(s->health, std::atomic_load(&s->plugin), *s->pool);
        auto review = s->health->review();
        if (review.current == review.previous) continue;
        logger().information("plugin %s is %s (was %s) %s", name, std::string(toString(review.current)),
                             std::string(toString(review.previous)), review.detail);
        if (!options_.onHealthChanged) continue;
        try {
            options_.onHealthChanged(name, review.previous, review.current, review.detail);
        } catch (...) {
            logQuietly("health change of " + name + " not reported: " + currentExceptionText());
        }
    }
}

std::vector<std::string> PluginHost::deliverEvent(const std::string& type, const std::string& eventJson) {
    auto refused = [this, type](const std::string& plugin, const CallResult& result) {
        logQuietly("event " + type + " not accepted by plugin " + plugin + " (status " + std::to_string(result.status) +
                   "): " + result.body.substr(0, 500));
        if (!options_.onEventFailed) return;
        try {
            options_.onEventFailed(plugin, type, result);
        } catch (...) {
            logQuietly("event failure of " + plugin + " not reported: " + currentExceptionText());
        }
    };
    return fanOut(registry_->all(), type, eventJson, refused);
}

bool PluginHost::has(std::string_view system) const {
    return registry_->contains(system);
}

PluginLimits PluginHost::limits(std::string_view system) const {
    auto s = registry_->find(system);
    return s ? s->limits : options_.defaults;
}

std::vector<PluginHost::Refusal> PluginHost::refusals() const {
    return refusals_->list();
}

std::vector<PluginHost::Status> PluginHost::list() const {
    std::vector<Status> out;
    for (const auto& [name, s] : registry_->all()) {
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
        auto health = s->health->view();
        st.status = toString(health.health);
        st.healthDetail = std::move(health.detail);
        st.circuit = CircuitBreaker::toString(health.tally.circuit);
        st.calls = health.tally.calls;
        st.failures = health.tally.failures;
        st.recentErrorRate = health.recentErrorRate;
        out.push_back(std::move(st));
    }
    return out;
}

}  // namespace hub::host
