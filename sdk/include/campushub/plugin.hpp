// CampusHub plugin SDK — header-only C++ wrapper over campushub/plugin.h.
//
// A vendor writes one class and one export macro:
//
//   class Library : public campushub::Plugin {
//   public:
//       Library(campushub::Host& host, std::string_view config) : Plugin(host) {
//           operation("find_book", "Looks a book up by ISBN",
//                     [this](campushub::Call& call, std::string_view input) {
//                         return findBook(call, input);
//                     });
//       }
//   };
//   CAMPUSHUB_PLUGIN(Library, "library", "1.2.0")
//
// A plugin that cannot work without some host services names them, so an
// older hub refuses it with a clear reason instead of failing on first use:
//
//   CAMPUSHUB_PLUGIN_REQUIRES(Library, "library", "1.2.0", "http_request", "kv_lookup")
//
// Services of ABI 1.1 (Call::idempotencyKey, Host::config telling absent from
// failed, ...) fall back to their 1.0 behaviour on a 1.0 hub.
//
// Exceptions thrown by the plugin are caught at the ABI boundary and turned into
// status codes: throw campushub::Error (or a subclass) to choose the status;
// anything else becomes CH_ERR_INTERNAL with its what() text.
#pragma once

#include "campushub/plugin.h"

#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace campushub {

inline std::string_view view(ch_buffer b) noexcept { return {b.data, b.length}; }
inline ch_buffer buffer(std::string_view s) noexcept { return {s.data(), s.size()}; }

/// An error with the status the hub reports for it.
class Error : public std::runtime_error {
public:
    Error(ch_status status, const std::string& detail) : std::runtime_error(detail), status_(status) {}
    ch_status status() const noexcept { return status_; }

private:
    ch_status status_;
};

struct InvalidArgument : Error {
    explicit InvalidArgument(const std::string& d) : Error(CH_ERR_INVALID_ARGUMENT, d) {}
};
struct NotFound : Error {
    explicit NotFound(const std::string& d) : Error(CH_ERR_NOT_FOUND, d) {}
};
struct PermissionDenied : Error {
    explicit PermissionDenied(const std::string& d) : Error(CH_ERR_PERMISSION, d) {}
};
struct Conflict : Error {
    explicit Conflict(const std::string& d) : Error(CH_ERR_CONFLICT, d) {}
};
struct Unavailable : Error {
    explicit Unavailable(const std::string& d) : Error(CH_ERR_UNAVAILABLE, d) {}
};
struct Timeout : Error {
    explicit Timeout(const std::string& d) : Error(CH_ERR_TIMEOUT, d) {}
};

namespace detail {

/// A sink that copies the callee's answer into a status + string.
struct Captured {
    bool called = false;
    ch_status status = CH_ERR_INTERNAL;
    std::string data;

    ch_sink sink() noexcept { return {&Captured::write, this}; }
    static void write(void* ctx, ch_status status, const char* data, size_t length) {
        auto* self = static_cast<Captured*>(ctx);
        self->called = true;
        self->status = status;
        self->data.assign(data ? data : "", data ? length : 0);
    }
};

inline void appendJsonString(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xF];
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
}

}  // namespace detail

/// Quotes and escapes s as a JSON string.
inline std::string jsonString(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    detail::appendJsonString(out, s);
    return out;
}

/// The context of one invoke: its deadline, its caller, its idempotency key and
/// its trace context.
class Call {
public:
    Call(const ch_host_api* api, ch_call* call) noexcept : api_(api), call_(call) {}

    /// The call's idempotency key (ABI 1.1): the same for every retry of one
    /// logical request, empty when it has none (or on a 1.0 hub). Pass it on
    /// as the vendor's Idempotency-Key header, or de-duplicate with kvGet /
    /// kvPut (docs/sdk/README.md, "Retries and idempotency").
    std::string_view idempotencyKey() const noexcept {
        if (!CH_HOST_HAS(api_, call_idempotency_key)) return {};
        return view(api_->call_idempotency_key(call_));
    }

