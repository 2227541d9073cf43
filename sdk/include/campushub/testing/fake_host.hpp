// CampusHub plugin SDK — a fake host, so a plugin is unit-tested without hubd.
//
// Header-only, standard library + <dlfcn.h> only; works with any test framework.
// It plays the hub's side of campushub/plugin.h: it offers a ch_host_api whose
// services answer from memory (config from a map, HTTP from a function you
// supply, log lines captured, key-value state in a map, emitted events kept),
// creates your plugin through its ch_plugin_api and calls it.
//
//   #include <campushub/testing/fake_host.hpp>
//
//   campushub::testing::FakeHost host;
//   host.setConfig("base_url", "http://books.example");
//   host.onHttp([](const campushub::testing::HttpRequest& r) {
//       return campushub::testing::HttpReply{200, R"({"title":"三体"})"};
//   });
//   auto plugin = host.load(campushub_plugin_entry);     // the plugin compiled into the test
//   // or: campushub::testing::PluginLibrary lib("build/example/libexample.so");
//   //     auto plugin = host.load(lib);                  // the built library, via dlopen
//   auto r = plugin.invoke("lookup_book", R"({"isbn":"9787536692930"})");
//   EXPECT_EQ(r.status, CH_OK);
//
// Everything a plugin hands back is checked the way the hub checks it: a call
// that answers its sink zero times or twice is recorded in Result::answers.
#pragma once

#include "campushub/plugin.h"

#include <dlfcn.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// The entry point CAMPUSHUB_PLUGIN defines; declared here so a test that compiles
// the plugin's source in can pass it to FakeHost::load directly.
extern "C" CH_EXPORT const ch_plugin_api* campushub_plugin_entry(void);

namespace campushub::testing {

/// What a plugin answered through its sink.
struct Result {
    ch_status status = CH_ERR_INTERNAL;
    std::string body;  ///< The JSON result, or the error text.
    int answers = 0;   ///< How often the sink was called: the contract is exactly 1.

    bool ok() const noexcept { return status == CH_OK && answers == 1; }
};

/// A line the plugin logged through the host.
struct LogLine {
    ch_log_level level;
    std::string message;
};

/// An outbound HTTP request the plugin made through the host.
struct HttpRequest {
    std::string method;
    std::string url;
    /// "Name: value\r\n" lines: the plugin's, and a traceparent line when the
    /// call has one and the plugin set none (as the hub adds it).
    std::string headers;
    std::string body;
    std::uint32_t timeoutMs = 0;
};

/// How the fake host answers an outbound HTTP request. status other than CH_OK
/// means "no response" (the vendor system is down, timed out...) and detail
/// explains it; otherwise httpStatus, body and headers are the response.
struct HttpReply {
    int httpStatus = 200;
    std::string body;
    std::string headers;
    ch_status status = CH_OK;
    std::string detail;

