#include "hub/host/PluginHost.h"

#include "hub/host/WorkerPool.h"

#include <campushub/plugin.h>

#include <Poco/Logger.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <sys/stat.h>

namespace hub::host {

namespace {

Poco::Logger& logger() { return Poco::Logger::get("hub.host"); }

std::string realPath(const std::string& path) {
    char resolved[PATH_MAX];
    if (!::realpath(path.c_str(), resolved)) return {};
    return resolved;
}

}  // namespace

struct PluginHost::Slot {
    std::shared_ptr<PluginInstance> plugin;
    Poco::AutoPtr<Poco::Util::AbstractConfiguration> config;  // the <config> view lent to the plugin
    PluginLimits limits;
    std::unique_ptr<WorkerPool> pool;  // last: joined first, while the plugin is alive
    ~Slot() { pool.reset(); }
};

PluginHost::PluginHost(Options options) : options_(std::move(options)) {
    realPluginsDir_ = realPath(options_.pluginsDir);
}

PluginHost::~PluginHost() {
    std::map<std::string, std::shared_ptr<Slot>, std::less<>> slots;
    {
        std::lock_guard lock(mutex_);
        slots.swap(slots_);
    }
    slots.clear();  // each Slot joins its pool (calls in flight finish), then unloads
}

void PluginHost::refuse(const std::string& path, const std::string& reason) {
    logger().error("plugin refused: %s", reason);
    std::lock_guard lock(mutex_);
    refusals_.push_back({path, reason});
}

void PluginHost::loadAll() {
    if (realPluginsDir_.empty()) {
        refuse(options_.pluginsDir, "plugins folder " + options_.pluginsDir + " does not exist");
        return;
    }
    DIR* dir = ::opendir(realPluginsDir_.c_str());
    if (!dir) {
        refuse(options_.pluginsDir, std::string("cannot read plugins folder: ") + std::strerror(errno));
        return;
    }
    std::vector<std::string> manifests;
    while (dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        std::string manifest = realPluginsDir_ + "/" + entry->d_name + "/plugin.xml";
        struct stat st {};
        if (::stat(manifest.c_str(), &st) == 0 && S_ISREG(st.st_mode)) manifests.push_back(manifest);
    }
    ::closedir(dir);
    std::sort(manifests.begin(), manifests.end());  // a stable, predictable load order
    for (const auto& m : manifests) {
        try {
            load(m);
        } catch (const std::exception&) {
            // already refused with its reason
        }
    }
}

void PluginHost::load(const std::string& manifestPath) {
    try {
        Manifest manifest = readManifest(manifestPath);
        std::string folder = manifestPath.substr(0, manifestPath.find_last_of('/'));
        std::string library = realPath(folder + "/" + manifest.library);
        if (library.empty())
            throw LoadError(manifest.name + ": library " + folder + "/" + manifest.library + " not found");
        // Symlinks are resolved first: only code under the configured folder runs.
        if (realPluginsDir_.empty() || library.compare(0, realPluginsDir_.size() + 1, realPluginsDir_ + "/") != 0)
            throw LoadError(manifest.name + ": library " + library + " is outside the plugins folder " +
                            options_.pluginsDir);
        {
            std::lock_guard lock(mutex_);
            if (slots_.count(manifest.name))
                throw LoadError(manifest.name + ": a plugin of that name is already loaded");
        }

        auto slot = std::make_shared<Slot>();
        slot->limits = options_.defaults;
        std::string prefix = "plugin[@name=" + manifest.name + "]";
        if (options_.config && options_.config->has(prefix)) {
            auto& c = *options_.config;
            slot->limits.timeout = std::chrono::milliseconds(
                c.getInt(prefix + ".timeoutMs", static_cast<int>(slot->limits.timeout.count())));
            slot->limits.concurrency = static_cast<std::size_t>(
                std::max(1, c.getInt(prefix + ".concurrency", static_cast<int>(slot->limits.concurrency))));
            slot->limits.queue = static_cast<std::size_t>(
                std::max(0, c.getInt(prefix + ".queue", static_cast<int>(slot->limits.queue))));
            if (c.has(prefix + ".config"))
                slot->config = Poco::AutoPtr<Poco::Util::AbstractConfiguration>(c.createView(prefix + ".config"));
        }
        PluginServices services{slot->config.get(), options_.http,
                                &Poco::Logger::get("hub.plugin." + manifest.name)};
        // Config may override the manifest's isolation: IT decides what it trusts.
        std::string isolation = options_.config && options_.config->has(prefix + ".isolation")
                                    ? options_.config->getString(prefix + ".isolation")
                                    : manifest.isolation;
        if (isolation == "process") {
            ProcessPlugin::Options po = options_.process;
            po.concurrency = slot->limits.concurrency;  // worker threads = the bulkhead
            slot->plugin = std::make_shared<ProcessPlugin>(manifest, library,
                                                           ProcessPlugin::configJson(slot->config.get()), po);
        } else if (isolation == "inproc") {
            slot->plugin = std::make_shared<LoadedPlugin>(manifest, library, services);
        } else {
            throw LoadError(manifest.name + ": isolation '" + isolation + "' must be inproc or process");
        }
        slot->pool = std::make_unique<WorkerPool>(manifest.name, slot->limits.concurrency, slot->limits.queue);
        logger().information("plugin %s %s loaded from %s (%z workers, timeout %s ms)", manifest.name,
                             manifest.version, library, slot->limits.concurrency,
                             std::to_string(slot->limits.timeout.count()));
        std::lock_guard lock(mutex_);
        slots_.emplace(manifest.name, std::move(slot));
    } catch (const ManifestError& e) {
        refuse(manifestPath, e.what());
        throw;
    } catch (const LoadError& e) {
        refuse(manifestPath, e.what());
        throw;
    } catch (const std::exception& e) {
        refuse(manifestPath, manifestPath + ": " + e.what());
        throw LoadError(e.what());
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
    std::lock_guard lock(mutex_);
    return refusals_;
}

std::vector<PluginHost::Status> PluginHost::list() const {
    std::vector<Status> out;
    std::lock_guard lock(mutex_);
    for (const auto& [name, s] : slots_) {
        const Manifest& m = s->plugin->manifest();
        bool process = dynamic_cast<const ProcessPlugin*>(s->plugin.get()) != nullptr;
        out.push_back({m.name, m.version, m.vendor, m.description, process ? "process" : "inproc", "loaded",
                       m.operations,
                       s->pool->active(), s->pool->queued()});
    }
    return out;
}

PluginHost::Submit PluginHost::submit(std::string_view system, std::string_view operation,
                                      std::string input, Caller caller, Clock::time_point deadline,
                                      Completion done) {
    auto s = slot(system);
    if (!s) return Submit::UnknownSystem;
    if (!s->plugin->manifest().hasOperation(operation)) return Submit::UnknownOperation;
    // The call holds the plugin (and so its library) alive until it completes.
    std::shared_ptr<PluginInstance> plugin = s->plugin;
    bool accepted = s->pool->trySubmit(
        [plugin, op = std::string(operation), input = std::move(input), caller = std::move(caller),
         deadline, done = std::move(done)]() mutable {
            if (Clock::now() >= deadline) {
                done({CH_ERR_TIMEOUT, "the call waited in the queue past its deadline"});
                return;
            }
            done(plugin->invoke(op, input, caller, deadline));
        });
    return accepted ? Submit::Accepted : Submit::Overloaded;
}

}  // namespace hub::host