    /// The call's W3C traceparent (ABI 1.1), empty when it has none. The hub's
    /// HTTP and SOAP services send it on by themselves.
    std::string_view traceParent() const noexcept {
        if (!CH_HOST_HAS(api_, call_trace_parent)) return {};
        return view(api_->call_trace_parent(call_));
    }

    /// Time left before the hub gives up on this call.
    std::chrono::milliseconds remaining() const {
        if (!api_->call_remaining_ms) return std::chrono::milliseconds::max();
        return std::chrono::milliseconds(api_->call_remaining_ms(call_));
    }

    /// The caller as JSON: {"subject": "...", "roles": [...], "acting_for": "..."}.
    std::string callerJson() const {
        if (!api_->call_caller) return "{}";
        detail::Captured c;
        api_->call_caller(call_, c.sink());
        return c.called && c.status == CH_OK ? c.data : std::string("{}");
    }

    ch_call* handle() const noexcept { return call_; }

private:
    const ch_host_api* api_;
    ch_call* call_;
};

/// An HTTP response received through the hub.
struct HttpResponse {
    int status = 0;
    std::string headers;  ///< "Name: value\r\n" lines
    std::string body;
};

/// The services the hub offers this plugin instance.
class Host {
public:
    Host(const ch_host_api* api, ch_host* host) noexcept : api_(api), host_(host) {}

    void log(ch_log_level level, std::string_view message) const noexcept {
        api_->log(host_, level, buffer(message));
    }
    void error(std::string_view m) const noexcept { log(CH_LOG_ERROR, m); }
    void warning(std::string_view m) const noexcept { log(CH_LOG_WARNING, m); }
    void info(std::string_view m) const noexcept { log(CH_LOG_INFO, m); }
    void debug(std::string_view m) const noexcept { log(CH_LOG_DEBUG, m); }

    /// A value of this plugin's config section; nullopt when the key is not set.
    /// Throws Error when the lookup itself failed (ABI 1.1 hubs tell the two
    /// apart; a 1.0 hub reports either as not set).
    std::optional<std::string> config(std::string_view key) const {
        detail::Captured c;
        if (CH_HOST_HAS(api_, config_lookup)) {
            ch_status s = api_->config_lookup(host_, buffer(key), c.sink());
            if (s == CH_ERR_NOT_FOUND) return std::nullopt;
            if (s != CH_OK) throw Error(s, c.called ? c.data : "config lookup failed");
            return std::move(c.data);
        }
        if (!api_->config_get(host_, buffer(key), c.sink()) || !c.called) return std::nullopt;
        return std::move(c.data);
    }

    /// Why the last host service this thread called failed (ABI 1.1), for the
    /// log; empty when it succeeded or the hub is 1.0.
    std::string lastError() const {
        if (!CH_HOST_HAS(api_, last_error)) return {};
        return std::string(view(api_->last_error(host_)));
    }

    /// Performs an HTTP request through the hub. Throws Unavailable or Timeout when
    /// no response arrives; any HTTP status is returned, not thrown.
    HttpResponse http(const Call* call, std::string_view method, std::string_view url,
                      std::string_view body = {}, std::string_view headers = {},
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) const {
        if (!api_->http_request) throw Unavailable("the hub offers no HTTP service");
        ch_http_request request{};
        request.struct_size = sizeof request;
        request.method = buffer(method);
        request.url = buffer(url);
        request.headers = buffer(headers);
        request.body = buffer(body);
        request.timeout_ms = static_cast<uint32_t>(timeout.count());
        struct Result {
            ch_status status = CH_ERR_INTERNAL;
            HttpResponse response;
            std::string detail;
        } result;
        ch_http_sink sink{[](void* ctx, ch_status status, const ch_http_response* r) {
                              auto* out = static_cast<Result*>(ctx);
                              out->status = status;
                              if (status == CH_OK && r) {
                                  out->response.status = r->status;
                                  out->response.headers.assign(r->headers.data, r->headers.length);
                                  out->response.body.assign(r->body.data, r->body.length);
                              } else if (r) {
                                  out->detail.assign(r->body.data, r->body.length);
                              }
                          },
                          &result};
        api_->http_request(host_, call ? call->handle() : nullptr, &request, sink);
        if (result.status != CH_OK)
            throw Error(result.status, result.detail.empty() ? "HTTP request failed" : result.detail);
        return std::move(result.response);
    }