    /// A failure without any HTTP response, e.g. failure(CH_ERR_UNAVAILABLE, "connection refused").
    static HttpReply failure(ch_status s, std::string why) {
        HttpReply r;
        r.httpStatus = 0;
        r.status = s;
        r.detail = std::move(why);
        return r;
    }
};

/// create() refused to make an instance: status and the plugin's message.
class CreateError : public std::runtime_error {
public:
    CreateError(ch_status status, const std::string& message)
        : std::runtime_error("create failed (status " + std::to_string(static_cast<int>(status)) +
                             "): " + message),
          status_(status), detail_(message) {}
    ch_status status() const noexcept { return status_; }
    const std::string& detail() const noexcept { return detail_; }

private:
    ch_status status_;
    std::string detail_;
};

namespace detail {

/// Counts the answers a callee gives; the last one wins, as the contract allows one.
struct Collector {
    Result result;
    ch_sink sink() noexcept { return {&Collector::write, this}; }
    static void write(void* ctx, ch_status status, const char* data, size_t length) noexcept {
        auto* self = static_cast<Collector*>(ctx);
        ++self->result.answers;
        self->result.status = status;
        try {
            self->result.body.assign(data ? data : "", data ? length : 0);
        } catch (...) {
        }
    }
};

inline std::string_view view(ch_buffer b) noexcept {
    return b.data ? std::string_view(b.data, b.length) : std::string_view();
}
inline ch_buffer buffer(std::string_view s) noexcept { return {s.data(), s.size()}; }

// What a ch_call* handed to the plugin points at. ch_host and ch_call stay
// incomplete types: the handles are casts of the fake host's own objects, so
// this header never defines them and cannot clash with a real host's.
struct CallContext {
    std::chrono::steady_clock::time_point deadline;
    std::string callerJson;
    std::string idempotencyKey;
    std::string traceparent;
};

}  // namespace detail

/// A plugin library opened the way hubd opens it: dlopen(RTLD_NOW | RTLD_LOCAL)
/// and the one entry symbol. Closes the library on destruction, so destroy every
/// instance made from it first.
class PluginLibrary {
public:
    /// Throws std::runtime_error naming the path and dlerror() when the library
    /// cannot be loaded or lacks the entry symbol.
    explicit PluginLibrary(const std::string& path) : path_(path) {
        handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle_) {
            const char* e = ::dlerror();
            throw std::runtime_error("cannot load " + path + ": " + (e ? e : "unknown error"));
        }
        void* symbol = ::dlsym(handle_, CH_PLUGIN_ENTRY_SYMBOL);
        if (!symbol) {
            ::dlclose(handle_);
            handle_ = nullptr;
            throw std::runtime_error(path + " does not export " + CH_PLUGIN_ENTRY_SYMBOL);
        }
        // POSIX guarantees a data pointer from dlsym converts to a function pointer.
        std::memcpy(&entry_, &symbol, sizeof entry_);
    }
    ~PluginLibrary() {
        if (handle_) ::dlclose(handle_);
    }
    PluginLibrary(const PluginLibrary&) = delete;
    PluginLibrary& operator=(const PluginLibrary&) = delete;

    ch_plugin_entry_fn entry() const noexcept { return entry_; }
    const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
    void* handle_ = nullptr;
    ch_plugin_entry_fn entry_ = nullptr;
};

class FakeHost;

/// One instance of a plugin, created by FakeHost::load and destroyed with this
/// object. Movable, not copyable.
class FakePlugin {
public:
    FakePlugin(FakePlugin&& other) noexcept
        : host_(other.host_), api_(other.api_), instance_(std::exchange(other.instance_, nullptr)) {}
    FakePlugin& operator=(FakePlugin&&) = delete;
    FakePlugin(const FakePlugin&) = delete;
    FakePlugin& operator=(const FakePlugin&) = delete;
    ~FakePlugin() { destroy(); }

    /// The plugin's describe() answer: {"name", "version", "operations": [...]}.
    Result describe() const {
        detail::Collector c;
        api_.describe(instance_, c.sink());
        return c.result;
    }

    /// Runs operation with input (JSON text; any bytes, to test bad input) as one
    /// call, with the host's current deadline and caller.
    inline Result invoke(std::string_view operation, std::string_view input) const;

    /// The plugin's health() answer, or {"status":"up"} with answers 1 when it has none
    /// (which is what the hub assumes).
    Result health() const {
        if (!api_.health) return Result{CH_OK, R"({"status":"up"})", 1};
        detail::Collector c;
        api_.health(instance_, c.sink());
        return c.result;
    }

    /// Delivers a CloudEvent; CH_ERR_UNKNOWN_OPERATION when the plugin takes no events.
    Result onEvent(std::string_view eventJson) const {
        if (!api_.on_event) return Result{CH_ERR_UNKNOWN_OPERATION, "the plugin takes no events", 1};
        detail::Collector c;
        api_.on_event(instance_, detail::buffer(eventJson), c.sink());
        return c.result;
    }

    /// Destroys the instance now (also done by the destructor).
    void destroy() noexcept {
        if (instance_) api_.destroy(std::exchange(instance_, nullptr));
    }

    const ch_plugin_api& api() const noexcept { return api_; }
    ch_plugin* handle() const noexcept { return instance_; }

private:
    friend class FakeHost;
    FakePlugin(FakeHost& host, const ch_plugin_api& api, ch_plugin* instance)
        : host_(&host), api_(api), instance_(instance) {}

