#include "hub/host/LoadedPlugin.h"

#include "hub/http/Client.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Logger.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <boost/dll/shared_library.hpp>

#include <cstring>
#include <set>
#include <sstream>

// The opaque handles of the ABI, defined on the host's side.
struct ch_host {
    hub::host::PluginServices services;
    std::string name;
};

struct ch_call {
    const hub::host::Caller* caller;
    hub::host::Clock::time_point deadline;
};

namespace hub::host {

namespace {

std::string_view view(ch_buffer b) { return {b.data ? b.data : "", b.data ? b.length : 0}; }
ch_buffer buffer(std::string_view s) { return {s.data(), s.size()}; }

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

void hostLog(ch_host* host, ch_log_level level, ch_buffer message) {
    if (!host || !host->services.logger) return;
    Poco::Logger& log = *host->services.logger;
    std::string text(view(message).substr(0, 8192));
    switch (level) {
    case CH_LOG_ERROR: log.error(text); break;
    case CH_LOG_WARNING: log.warning(text); break;
    case CH_LOG_INFO: log.information(text); break;
    default: log.debug(text); break;
    }
}

int hostConfigGet(ch_host* host, ch_buffer key, ch_sink sink) {
    try {
        auto* config = host ? host->services.config : nullptr;
        std::string k(view(key));
        if (!config || k.empty() || !config->hasProperty(k)) return 0;
        std::string value = config->getString(k);
        sink.fn(sink.ctx, CH_OK, value.data(), value.size());
        return 1;
    } catch (...) {
        return 0;
    }
}

uint32_t callRemainingMs(ch_call* call) {
    if (!call) return 0;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(call->deadline - Clock::now());
    return left.count() > 0 ? static_cast<uint32_t>(left.count()) : 0;
}

void callCaller(ch_call* call, ch_sink sink) {
    try {
        Poco::JSON::Object out;
        if (call && call->caller) {
            out.set("subject", call->caller->subject);
            Poco::JSON::Array roles;
            for (const auto& r : call->caller->roles) roles.add(r);
            out.set("roles", roles);
            if (!call->caller->actingFor.empty()) out.set("acting_for", call->caller->actingFor);
        }
        std::ostringstream s;
        out.stringify(s);
        std::string json = s.str();
        sink.fn(sink.ctx, CH_OK, json.data(), json.size());
    } catch (...) {
        sink.fn(sink.ctx, CH_ERR_INTERNAL, "", 0);
    }
}

void hostHttpRequest(ch_host* host, ch_call* call, const ch_http_request* request,
                     ch_http_sink sink) {
    auto answerError = [&](ch_status status, const std::string& message) {
        ch_http_response r{};
        r.struct_size = sizeof r;
        r.body = buffer(message);
        sink.fn(sink.ctx, status, &r);
    };
    try {
        if (!host || !host->services.http || !request) {
            answerError(CH_ERR_UNAVAILABLE, "no HTTP service");
            return;
        }
        // Copy what this host knows of a possibly older or newer struct.
        ch_http_request req{};
        std::memcpy(&req, request, std::min<size_t>(request->struct_size, sizeof req));
        std::chrono::milliseconds timeout(req.timeout_ms ? req.timeout_ms : 30000);
        if (call) timeout = std::min(timeout, std::chrono::milliseconds(callRemainingMs(call)));
        http::Response response = host->services.http->request(
            view(req.method), view(req.url), view(req.headers), view(req.body), timeout);
        ch_http_response r{};
        r.struct_size = sizeof r;
        r.status = response.status;
        r.headers = buffer(response.headers);
        r.body = buffer(response.body);
        sink.fn(sink.ctx, CH_OK, &r);
    } catch (const http::RequestError& e) {
        answerError(e.failure() == http::Failure::Timeout      ? CH_ERR_TIMEOUT
                    : e.failure() == http::Failure::BadRequest ? CH_ERR_INVALID_ARGUMENT
                                                               : CH_ERR_UNAVAILABLE,
                    e.what());
    } catch (const std::exception& e) {
        answerError(CH_ERR_INTERNAL, e.what());
    } catch (...) {
        answerError(CH_ERR_INTERNAL, "unexpected failure in the HTTP service");
    }
}

const ch_host_api kHostApi = [] {
    ch_host_api api{};
    api.struct_size = sizeof api;
    api.abi_major = CH_ABI_VERSION_MAJOR;
    api.abi_minor = CH_ABI_VERSION_MINOR;
    api.log = &hostLog;
    api.config_get = &hostConfigGet;
    api.call_remaining_ms = &callRemainingMs;
    api.call_caller = &callCaller;
    api.http_request = &hostHttpRequest;
    return api;
}();

std::string configJson(Poco::Util::AbstractConfiguration* config) {
    Poco::JSON::Object out;
    if (config) {
        Poco::Util::AbstractConfiguration::Keys keys;
        config->keys(keys);
        for (const auto& k : keys) out.set(k, config->getString(k, ""));
    }
    std::ostringstream s;
    out.stringify(s);
    return s.str();
}

}  // namespace

struct LoadedPlugin::Impl {
    boost::dll::shared_library library;  // first member: destroyed last
    ch_plugin_api api{};
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
    if (table->abi_minor > CH_ABI_VERSION_MINOR)
        throw LoadError(name + ": built for ABI 1." + std::to_string(table->abi_minor) +
                        ", newer than this hub's 1." + std::to_string(CH_ABI_VERSION_MINOR));
    if (table->struct_size < offsetof(ch_plugin_api, health))
        throw LoadError(name + ": function table too small (" + std::to_string(table->struct_size) + " bytes)");
    if (manifest_.abiMajor != table->abi_major)
        throw LoadError(name + ": manifest says ABI " + std::to_string(manifest_.abiMajor) +
                        " but the library was built for " + std::to_string(table->abi_major));
    std::memcpy(&impl_->api, table, std::min<size_t>(table->struct_size, sizeof impl_->api));
    if (!impl_->api.create || !impl_->api.destroy || !impl_->api.describe || !impl_->api.invoke)
        throw LoadError(name + ": a required function (create, destroy, describe, invoke) is missing");