    /// Emits an event through the hub's outbox. Returns false when the hub lacks the
    /// service or refused the event (lastError() says why).
    bool emitEvent(std::string_view eventJson) const noexcept {
        return api_->emit_event && api_->emit_event(host_, buffer(eventJson)) == CH_OK;
    }

    /// Durable key-value state private to this plugin. nullopt when the key does
    /// not exist; throws Error when the store failed (ABI 1.1 hubs tell the two
    /// apart; a 1.0 hub reports a failure as absent).
    std::optional<std::string> kvGet(std::string_view key) const {
        detail::Captured c;
        if (CH_HOST_HAS(api_, kv_lookup)) {
            ch_status s = api_->kv_lookup(host_, buffer(key), c.sink());
            if (s == CH_ERR_NOT_FOUND) return std::nullopt;
            if (s != CH_OK) throw Error(s, c.called ? c.data : "kv_get failed");
            return std::move(c.data);
        }
        if (!api_->kv_get) throw Unavailable("the hub offers no key-value state");
        if (!api_->kv_get(host_, buffer(key), c.sink()) || !c.called) return std::nullopt;
        return std::move(c.data);
    }
    void kvPut(std::string_view key, std::string_view value) const {
        if (!api_->kv_put) throw Unavailable("the hub offers no key-value state");
        if (ch_status s = api_->kv_put(host_, buffer(key), buffer(value)); s != CH_OK)
            throw Error(s, failure("kv_put failed"));
    }

    void kvDelete(std::string_view key) const {
        if (!api_->kv_delete) throw Unavailable("the hub offers no key-value state");
        if (ch_status s = api_->kv_delete(host_, buffer(key)); s != CH_OK) throw Error(s, failure("kv_delete failed"));
    }

    /// Sends a SOAP envelope through the hub (1.1 or 1.2, from its namespace) and
    /// returns the response envelope. A SOAP Fault or transport failure throws
    /// Error with the status the hub chose and its detail.
    std::string soapCall(const Call* call, std::string_view endpoint, std::string_view action,
                         std::string_view envelope) const {
        if (!api_->soap_call) throw Unavailable("the hub offers no SOAP service");
        detail::Captured c;
        api_->soap_call(host_, call ? call->handle() : nullptr, buffer(endpoint), buffer(action), buffer(envelope),
                        c.sink());
        if (!c.called) throw Error(CH_ERR_INTERNAL, "the hub gave no SOAP answer");
        if (c.status != CH_OK) throw Error(c.status, c.data);
        return std::move(c.data);
    }

    /// Runs one SQL statement on a data source IT configured for this plugin
    /// (ABI 1.2's sql_query) with paramsJson bound as $1..$n (a JSON array; empty:
    /// none), and returns {"columns":[...],"rows":[{...}],"affected":N}. A failure
    /// throws Error with the hub's status; its what() is the hub's JSON
    /// {"detail","category","sqlstate"} (category: invalid_request, unavailable,
    /// timeout, permission, bad_query, bad_answer). A hub without the service
    /// throws Unavailable.
    std::string sqlQuery(const Call* call, std::string_view source, std::string_view sql,
                         std::string_view paramsJson = {}) const {
        if (!CH_HOST_HAS(api_, sql_query))
            throw Unavailable(R"({"detail":"the hub offers no SQL service","category":"unavailable"})");
        detail::Captured c;
        api_->sql_query(host_, call ? call->handle() : nullptr, buffer(source), buffer(sql), buffer(paramsJson),
                        c.sink());
        if (!c.called) throw Error(CH_ERR_INTERNAL, R"({"detail":"the hub gave no SQL answer","category":"bad_answer"})");
        if (c.status != CH_OK) throw Error(c.status, c.data);
        return std::move(c.data);
    }