    FakeHost* host_;
    ch_plugin_api api_;  // the prefix this SDK knows, copied as the hub does
    ch_plugin* instance_;
};

/// The hub's side of the ABI, in memory. Not thread-safe to configure while a
/// plugin runs; the services themselves may be called from several threads.
class FakeHost {
public:
    using HttpHandler = std::function<HttpReply(const HttpRequest&)>;

    FakeHost() {
        api_.struct_size = sizeof api_;
        api_.abi_major = CH_ABI_VERSION_MAJOR;
        api_.abi_minor = CH_ABI_VERSION_MINOR;
        api_.log = &FakeHost::log;
        api_.config_get = &FakeHost::configGet;
        api_.call_remaining_ms = &FakeHost::remainingMs;
        api_.call_caller = &FakeHost::caller;
        api_.http_request = &FakeHost::http;
        api_.emit_event = &FakeHost::emitEvent;
        api_.kv_get = &FakeHost::kvGet;
        api_.kv_put = &FakeHost::kvPut;
        api_.kv_delete = &FakeHost::kvDelete;
        api_.soap_call = &FakeHost::soap;
        // 1.1
        api_.call_idempotency_key = &FakeHost::idempotencyKey;
        api_.call_trace_parent = &FakeHost::traceParent;
        api_.config_lookup = &FakeHost::configLookup;
        api_.kv_lookup = &FakeHost::kvLookup;
        api_.last_error = &FakeHost::lastError;
        // 1.2
        api_.sql_query = &FakeHost::sql;
        api_.identity_submit = &FakeHost::identitySubmit;
        onHttp(nullptr);
    }
    FakeHost(const FakeHost&) = delete;
    FakeHost& operator=(const FakeHost&) = delete;

    // --- what the plugin will see --------------------------------------------

    /// Sets a key of the plugin's config section (as hub.xml would).
    FakeHost& setConfig(const std::string& key, const std::string& value) {
        config_[key] = value;
        return *this;
    }
    std::map<std::string, std::string>& config() noexcept { return config_; }

    /// Answers every outbound HTTP request. nullptr (the default) answers
    /// CH_ERR_UNAVAILABLE, "no HTTP handler set in the fake host".
    FakeHost& onHttp(HttpHandler handler) {
        if (!handler)
            handler = [](const HttpRequest&) {
                return HttpReply::failure(CH_ERR_UNAVAILABLE, "no HTTP handler set in the fake host");
            };
        http_ = std::move(handler);
        return *this;
    }

    /// Answers SOAP calls: takes (endpoint, action, envelope), returns a Result.
    /// Unset, soap_call answers CH_ERR_UNAVAILABLE.
    FakeHost& onSoap(std::function<Result(const std::string&, const std::string&, const std::string&)> handler) {
        soap_ = std::move(handler);
        return *this;
    }

    /// Answers sql_query: takes (source, sql, params_json), returns a Result whose
    /// body is the rows JSON, or an error's {"detail","category"} (see plugin.h).
    /// Unset, sql_query answers CH_ERR_UNAVAILABLE (category "unavailable").
    FakeHost& onSql(std::function<Result(const std::string&, const std::string&, const std::string&)> handler) {
        sql_ = std::move(handler);
        return *this;
    }

    /// The time each following invoke has before its deadline (default 5 s).
    FakeHost& setTimeout(std::chrono::milliseconds t) {
        timeout_ = t;
        return *this;
    }

    /// The caller of each following invoke, e.g. setCaller("2023010001", {"student"}).
    FakeHost& setCaller(const std::string& subject, const std::vector<std::string>& roles = {},
                        const std::string& actingFor = {}) {
        std::string json = "{\"subject\":" + quote(subject) + ",\"roles\":[";
        for (std::size_t i = 0; i < roles.size(); ++i) json += (i ? "," : "") + quote(roles[i]);
        json += "]";
        if (!actingFor.empty()) json += ",\"acting_for\":" + quote(actingFor);
        callerJson_ = json + "}";
        return *this;
    }

