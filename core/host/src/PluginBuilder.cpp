#include "PluginBuilder.h"

#include "PluginFolder.h"

#include "hub/runtime/WorkerPool.h"
#include "hub/sql/Sources.h"

#include <Poco/Logger.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <filesystem>
#include <system_error>

namespace hub::host {

namespace {

Poco::Logger& builderLogger() {
    return Poco::Logger::get("hub.host");
}

// The plugin's <config> section in hub.xml, or null when there is none.
Poco::AutoPtr<Poco::Util::AbstractConfiguration> configSection(const Poco::Util::AbstractConfiguration* config,
                                                               const std::string& prefix) {
    if (!config) return {};
    Poco::Util::AbstractConfiguration::Keys keys;
    config->keys(prefix + ".config", keys);
    if (!config->has(prefix + ".config") && keys.empty()) return {};
    return Poco::AutoPtr<Poco::Util::AbstractConfiguration>(config->createView(prefix + ".config"));
}

}  // namespace

PluginBuilder::PluginBuilder(const PluginHost::Options& options, PluginFolder& folder)
    : options_(options), folder_(folder) {}

PluginBuilder::~PluginBuilder() = default;

PluginBuilder::Built PluginBuilder::build(const std::string& manifestPath, bool shadowCopy) {
    Built b;
    b.manifest = readManifest(manifestPath);
    const Manifest& manifest = b.manifest;
    // The operator's narrowing of the access policies travels with this instance,
    // so a reload (which reads hub.xml's view again) swaps both at once.
    try {
        applyOperatorPolicies(b.manifest, options_.config.get());
    } catch (const std::invalid_argument& e) {
        throw LoadError(manifest.name + ": " + e.what());
    }
    for (const auto& op : manifest.operations) {
        if (!op.access.declared)
            builderLogger().warning(
                "plugin %s: operation %s declares no access policy; every call to it is refused "
                "(docs/sdk/abi-reference.md#access-policies)",
                manifest.name, op.name);
        else if (op.access.fromHubConfig)
            builderLogger().notice("plugin %s: operation %s: access policy from hub.xml, not the manifest: %s", manifest.name,
                            op.name, op.access.describe());
    }
    std::string folder = manifestPath.substr(0, manifestPath.find_last_of('/'));
    b.library = PluginFolder::realPath(folder + "/" + manifest.library);
    if (b.library.empty())
        throw LoadError(manifest.name + ": library " + folder + "/" + manifest.library + " not found");
    // Symlinks are resolved first: only code under the configured folder runs.
    if (!folder_.contains(b.library))
        throw LoadError(manifest.name + ": library " + b.library + " is outside the plugins folder " +
                        folder_.configured());
    b.stamp = PluginFolder::stamp(manifestPath, b.library);
    if (options_.onManifest) options_.onManifest(manifest);

    // Each key on its own, whether or not the file has a <plugin> element for
    // this plugin: an operator's -D override of one key is enough.
    const std::string prefix = "plugin[@name=" + manifest.name + "]";
    const Poco::Util::AbstractConfiguration* config = options_.config.get();
    b.limits = options_.defaults;
    PluginConfig pluginConfig;
    if (config) {
        try {
            b.limits = PluginLimits::fromConfig(*config, prefix, options_.defaults);
        } catch (const config::ConfigError& e) {
            // The view is the config's "plugins" subtree: name the key as the operator wrote it.
            throw LoadError(manifest.name + ": plugins." + e.what());
        }
        try {
            pluginConfig = PluginConfig::fromSection(configSection(config, prefix).get());
        } catch (const std::runtime_error& e) {
            throw LoadError(manifest.name + ": " + e.what());
        }
    }
    std::string isolation =
        config && config->has(prefix + ".isolation") ? config->getString(prefix + ".isolation") : manifest.isolation;
    b.instance = instantiate(b, isolation, std::move(pluginConfig), shadowCopy);
    return b;
}

std::shared_ptr<PluginInstance> PluginBuilder::instantiate(const Built& b, const std::string& isolation,
                                                           PluginConfig config, bool shadowCopy) {
    const Manifest& manifest = b.manifest;
    if (isolation == "process") {
        if (b.limits.onEventLoop)
            throw LoadError(manifest.name +
                            ": execution 'loop' is for in-process plugins; a process plugin's "
                            "calls wait for its worker process");
        ProcessPlugin::Options po = options_.process;
        po.concurrency = b.limits.concurrency;  // worker threads = the bulkhead
        po.eventTimeout = b.limits.timeout;
        if (options_.sql) po.sqlSources = options_.sql->toJson(manifest.name);
        po.submitIdentity = options_.submitIdentity;  // forwarded from the worker over the call's channel
        return std::make_shared<ProcessPlugin>(manifest, b.library, std::move(config), po);
    }
    if (isolation != "inproc")
        throw LoadError(manifest.name + ": isolation '" + isolation + "' must be inproc or process");

    if (b.limits.onEventLoop && !offload_ &&
        (options_.database || options_.emitEvent || options_.sql || options_.submitIdentity))
        offload_ = std::make_unique<runtime::WorkerPool>("host-offload", 2, 4096);
    PluginServices services;
    services.config = std::move(config);
    services.offload = b.limits.onEventLoop ? offload_.get() : nullptr;
    services.http = options_.http;
    services.logger = &Poco::Logger::get("hub.plugin." + manifest.name);
    services.emitEvent = options_.emitEvent;
    services.database = options_.database;
    services.soap = options_.soap;
    services.sql = options_.sql;
    services.submitIdentity = options_.submitIdentity;
    services.ownedPersonFields = ownedPersonFields(manifest.owns);
    if (!shadowCopy) return std::make_shared<LoadedPlugin>(manifest, b.library, std::move(services));

    // dlopen hands back the already loaded library for a path it knows, so a new
    // version beside the old one must come from a path of its own.
    std::string copy;
    try {
        copy = folder_.shadowCopy(b.library, manifest.library);
    } catch (const std::exception& e) {
        throw LoadError(manifest.name + ": " + e.what());
    }
    struct Remove {
        const std::string& path;
        ~Remove() {
            std::error_code ignored;
            std::filesystem::remove(path, ignored);  // the mapping stays; nothing else may open it
        }
    } remove{copy};
    return std::make_shared<LoadedPlugin>(manifest, copy, std::move(services));
}

}  // namespace hub::host