    /// Hands person records to the hub's identity store (ABI 1.2): the fields the
    /// manifest owns (<owns><data>identity.person.FIELD</data>) are applied, a
    /// field another source owns is reported as a conflict, never written.
    /// records_json: {"records": [{"id": "...", "fields": {"FIELD": "value"}}]},
    /// at most 1000 records. Returns the hub's summary ({"applied", "unchanged",
    /// "unknown_persons", "conflict_count", "conflicts"}); throws Error with the
    /// hub's status and reason (Unavailable on a hub without the service).
    std::string identitySubmit(const Call* call, std::string_view recordsJson) const {
        if (!CH_HOST_HAS(api_, identity_submit)) throw Unavailable("the hub offers no identity_submit (ABI 1.2)");
        detail::Captured c;
        api_->identity_submit(host_, call ? call->handle() : nullptr, buffer(recordsJson), c.sink());
        if (!c.called) throw Error(CH_ERR_INTERNAL, "the hub gave no identity_submit answer");
        if (c.status != CH_OK) throw Error(c.status, c.data);
        return std::move(c.data);
    }

    const ch_host_api* api() const noexcept { return api_; }
    ch_host* handle() const noexcept { return host_; }

private:
    std::string failure(const char* what) const {
        std::string why = lastError();
        return why.empty() ? std::string(what) : std::string(what) + ": " + why;
    }

    const ch_host_api* api_;
    ch_host* host_;
};

/// Base class of a plugin. Register operations in the constructor.
class Plugin {
public:
    /// Takes the call and the input JSON, returns the result JSON or throws Error.
    using Operation = std::function<std::string(Call&, std::string_view input)>;

    virtual ~Plugin() = default;
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    /// {"status": "up"|"degraded"|"down", "detail": "..."}. Override to probe the
    /// vendor system; keep it cheap, it is called periodically.
    virtual std::string health() { return R"({"status":"up"})"; }

    /// Receives a subscribed CloudEvent. Return to accept it; throw to refuse
    /// it, and the hub offers it again later, with backoff, before any later
    /// event, and after several refusals moves it to its dead letters (durable,
    /// at least once: docs/sdk/abi-reference.md, "on_event"). An event may come
    /// twice: skip one whose "id" was already handled.
    virtual void onEvent(std::string_view /*eventJson*/) {}

    Host& host() noexcept { return host_; }

protected:
    explicit Plugin(Host& host) : host_(host) {}

    /// Registers an operation. Only from the constructor.
    void operation(std::string name, std::string description, Operation fn) {
        operations_.insert_or_assign(std::move(name), Entry{std::move(description), std::move(fn)});
    }

private:
    struct Entry {
        std::string description;
        Operation fn;
    };
    template <class P>
    friend struct Bridge;

    Host& host_;
    std::map<std::string, Entry, std::less<>> operations_;
};

/// The C trampolines for plugin class P. Everything the ABI calls goes through
/// here; no exception escapes.
template <class P>
struct Bridge {
    struct Instance {
        Host host;
        std::unique_ptr<P> plugin;
    };

    static inline const char* name = "";
    static inline const char* version = "";

    static void answer(ch_sink sink, ch_status status, std::string_view data) noexcept {
        sink.fn(sink.ctx, status, data.data(), data.size());
    }

    static void answerError(ch_sink sink) noexcept {
        try {
            throw;
        } catch (const Error& e) {
            answer(sink, e.status(), e.what());
        } catch (const std::exception& e) {
            answer(sink, CH_ERR_INTERNAL, e.what());
        } catch (...) {
            answer(sink, CH_ERR_INTERNAL, "unknown exception");
        }
    }