    /// The idempotency key of each following invoke (call_idempotency_key);
    /// empty: none. Invoke twice with the same key to test a retry.
    FakeHost& setIdempotencyKey(std::string key) {
        idempotencyKey_ = std::move(key);
        return *this;
    }

    /// The W3C traceparent of each following invoke (call_trace_parent).
    FakeHost& setTraceParent(std::string traceparent) {
        traceparent_ = std::move(traceparent);
        return *this;
    }

    /// Makes config_lookup and kv_lookup fail (CH_ERR_UNAVAILABLE, with this
    /// text) as a broken store would; empty (the default): they work.
    FakeHost& failLookups(std::string why) {
        lookupFailure_ = std::move(why);
        return *this;
    }

    /// Answers identity_submit (ABI 1.2) with handler's result for the records
    /// document; without one, every call answers CH_OK and a summary of zeros.
    FakeHost& onIdentitySubmit(std::function<Result(const std::string& recordsJson)> handler) {
        identity_ = std::move(handler);
        return *this;
    }

    /// Turns an optional service off (sets its table member to NULL), to test
    /// that the plugin copes with an older or smaller host. Use before load().
    ch_host_api& table() noexcept { return api_; }

    // --- what the plugin did -------------------------------------------------

    std::vector<LogLine> logs() const {
        std::lock_guard lock(mutex_);
        return logs_;
    }
    /// True when some log line contains text.
    bool logged(std::string_view text) const {
        std::lock_guard lock(mutex_);
        for (const auto& l : logs_)
            if (l.message.find(text) != std::string::npos) return true;
        return false;
    }
    std::vector<HttpRequest> httpRequests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    std::vector<std::string> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }
    /// The records documents the plugin handed to identity_submit, in order.
    std::vector<std::string> identitySubmissions() const {
        std::lock_guard lock(mutex_);
        return submissions_;
    }
    std::map<std::string, std::string> state() const {
        std::lock_guard lock(mutex_);
        return kv_;
    }
    void clear() {
        std::lock_guard lock(mutex_);
        logs_.clear();
        requests_.clear();
        events_.clear();
    }

    // --- the plugin ----------------------------------------------------------

    /// Checks the table as the hub does (ABI major and minor, required
    /// functions), creates an instance with the config as a JSON object, and
    /// returns it. Throws std::runtime_error for a bad table, CreateError when
    /// create() refuses.
    FakePlugin load(ch_plugin_entry_fn entry) {
        if (!entry) throw std::runtime_error("no entry function");
        const ch_plugin_api* table = entry();
        if (!table) throw std::runtime_error("the entry function returned NULL");
        if (table->abi_major != CH_ABI_VERSION_MAJOR || table->abi_minor > CH_ABI_VERSION_MINOR)
            throw std::runtime_error("plugin built for ABI " + std::to_string(table->abi_major) + "." +
                                     std::to_string(table->abi_minor) + ", the fake host speaks " +
                                     std::to_string(CH_ABI_VERSION_MAJOR) + "." +
                                     std::to_string(CH_ABI_VERSION_MINOR));
        ch_plugin_api api{};
        std::memcpy(&api, table, table->struct_size < sizeof api ? table->struct_size : sizeof api);
        if (!api.create || !api.destroy || !api.describe || !api.invoke)
            throw std::runtime_error("a required function (create, destroy, describe, invoke) is NULL");
        // As the hub does: each required host service must be in this table, not NULL.
        for (const char* const* r = api.required_services; r && *r; ++r)
            if (!offers(*r))
                throw std::runtime_error(std::string("the plugin requires host service '") + *r +
                                         "', which this fake host does not offer");
        std::string configJson = "{";
        for (const auto& [k, v] : config_) configJson += (configJson.size() > 1 ? "," : "") + quote(k) + ":" + quote(v);
        configJson += "}";
        detail::Collector error;
        ch_plugin* instance = nullptr;
        ch_status status = api.create(&api_, handle(), detail::buffer(configJson), &instance, error.sink());
        if (status != CH_OK || !instance)
            throw CreateError(status == CH_OK ? CH_ERR_INTERNAL : status,
                              error.result.answers ? error.result.body : std::string("(no message)"));
        return FakePlugin(*this, api, instance);
    }
    FakePlugin load(const PluginLibrary& library) { return load(library.entry()); }

    const ch_host_api* api() const noexcept { return &api_; }
    ch_host* handle() noexcept { return reinterpret_cast<ch_host*>(this); }

