// The host services a plugin calls through its ch_host_api: log, config_get,
// the call's deadline and caller, http_request, emit_event, kv_* and soap_call;
// since ABI 1.1 the call's idempotency key and trace context, config_lookup,
// kv_lookup and last_error (sql_query is in SqlService.cpp).
// Each is noexcept and catches everything: an exception must not unwind through
// the plugin's C frames (undefined behaviour), and one that reached the noexcept
// boundary would end hubd. On an event loop's fiber (execution "loop") the
// SQLite work of kv_* and emit_event runs on the host's offload workers while
// the fiber is parked (offLoop).
#include "HostServices.h"
#include "OffLoop.h"

#include "hub/common/Exceptions.h"
#include "hub/common/JsonWriter.h"
#include "hub/common/Utf8.h"
#include "hub/runtime/WorkerPool.h"
#include "hub/http/Client.h"
#include "hub/runtime/Loop.h"
#include "hub/soap/Client.h"
#include "hub/store/Database.h"

#include <Poco/Data/LOB.h>
#include <Poco/Data/Session.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>

#include <cctype>
#include <cstring>
#include <ctime>
#include <exception>
#include <optional>
#include <semaphore>
#include <sstream>

namespace hub::host {

namespace {

// last_error's text: per thread, as a service answers on the plugin's thread
// (a fiber of a loop reads it before it can be parked again).
thread_local std::string lastError;

void clearError() noexcept {
    lastError.clear();  // keeps its capacity: no allocation on the way through
}

// Sets last_error's text; returns status, for `return failed(...)`.
ch_status failed(ch_status status, std::string_view why) noexcept {
    try {
        lastError.assign(why);
    } catch (...) {
        lastError.clear();
    }
    return status;
}

// Logs a host service's failure (inside a catch block) under the plugin's
// logger and keeps it for last_error; a log that fails in turn is dropped.
void logServiceError(ch_host* host, const char* what) noexcept {
    try {
        std::string text = std::string(what) + ": " + currentExceptionText();
        failed(CH_ERR_INTERNAL, text);
        if (host && host->services.logger) host->services.logger->error(text);
    } catch (...) {
    }
}

// Writes a plain message to a plugin's sink (C: does not throw).
void answerText(ch_sink sink, ch_status status, std::string_view text) noexcept {
    sink.fn(sink.ctx, status, text.data(), text.size());
}

void hostLog(ch_host* host, ch_log_level level, ch_buffer message) noexcept {
    try {
        if (!host || !host->services.logger) return;
        Poco::Logger& log = *host->services.logger;
        std::string text(view(message).substr(0, 8192));
        switch (level) {
            case CH_LOG_ERROR:
                log.error(text);
                break;
            case CH_LOG_WARNING:
                log.warning(text);
                break;
            case CH_LOG_INFO:
                log.information(text);
                break;
            default:
                log.debug(text);
                break;
        }
    } catch (...) {
        // The log channel failed (a full disk, a channel that refuses the bytes):
        // a plugin's log line is not worth failing its call for.
    }
}

// config_lookup; config_get (1.0) is it with absent and failed both 0.
ch_status hostConfigLookup(ch_host* host, ch_buffer key, ch_sink sink) noexcept {
    clearError();
    if (!host) return failed(CH_ERR_INVALID_ARGUMENT, "no host handle");
    const std::string* value = host->services.config.find(view(key));
    if (!value) return failed(CH_ERR_NOT_FOUND, "config key '" + std::string(view(key).substr(0, 256)) + "' is not set");
    sink.fn(sink.ctx, CH_OK, value->data(), value->size());
    return CH_OK;
}

int hostConfigGet(ch_host* host, ch_buffer key, ch_sink sink) noexcept {
    return hostConfigLookup(host, key, sink) == CH_OK ? 1 : 0;
}

ch_buffer callIdempotencyKey(ch_call* call) noexcept {
    if (!call || !call->context) return {"", 0};
    return buffer(call->context->idempotencyKey);
}

ch_buffer callTraceParent(ch_call* call) noexcept {
    if (!call || !call->context) return {"", 0};
    return buffer(call->context->traceparent);
}

ch_buffer hostLastError(ch_host*) noexcept {
    return buffer(lastError);
}

// True when headers ("Name: value\r\n" lines) already have a line named name
// (ASCII case-insensitive).
bool hasHeader(std::string_view headers, std::string_view name) {
    std::size_t start = 0;
    while (start < headers.size()) {
        std::size_t end = headers.find('\n', start);
        if (end == std::string_view::npos) end = headers.size();
        std::string_view line = headers.substr(start, end - start);
        if (line.size() > name.size() && line[name.size()] == ':') {
            bool same = true;
            for (std::size_t i = 0; i < name.size() && same; ++i)
                same = std::tolower(static_cast<unsigned char>(line[i])) == name[i];
            if (same) return true;
        }
        start = end + 1;
    }
    return false;
}

// The headers an outbound request of call carries besides the plugin's own:
// the call's trace context, with a new parent id, unless the plugin set one.
std::string traceHeader(ch_call* call, std::string_view pluginHeaders) {
    if (!call || !call->context || call->context->traceparent.empty() || hasHeader(pluginHeaders, "traceparent"))
        return {};
    return "traceparent: " + childTraceparent(call->context->traceparent) + "\r\n";
}

uint32_t callRemainingMs(ch_call* call) noexcept {
    if (!call) return 0;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(call->deadline - Clock::now());
    return left.count() > 0 ? static_cast<uint32_t>(left.count()) : 0;
}

void callCaller(ch_call* call, ch_sink sink) noexcept {
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
        sink.fn(sink.ctx, CH_ERR_INTERNAL, "", 0);  // the plugin's sink: C, does not throw
    }
}

void hostHttpRequest(ch_host* host, ch_call* call, const ch_http_request* request, ch_http_sink sink) noexcept {
    auto answerError = [&](ch_status status, std::string_view message) noexcept {
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
        std::string trace = traceHeader(call, view(req.headers));
        std::string withTrace;
        std::string_view headers = view(req.headers);
        if (!trace.empty()) {
            withTrace.append(headers);
            if (!withTrace.empty() && withTrace.back() != '\n') withTrace += "\r\n";
            headers = withTrace.append(trace);
        }
        http::Response response =
            host->services.http->request(view(req.method), view(req.url), headers, view(req.body), timeout);
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

// ---- emit_event ----

ch_status hostEmitEvent(ch_host* host, ch_buffer eventJson) noexcept {
    clearError();
    try {
        if (!host || !host->services.emitEvent) return failed(CH_ERR_UNAVAILABLE, "this hub has no outbox for events");
        std::string_view json = view(eventJson);
        if (std::string problem = checkEvent(json); !problem.empty()) {
            if (host->services.logger) host->services.logger->warning("event refused: %s", problem);
            return failed(CH_ERR_INVALID_ARGUMENT, "event refused: " + problem);
        }
        int rc = offLoop(host->services, [&] { return host->services.emitEvent(host->name, json); });
        if (rc == CH_OK) return CH_OK;
        return failed(rc > CH_OK && rc <= CH_ERR_INTERNAL ? static_cast<ch_status>(rc) : CH_ERR_INTERNAL,
                      "the outbox did not take the event (status " + std::to_string(rc) + ")");
    } catch (...) {
        logServiceError(host, "event not emitted");
        return CH_ERR_INTERNAL;
    }
}

// ---- kv_get / kv_put / kv_delete ----

bool validKey(std::string_view key) {
    return !key.empty() && key.size() <= kMaxKvKeyBytes && hub::isValidUtf8(key);
}

const char* const kBadKey = "a key must be 1 to 256 bytes of UTF-8";

// kv_lookup; kv_get (1.0) is it with absent and failed both 0.
ch_status hostKvLookup(ch_host* host, ch_buffer key, ch_sink sink) noexcept {
    using namespace Poco::Data::Keywords;
    clearError();
    try {
        if (!host || !host->services.database) return failed(CH_ERR_UNAVAILABLE, "this hub keeps no key-value state");
        if (!validKey(view(key))) return failed(CH_ERR_INVALID_ARGUMENT, kBadKey);
        std::string k(view(key));
        std::vector<Poco::Data::BLOB> values = offLoop(host->services, [&] {
            std::vector<Poco::Data::BLOB> found;
            Poco::Data::Session session = host->services.database->session();
            session << store::sql(session, "SELECT value FROM host_plugin_kv WHERE plugin = ? AND key = ?"), use(host->name), use(k),
                into(found), now;
            return found;
        });
        if (values.empty()) return failed(CH_ERR_NOT_FOUND, "no such key");
        const auto& v = values.front();
        sink.fn(sink.ctx, CH_OK, v.rawContent() ? reinterpret_cast<const char*>(v.rawContent()) : "", v.size());
        return CH_OK;
    } catch (...) {
        logServiceError(host, "kv_get failed");
        return CH_ERR_UNAVAILABLE;
    }
}

ch_status hostKvLookupAnswering(ch_host* host, ch_buffer key, ch_sink sink) noexcept {
    ch_status status = hostKvLookup(host, key, sink);
    if (status != CH_OK && status != CH_ERR_NOT_FOUND) answerText(sink, status, lastError);
    return status;
}

ch_status hostConfigLookupAnswering(ch_host* host, ch_buffer key, ch_sink sink) noexcept {
    ch_status status = hostConfigLookup(host, key, sink);
    if (status != CH_OK && status != CH_ERR_NOT_FOUND) answerText(sink, status, lastError);
    return status;
}

int hostKvGet(ch_host* host, ch_buffer key, ch_sink sink) noexcept {
    return hostKvLookup(host, key, sink) == CH_OK ? 1 : 0;
}

ch_status hostKvPut(ch_host* host, ch_buffer key, ch_buffer value) noexcept {
    using namespace Poco::Data::Keywords;
    clearError();
    try {
        if (!host || !host->services.database) return failed(CH_ERR_UNAVAILABLE, "this hub keeps no key-value state");
        if (!validKey(view(key))) return failed(CH_ERR_INVALID_ARGUMENT, kBadKey);
        std::string_view v = view(value);
        if (v.size() > kMaxKvValueBytes)
            return failed(CH_ERR_INVALID_ARGUMENT, "a value is at most " + std::to_string(kMaxKvValueBytes) + " bytes");
        std::string k(view(key));
        Poco::Data::BLOB blob(reinterpret_cast<const unsigned char*>(v.data()), v.size());
        Poco::Int64 updated = static_cast<Poco::Int64>(std::time(nullptr)) * 1000;
        offLoop(host->services, [&] {
            Poco::Data::Session session = host->services.database->session();
            // One statement: a concurrent put of the same key cannot fail on the key.
            session
                << store::sql(session,
                              "INSERT INTO host_plugin_kv(plugin, key, value, updated_at) VALUES (?, ?, ?, ?) "
                              "ON CONFLICT(plugin, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"),
                use(host->name), use(k), use(blob), use(updated), now;
            return 0;
        });
        return CH_OK;
    } catch (const std::exception&) {
        logServiceError(host, "kv_put failed");
        return CH_ERR_UNAVAILABLE;
    } catch (...) {
        logServiceError(host, "kv_put failed");
        return CH_ERR_INTERNAL;
    }
}

ch_status hostKvDelete(ch_host* host, ch_buffer key) noexcept {
    using namespace Poco::Data::Keywords;
    clearError();
    try {
        if (!host || !host->services.database) return failed(CH_ERR_UNAVAILABLE, "this hub keeps no key-value state");
        if (!validKey(view(key))) return failed(CH_ERR_INVALID_ARGUMENT, kBadKey);
        std::string k(view(key));
        offLoop(host->services, [&] {
            Poco::Data::Session session = host->services.database->session();
            session << store::sql(session, "DELETE FROM host_plugin_kv WHERE plugin = ? AND key = ?"), use(host->name), use(k), now;
            return 0;
        });
        return CH_OK;  // deleting what is not there is not an error
    } catch (const std::exception&) {
        logServiceError(host, "kv_delete failed");
        return CH_ERR_UNAVAILABLE;
    } catch (...) {
        logServiceError(host, "kv_delete failed");
        return CH_ERR_INTERNAL;
    }
}

// ---- soap_call ----

// {"detail": "..."}: a service's error answer.
std::string problem(const std::string& detail) {
    Poco::JSON::Object o;
    o.set("detail", detail);
    std::ostringstream s;
    o.stringify(s);
    return s.str();
}

// May throw while building an error answer (out of memory); hostSoapCall catches that.
void soapCall(ch_host* host, ch_call* call, ch_buffer endpoint, ch_buffer action, ch_buffer envelope, ch_sink sink) {
    auto answer = [&](ch_status status, const std::string& data) noexcept {
        sink.fn(sink.ctx, status, data.data(), data.size());
    };
    try {
        if (!host || !host->services.soap) return answer(CH_ERR_UNAVAILABLE, problem("no SOAP service"));
        std::chrono::milliseconds timeout(30000);
        if (call) {
            timeout = std::chrono::milliseconds(callRemainingMs(call));
            if (timeout.count() == 0) return answer(CH_ERR_TIMEOUT, problem("the call's deadline has passed"));
        }
        soap::Response r =
            host->services.soap->call(view(endpoint), view(action), view(envelope), timeout, traceHeader(call, {}));
        answer(CH_OK, r.envelope);
    } catch (const soap::CallError& e) {
        ch_status status = CH_ERR_UNAVAILABLE;
        switch (e.failure()) {
            case soap::Failure::InvalidRequest:
                status = CH_ERR_INVALID_ARGUMENT;
                break;
            case soap::Failure::Timeout:
                status = CH_ERR_TIMEOUT;
                break;
            // A fault that blames the request is the caller's to fix; the vendor system is fine.
            case soap::Failure::Fault:
                status = e.fault().sender ? CH_ERR_INVALID_ARGUMENT : CH_ERR_UNAVAILABLE;
                break;
            default:
                status = CH_ERR_UNAVAILABLE;
                break;
        }
        Poco::JSON::Object o;
        o.set("detail", std::string(e.what()));
        if (e.failure() == soap::Failure::Fault) {
            Poco::JSON::Object f;
            f.set("code", e.fault().code);
            f.set("reason", e.fault().reason);
            f.set("detail", e.fault().detail);
            o.set("fault", f);
        }
        if (e.httpStatus()) o.set("http_status", e.httpStatus());
        std::ostringstream s;
        o.stringify(s);
        answer(status, s.str());
    } catch (const std::exception& e) {
        answer(CH_ERR_INTERNAL, problem(e.what()));
    } catch (...) {
        answer(CH_ERR_INTERNAL, problem(currentExceptionText()));
    }
}

void hostSoapCall(ch_host* host, ch_call* call, ch_buffer endpoint, ch_buffer action, ch_buffer envelope,
                  ch_sink sink) noexcept {
    try {
        soapCall(host, call, endpoint, action, envelope, sink);
    } catch (...) {
        static constexpr std::string_view kFailed = R"({"detail":"unexpected failure in the SOAP service"})";
        sink.fn(sink.ctx, CH_ERR_INTERNAL, kFailed.data(), kFailed.size());
    }
}

// ---- identity_submit (1.2) ----

void identitySubmit(ch_host* host, ch_buffer records, ch_sink sink) {
    auto answer = [&](ch_status status, const std::string& text) { sink.fn(sink.ctx, status, text.data(), text.size()); };
    if (!host || !host->services.submitIdentity)
        return answer(CH_ERR_UNAVAILABLE, problem("this hub has no identity store for plugins"));
    if (host->services.ownedPersonFields.empty())
        return answer(CH_ERR_PERMISSION, problem("the plugin's manifest owns no identity.person field "
                                                 "(<owns><data>identity.person.FIELD</data>)"));
    std::string_view json = view(records);
    if (json.size() > kMaxIdentitySubmitBytes)
        return answer(CH_ERR_INVALID_ARGUMENT, problem("records of " + std::to_string(json.size()) +
                                                       " bytes exceed the limit of " +
                                                       std::to_string(kMaxIdentitySubmitBytes)));
    if (!hub::isValidUtf8(json)) return answer(CH_ERR_INVALID_ARGUMENT, problem("records are not valid UTF-8"));
    std::string result;
    int rc = offLoop(host->services, [&] {
        return host->services.submitIdentity(host->name, host->services.ownedPersonFields, json, result);
    });
    ch_status status = rc >= CH_OK && rc <= CH_ERR_INTERNAL ? static_cast<ch_status>(rc) : CH_ERR_INTERNAL;
    answer(status, status == CH_OK ? result : problem(result));
}

void hostIdentitySubmit(ch_host* host, ch_call*, ch_buffer records, ch_sink sink) noexcept {
    try {
        identitySubmit(host, records, sink);
    } catch (...) {
        logServiceError(host, "identity records not taken");
        static constexpr std::string_view kFailed = R"({"detail":"unexpected failure in the identity service"})";
        sink.fn(sink.ctx, CH_ERR_INTERNAL, kFailed.data(), kFailed.size());
    }
}

}  // namespace

ch_host_api hostApiFor(const PluginServices& services) {
    ch_host_api api{};
    api.struct_size = sizeof api;
    api.abi_major = CH_ABI_VERSION_MAJOR;
    api.abi_minor = CH_ABI_VERSION_MINOR;
    api.log = &hostLog;
    api.config_get = &hostConfigGet;
    api.call_remaining_ms = &callRemainingMs;
    api.call_caller = &callCaller;
    api.http_request = &hostHttpRequest;
    if (services.emitEvent) api.emit_event = &hostEmitEvent;
    if (services.database) {
        api.kv_get = &hostKvGet;
        api.kv_put = &hostKvPut;
        api.kv_delete = &hostKvDelete;
    }
    if (services.soap) api.soap_call = &hostSoapCall;
    // 1.1
    api.call_idempotency_key = &callIdempotencyKey;
    api.call_trace_parent = &callTraceParent;
    api.config_lookup = &hostConfigLookupAnswering;
    if (services.database) api.kv_lookup = &hostKvLookupAnswering;
    api.last_error = &hostLastError;
    // 1.2
    if (services.sql) api.sql_query = &hostSqlQuery;
    if (services.submitIdentity && !services.ownedPersonFields.empty()) api.identity_submit = &hostIdentitySubmit;
    return api;
}

namespace {

struct ServiceSlot {
    std::string_view name;
    std::size_t offset;
};

#define HUB_SERVICE_SLOT(member) ServiceSlot{#member, offsetof(ch_host_api, member)}
// Every member of ch_host_api a plugin may name, in table order.
constexpr ServiceSlot kServiceSlots[] = {
    HUB_SERVICE_SLOT(log),          HUB_SERVICE_SLOT(config_get),
    HUB_SERVICE_SLOT(call_remaining_ms), HUB_SERVICE_SLOT(call_caller),
    HUB_SERVICE_SLOT(http_request), HUB_SERVICE_SLOT(emit_event),
    HUB_SERVICE_SLOT(kv_get),       HUB_SERVICE_SLOT(kv_put),
    HUB_SERVICE_SLOT(kv_delete),    HUB_SERVICE_SLOT(soap_call),
    HUB_SERVICE_SLOT(call_idempotency_key), HUB_SERVICE_SLOT(call_trace_parent),
    HUB_SERVICE_SLOT(config_lookup), HUB_SERVICE_SLOT(kv_lookup),
    HUB_SERVICE_SLOT(last_error),   HUB_SERVICE_SLOT(sql_query),
    HUB_SERVICE_SLOT(identity_submit),
};
#undef HUB_SERVICE_SLOT

// A plugin's list is its own static data; bounded anyway, so a table that is
// not NULL-terminated fails the load instead of running off into memory.
constexpr std::size_t kMaxRequiredServices = 64;
constexpr std::size_t kMaxServiceName = 64;

}  // namespace

std::string missingService(const ch_host_api& api, const char* const* required) {
    if (!required) return {};
    for (std::size_t i = 0;; ++i) {
        if (i == kMaxRequiredServices)
            return "required_services names more than " + std::to_string(kMaxRequiredServices) +
                   " services (is it NULL-terminated?)";
        const char* name = required[i];
        if (!name) return {};
        std::string_view wanted(name, ::strnlen(name, kMaxServiceName + 1));
        if (wanted.size() > kMaxServiceName) return "required_services holds a name longer than 64 bytes";
        const ServiceSlot* slot = nullptr;
        for (const auto& s : kServiceSlots)
            if (s.name == wanted) slot = &s;
        if (!slot)
            return "it requires host service '" + std::string(wanted) + "', which this hub does not have";
        void* fn = nullptr;  // every member is a function pointer, of the same size
        static_assert(sizeof fn == sizeof api.log);
        std::memcpy(&fn, reinterpret_cast<const char*>(&api) + slot->offset, sizeof fn);
        if (slot->offset + sizeof fn > api.struct_size || !fn)
            return "it requires host service '" + std::string(wanted) +
                   "', which this hub does not offer to it here (kv_* and emit_event need the hub's store, "
                   "which a worker process does not have; identity_submit needs the manifest to own an "
                   "identity.person field)";
    }
}

}  // namespace hub::host