    static ch_status create(const ch_host_api* api, ch_host* hostHandle, ch_buffer config,
                            ch_plugin** out, ch_sink error) noexcept {
        try {
            auto instance = std::make_unique<Instance>(Instance{Host(api, hostHandle), nullptr});
            instance->plugin = std::make_unique<P>(instance->host, view(config));
            *out = reinterpret_cast<ch_plugin*>(instance.release());
            return CH_OK;
        } catch (const Error& e) {
            answer(error, e.status(), e.what());
            return e.status();
        } catch (...) {
            answerError(error);
            return CH_ERR_INTERNAL;
        }
    }

    static Instance* self(ch_plugin* p) noexcept { return reinterpret_cast<Instance*>(p); }

    static void destroy(ch_plugin* p) noexcept {
        try {
            delete self(p);
        } catch (...) {
        }
    }

    static void describe(ch_plugin* p, ch_sink sink) noexcept {
        try {
            std::string out = "{\"name\":";
            detail::appendJsonString(out, name);
            out += ",\"version\":";
            detail::appendJsonString(out, version);
            out += ",\"operations\":[";
            bool first = true;
            for (const auto& [opName, entry] : self(p)->plugin->operations_) {
                if (!first) out += ',';
                first = false;
                out += "{\"name\":";
                detail::appendJsonString(out, opName);
                out += ",\"description\":";
                detail::appendJsonString(out, entry.description);
                out += '}';
            }
            out += "]}";
            answer(sink, CH_OK, out);
        } catch (...) {
            answerError(sink);
        }
    }

    static void invoke(ch_plugin* p, ch_call* callHandle, ch_buffer operation, ch_buffer input,
                       ch_sink sink) noexcept {
        try {
            Instance* instance = self(p);
            auto& ops = instance->plugin->operations_;
            auto it = ops.find(view(operation));
            if (it == ops.end()) {
                answer(sink, CH_ERR_UNKNOWN_OPERATION,
                       "unknown operation: " + std::string(view(operation)));
                return;
            }
            Call call(instance->host.api(), callHandle);
            std::string result = it->second.fn(call, view(input));
            answer(sink, CH_OK, result);
        } catch (...) {
            answerError(sink);
        }
    }

    static void health(ch_plugin* p, ch_sink sink) noexcept {
        try {
            answer(sink, CH_OK, self(p)->plugin->health());
        } catch (...) {
            answerError(sink);
        }
    }

    static void onEvent(ch_plugin* p, ch_buffer event, ch_sink sink) noexcept {
        try {
            self(p)->plugin->onEvent(view(event));
            answer(sink, CH_OK, "{}");
        } catch (...) {
            answerError(sink);
        }
    }

    /// required: NULL or a static NULL-terminated list of host service names
    /// (ch_plugin_api::required_services).
    static const ch_plugin_api* table(const char* pluginName, const char* pluginVersion,
                                      const char* const* required = nullptr) noexcept {
        name = pluginName;
        version = pluginVersion;
        static const ch_plugin_api api = {
            sizeof(ch_plugin_api), CH_ABI_VERSION_MAJOR, CH_ABI_VERSION_MINOR,
            &create, &destroy, &describe, &invoke, &health, &onEvent,
            required,
        };
        return &api;
    }
};

}  // namespace campushub

/// Exports the plugin class. Use once per library, at namespace scope.
#define CAMPUSHUB_PLUGIN(PluginClass, pluginName, pluginVersion)                                 \
    extern "C" CH_EXPORT const ch_plugin_api* campushub_plugin_entry(void) {                     \
        return ::campushub::Bridge<PluginClass>::table(pluginName, pluginVersion);               \
    }

/// CAMPUSHUB_PLUGIN, naming the ch_host_api members the plugin cannot work
/// without (string literals, e.g. "http_request", "kv_lookup"): a hub that
/// lacks one refuses the plugin with that name as the reason.
#define CAMPUSHUB_PLUGIN_REQUIRES(PluginClass, pluginName, pluginVersion, ...)                    \
    extern "C" CH_EXPORT const ch_plugin_api* campushub_plugin_entry(void) {                     \
        static const char* const required[] = {__VA_ARGS__, nullptr};                            \
        return ::campushub::Bridge<PluginClass>::table(pluginName, pluginVersion, required);     \
    }