private:
    friend class FakePlugin;

    static std::string quote(std::string_view s) {
        std::string out = "\"";
        for (unsigned char c : s) {
            if (c == '"' || c == '\\') {
                out += '\\';
                out += static_cast<char>(c);
            } else if (c < 0x20) {
                static const char hex[] = "0123456789abcdef";
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xF];
            } else {
                out += static_cast<char>(c);
            }
        }
        return out + "\"";
    }

    // Whether the table has member name, not NULL (the hub's check of required_services).
    bool offers(std::string_view name) const {
        const ch_host_api& a = api_;
        const std::pair<std::string_view, bool> slots[] = {
            {"log", a.log != nullptr},
            {"config_get", a.config_get != nullptr},
            {"call_remaining_ms", a.call_remaining_ms != nullptr},
            {"call_caller", a.call_caller != nullptr},
            {"http_request", a.http_request != nullptr},
            {"emit_event", a.emit_event != nullptr},
            {"kv_get", a.kv_get != nullptr},
            {"kv_put", a.kv_put != nullptr},
            {"kv_delete", a.kv_delete != nullptr},
            {"soap_call", a.soap_call != nullptr},
            {"call_idempotency_key", a.call_idempotency_key != nullptr},
            {"call_trace_parent", a.call_trace_parent != nullptr},
            {"config_lookup", a.config_lookup != nullptr},
            {"kv_lookup", a.kv_lookup != nullptr},
            {"last_error", a.last_error != nullptr},
            {"sql_query", a.sql_query != nullptr},
            {"identity_submit", a.identity_submit != nullptr},
        };
        for (const auto& [n, present] : slots)
            if (n == name) return present;
        return false;
    }

    static FakeHost& from(ch_host* h) { return *reinterpret_cast<FakeHost*>(h); }
    static detail::CallContext* context(ch_call* c) { return reinterpret_cast<detail::CallContext*>(c); }

    static void log(ch_host* h, ch_log_level level, ch_buffer message) {
        FakeHost& self = from(h);
        std::lock_guard lock(self.mutex_);
        self.logs_.push_back({level, std::string(detail::view(message))});
    }

    static int configGet(ch_host* h, ch_buffer key, ch_sink sink) {
        FakeHost& self = from(h);
        auto it = self.config_.find(std::string(detail::view(key)));
        if (it == self.config_.end()) return 0;
        sink.fn(sink.ctx, CH_OK, it->second.data(), it->second.size());
        return 1;
    }

    static thread_local inline std::string lastError_;

    static ch_buffer idempotencyKey(ch_call* call) {
        return call ? detail::buffer(context(call)->idempotencyKey) : ch_buffer{"", 0};
    }
    static ch_buffer traceParent(ch_call* call) {
        return call ? detail::buffer(context(call)->traceparent) : ch_buffer{"", 0};
    }
    static ch_buffer lastError(ch_host*) { return detail::buffer(lastError_); }

    static ch_status configLookup(ch_host* h, ch_buffer key, ch_sink sink) {
        FakeHost& self = from(h);
        if (!self.lookupFailure_.empty()) {
            lastError_ = self.lookupFailure_;
            sink.fn(sink.ctx, CH_ERR_UNAVAILABLE, lastError_.data(), lastError_.size());
            return CH_ERR_UNAVAILABLE;
        }
        lastError_.clear();
        auto it = self.config_.find(std::string(detail::view(key)));
        if (it == self.config_.end()) {
            lastError_ = "config key is not set";
            return CH_ERR_NOT_FOUND;
        }
        sink.fn(sink.ctx, CH_OK, it->second.data(), it->second.size());
        return CH_OK;
    }

    static ch_status kvLookup(ch_host* h, ch_buffer key, ch_sink sink) {
        FakeHost& self = from(h);
        if (!self.lookupFailure_.empty()) {
            lastError_ = self.lookupFailure_;
            sink.fn(sink.ctx, CH_ERR_UNAVAILABLE, lastError_.data(), lastError_.size());
            return CH_ERR_UNAVAILABLE;
        }
        lastError_.clear();
        std::string value;
        {
            std::lock_guard lock(self.mutex_);
            auto it = self.kv_.find(std::string(detail::view(key)));
            if (it == self.kv_.end()) {
                lastError_ = "no such key";
                return CH_ERR_NOT_FOUND;
            }
            value = it->second;
        }
        sink.fn(sink.ctx, CH_OK, value.data(), value.size());
        return CH_OK;
    }

    static uint32_t remainingMs(ch_call* call) {
        if (!call) return 0;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(context(call)->deadline -
                                                                          std::chrono::steady_clock::now());
        return left.count() > 0 ? static_cast<uint32_t>(left.count()) : 0;
    }

    static void caller(ch_call* call, ch_sink sink) {
        std::string json = call ? context(call)->callerJson : std::string("{}");
        sink.fn(sink.ctx, CH_OK, json.data(), json.size());
    }

    // ASCII case-insensitive: does headers ("Name: value\r\n" lines) have name?
    static bool hasHeader(std::string_view headers, std::string_view name) {
        for (std::size_t start = 0; start < headers.size();) {
            std::size_t end = headers.find('\n', start);
            if (end == std::string_view::npos) end = headers.size();
            std::string_view line = headers.substr(start, end - start);
            bool same = line.size() > name.size() && line[name.size()] == ':';
            for (std::size_t i = 0; same && i < name.size(); ++i)
                same = (line[i] | 0x20) == (name[i] | 0x20);
            if (same) return true;
            start = end + 1;
        }
        return false;
    }

    static void http(ch_host* h, ch_call* call, const ch_http_request* request, ch_http_sink sink) {
        FakeHost& self = from(h);
        HttpReply reply;
        if (!request) {
            reply = HttpReply::failure(CH_ERR_INVALID_ARGUMENT, "no request");
        } else {
            // Copy the prefix this host knows, as the hub does.
            ch_http_request req{};
            std::memcpy(&req, request, request->struct_size < sizeof req ? request->struct_size : sizeof req);
            HttpRequest r{std::string(detail::view(req.method)), std::string(detail::view(req.url)),
                          std::string(detail::view(req.headers)), std::string(detail::view(req.body)),
                          req.timeout_ms};
            // As the hub does, the call's trace goes on unless the plugin set one
            // (the hub with a new parent id; this fake as it is).
            if (call && !context(call)->traceparent.empty() && !hasHeader(r.headers, "traceparent")) {
                if (!r.headers.empty() && r.headers.back() != '\n') r.headers += "\r\n";
                r.headers += "traceparent: " + context(call)->traceparent + "\r\n";
            }
            {
                std::lock_guard lock(self.mutex_);
                self.requests_.push_back(r);
            }
            try {
                reply = self.http_(r);
            } catch (const std::exception& e) {
                reply = HttpReply::failure(CH_ERR_INTERNAL, std::string("fake HTTP handler threw: ") + e.what());
            }
        }
        ch_http_response response{};
        response.struct_size = sizeof response;
        if (reply.status == CH_OK) {
            response.status = reply.httpStatus;
            response.headers = detail::buffer(reply.headers);
            response.body = detail::buffer(reply.body);
        } else {
            response.body = detail::buffer(reply.detail);
        }
        sink.fn(sink.ctx, reply.status, &response);
    }

    static ch_status emitEvent(ch_host* h, ch_buffer event) {
        FakeHost& self = from(h);
        std::lock_guard lock(self.mutex_);
        self.events_.emplace_back(detail::view(event));
        return CH_OK;
    }

    static int kvGet(ch_host* h, ch_buffer key, ch_sink sink) {
        FakeHost& self = from(h);
        std::string value;
        {
            std::lock_guard lock(self.mutex_);
            auto it = self.kv_.find(std::string(detail::view(key)));
            if (it == self.kv_.end()) return 0;
            value = it->second;
        }
        sink.fn(sink.ctx, CH_OK, value.data(), value.size());
        return 1;
    }
    static ch_status kvPut(ch_host* h, ch_buffer key, ch_buffer value) {
        FakeHost& self = from(h);
        std::lock_guard lock(self.mutex_);
        self.kv_[std::string(detail::view(key))] = std::string(detail::view(value));
        return CH_OK;
    }
    static ch_status kvDelete(ch_host* h, ch_buffer key) {
        FakeHost& self = from(h);
        std::lock_guard lock(self.mutex_);
        self.kv_.erase(std::string(detail::view(key)));
        return CH_OK;
    }

    static void identitySubmit(ch_host* h, ch_call*, ch_buffer records, ch_sink sink) {
        FakeHost& self = from(h);
        std::string json(detail::view(records));
        {
            std::lock_guard lock(self.mutex_);
            self.submissions_.push_back(json);
        }
        Result r{CH_OK, R"({"applied":0,"unchanged":0,"unknown_persons":0,"conflict_count":0,"conflicts":[]})", 1};
        if (self.identity_) {
            try {
                r = self.identity_(json);
            } catch (const std::exception& e) {
                r = Result{CH_ERR_INTERNAL, std::string("fake identity handler threw: ") + e.what(), 1};
            }
        }
        sink.fn(sink.ctx, r.status, r.body.data(), r.body.size());
    }

    static void soap(ch_host* h, ch_call*, ch_buffer endpoint, ch_buffer action, ch_buffer envelope,
                     ch_sink sink) {
        FakeHost& self = from(h);
        Result r{CH_ERR_UNAVAILABLE, "no SOAP handler set in the fake host", 1};
        if (self.soap_) {
            try {
                r = self.soap_(std::string(detail::view(endpoint)), std::string(detail::view(action)),
                               std::string(detail::view(envelope)));
            } catch (const std::exception& e) {
                r = Result{CH_ERR_INTERNAL, std::string("fake SOAP handler threw: ") + e.what(), 1};
            }
        }
        sink.fn(sink.ctx, r.status, r.body.data(), r.body.size());
    }

    static void sql(ch_host* h, ch_call*, ch_buffer source, ch_buffer statement, ch_buffer params, ch_sink sink) {
        FakeHost& self = from(h);
        Result r{CH_ERR_UNAVAILABLE, R"({"detail":"no SQL handler set in the fake host","category":"unavailable"})", 1};
        if (self.sql_) {
            try {
                r = self.sql_(std::string(detail::view(source)), std::string(detail::view(statement)),
                              std::string(detail::view(params)));
            } catch (const std::exception& e) {
                r = Result{CH_ERR_INTERNAL, "{\"detail\":" + quote(std::string("fake SQL handler threw: ") + e.what()) +
                                                ",\"category\":\"bad_query\"}",
                           1};
            }
        }
        sink.fn(sink.ctx, r.status, r.body.data(), r.body.size());
    }

    ch_host_api api_{};
    std::map<std::string, std::string> config_;
    HttpHandler http_;
    std::function<Result(const std::string&, const std::string&, const std::string&)> sql_;
    std::function<Result(const std::string&, const std::string&, const std::string&)> soap_;
    std::chrono::milliseconds timeout_{5000};
    std::string callerJson_ = R"({"subject":"test-user","roles":[]})";
    std::string idempotencyKey_;
    std::string traceparent_;
    std::string lookupFailure_;
    std::function<Result(const std::string&)> identity_;

    mutable std::mutex mutex_;
    std::vector<LogLine> logs_;
    std::vector<HttpRequest> requests_;
    std::vector<std::string> events_;
    std::map<std::string, std::string> kv_;
    std::vector<std::string> submissions_;
};

inline Result FakePlugin::invoke(std::string_view operation, std::string_view input) const {
    detail::CallContext call{std::chrono::steady_clock::now() + host_->timeout_, host_->callerJson_,
                             host_->idempotencyKey_, host_->traceparent_};
    detail::Collector c;
    api_.invoke(instance_, reinterpret_cast<ch_call*>(&call), detail::buffer(operation), detail::buffer(input), c.sink());
    return c.result;
}

}  // namespace campushub::testing
