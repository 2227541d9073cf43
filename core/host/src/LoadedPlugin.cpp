#include "hub/host/LoadedPlugin.h"

#include "HostServices.h"

#include "hub/store/Database.h"

#include <campushub/plugin.h>

#include <boost/dll/shared_library.hpp>

#include <cstring>
#include <exception>

namespace hub::host {

namespace {

// The sink the host gives a plugin for one answer: it copies the bytes, as the
// ABI requires (neither side frees the other's memory).
struct Captured {
    bool called = false;
    int status = CH_ERR_INTERNAL;
    std::string data;
    ch_sink sink() { return {&Captured::write, this}; }
    static void write(void* ctx, ch_status status, const char* data, size_t length) {
        auto* self = static_cast<Captured*>(ctx);
        // The contract is one answer; a second one is a plugin bug and ignored.
        if (self->called) return;
        self->called = true;
        self->status = status;
        self->data.assign(data ? data : "", data ? length : 0);
    }
};

}  // namespace

struct LoadedPlugin::Impl {
    boost::dll::shared_library library;  // first member: destroyed last
    ch_plugin_api api{};
    ch_host_api hostApi{};  // what this instance was given; lives as long as it
    ch_host host;
    ch_plugin* instance = nullptr;
};

LoadedPlugin::LoadedPlugin(Manifest manifest, const std::string& libraryPath, PluginServices services)
    : manifest_(std::move(manifest)), impl_(std::make_unique<Impl>()) {
    const std::string& name = manifest_.name;
    try {
        // RTLD_NOW: an unresolved symbol fails here, not in the middle of a call.
        // RTLD_LOCAL: plugins cannot see or clash with each other's symbols.
        impl_->library.load(libraryPath, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
        throw LoadError(name + ": cannot load " + libraryPath + ": " + e.what());
    }
    if (!impl_->library.has(CH_PLUGIN_ENTRY_SYMBOL))
        throw LoadError(name + ": " + libraryPath + " does not export " + CH_PLUGIN_ENTRY_SYMBOL);
    auto entry = impl_->library.get<const ch_plugin_api*()>(CH_PLUGIN_ENTRY_SYMBOL);
    const ch_plugin_api* table = entry();
    if (!table) throw LoadError(name + ": entry point returned no function table");
    // The ABI major is checked before anything else is read or called.
    if (table->abi_major != CH_ABI_VERSION_MAJOR)
        throw LoadError(name + ": built for ABI " + std::to_string(table->abi_major) + "." +
                        std::to_string(table->abi_minor) + ", this hub speaks ABI " +
                        std::to_string(CH_ABI_VERSION_MAJOR) + "." + std::to_string(CH_ABI_VERSION_MINOR));
    if (table->struct_size < offsetof(ch_plugin_api, health))
        throw LoadError(name + ": function table too small (" + std::to_string(table->struct_size) + " bytes)");
    if (manifest_.abiMajor != table->abi_major)
        throw LoadError(name + ": manifest says ABI " + std::to_string(manifest_.abiMajor) +
                        " but the library was built for " + std::to_string(table->abi_major));
    std::memcpy(&impl_->api, table, std::min<size_t>(table->struct_size, sizeof impl_->api));
    if (!impl_->api.create || !impl_->api.destroy || !impl_->api.describe || !impl_->api.invoke)
        throw LoadError(name + ": a required function (create, destroy, describe, invoke) is missing");
    // A newer minor is accepted by capability: only when it says what it needs
    // (checked below, against the table it will get).
    if (table->abi_minor > CH_ABI_VERSION_MINOR && !impl_->api.required_services)
        throw LoadError(name + ": built for ABI 1." + std::to_string(table->abi_minor) + ", newer than this hub's 1." +
                        std::to_string(CH_ABI_VERSION_MINOR) +
                        ", and names no required host services, so it may call services this hub lacks");

    for (const auto& key : manifest_.config)
        if (key.required && !services.config.find(key.name))
            throw LoadError(name + ": required config key '" + key.name + "' is not set");

    if (services.database) {
        try {
            migrateStore(*services.database);
        } catch (const std::exception& e) {
            throw LoadError(name + ": cannot prepare the key-value store: " + e.what());
        }
    }
    impl_->host.services = std::move(services);
    impl_->host.name = name;
    impl_->hostApi = hostApiFor(impl_->host.services);
    if (std::string missing = missingService(impl_->hostApi, impl_->api.required_services); !missing.empty())
        throw LoadError(name + " (built for ABI 1." + std::to_string(table->abi_minor) + ", this hub speaks 1." +
                        std::to_string(CH_ABI_VERSION_MINOR) + "): " + missing);
    Captured error;
    ch_plugin* instance = nullptr;
    ch_status rc = impl_->api.create(&impl_->hostApi, &impl_->host, buffer(impl_->host.services.config.json()),
                                     &instance, error.sink());
    if (rc != CH_OK || !instance)
        throw LoadError(name + ": create failed: " + (error.called ? error.data : "status " + std::to_string(rc)));
    impl_->instance = instance;

    // From here on a failure must destroy the instance before the library goes.
    try {
        Captured described;
        impl_->api.describe(instance, described.sink());
        if (!described.called || described.status != CH_OK) throw LoadError(name + ": describe failed");
        if (std::string wrong = describeMismatch(manifest_, described.data); !wrong.empty())
            throw LoadError(name + ": " + wrong);
        describe_ = std::move(described.data);
    } catch (...) {
        impl_->api.destroy(instance);
        impl_->instance = nullptr;
        throw;
    }
}

LoadedPlugin::~LoadedPlugin() {
    if (impl_ && impl_->instance) impl_->api.destroy(impl_->instance);
}

CallResult LoadedPlugin::invoke(std::string_view operation, std::string_view input, const Caller& caller,
                                const CallContext& context, Clock::time_point deadline) noexcept {
    try {
        ch_call call{&caller, deadline, &context};
        Captured result;
        impl_->api.invoke(impl_->instance, &call, buffer(operation), buffer(input), result.sink());
        if (!result.called) return {CH_ERR_INTERNAL, "the plugin returned no result"};
        return {result.status, std::move(result.data)};
    } catch (...) {
        return {CH_ERR_INTERNAL, "failure while calling the plugin"};
    }
}

CallResult LoadedPlugin::health() noexcept {
    try {
        if (!impl_->api.health) return {CH_OK, R"({"status":"up"})"};
        Captured result;
        impl_->api.health(impl_->instance, result.sink());
        if (!result.called) return {CH_ERR_INTERNAL, "the plugin returned no health"};
        return {result.status, std::move(result.data)};
    } catch (...) {
        return {CH_ERR_INTERNAL, "failure while asking the plugin's health"};
    }
}

CallResult LoadedPlugin::onEvent(std::string_view eventJson) noexcept {
    try {
        if (!impl_->api.on_event) return {CH_OK, "{}"};
        Captured result;
        impl_->api.on_event(impl_->instance, buffer(eventJson), result.sink());
        if (!result.called) return {CH_ERR_INTERNAL, "the plugin gave no answer to the event"};
        return {result.status, std::move(result.data)};
    } catch (const std::exception& e) {
        return {CH_ERR_INTERNAL, std::string("the plugin threw while handling the event: ") + e.what()};
    } catch (...) {
        return {CH_ERR_INTERNAL, "the plugin threw while handling the event"};
    }
}

}  // namespace hub::host