    for (const auto& key : manifest_.config)
        if (key.required && (!services.config || !services.config->hasProperty(key.name)))
            throw LoadError(name + ": required config key '" + key.name + "' is not set");

    impl_->host.services = services;
    impl_->host.name = name;
    std::string config = configJson(services.config);
    Captured error;
    ch_plugin* instance = nullptr;
    ch_status rc = impl_->api.create(&kHostApi, &impl_->host, buffer(config), &instance, error.sink());
    if (rc != CH_OK || !instance)
        throw LoadError(name + ": create failed: " + (error.called ? error.data : "status " + std::to_string(rc)));
    impl_->instance = instance;

    // From here on a failure must destroy the instance before the library goes.
    try {
        Captured described;
        impl_->api.describe(instance, described.sink());
        if (!described.called || described.status != CH_OK)
            throw LoadError(name + ": describe failed");
        Poco::JSON::Parser parser;
        auto object = parser.parse(described.data).extract<Poco::JSON::Object::Ptr>();
        std::string dName = object->optValue<std::string>("name", "");
        std::string dVersion = object->optValue<std::string>("version", "");
        if (dName != manifest_.name || dVersion != manifest_.version)
            throw LoadError(name + ": library is " + dName + " " + dVersion + " but manifest " +
                            manifest_.file + " says " + manifest_.name + " " + manifest_.version);
        std::set<std::string> described_ops, manifest_ops;
        if (auto ops = object->getArray("operations"))
            for (std::size_t i = 0; i < ops->size(); ++i)
                described_ops.insert(ops->getObject(static_cast<unsigned>(i))->optValue<std::string>("name", ""));
        for (const auto& op : manifest_.operations) manifest_ops.insert(op.name);
        if (described_ops != manifest_ops)
            throw LoadError(name + ": operations of the library differ from " + manifest_.file);
        describe_ = std::move(described.data);
    } catch (const LoadError&) {
        impl_->api.destroy(instance);
        impl_->instance = nullptr;
        throw;
    } catch (const std::exception& e) {
        impl_->api.destroy(instance);
        impl_->instance = nullptr;
        throw LoadError(name + ": describe returned invalid JSON: " + e.what());
    }
}

LoadedPlugin::~LoadedPlugin() {
    if (impl_ && impl_->instance) impl_->api.destroy(impl_->instance);
}

CallResult LoadedPlugin::invoke(std::string_view operation, std::string_view input,
                                const Caller& caller, Clock::time_point deadline) noexcept {
    try {
        ch_call call{&caller, deadline};
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

}  // namespace hub::host
