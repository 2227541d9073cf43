// The host services a plugin calls through its ch_host_api: log, config_get,
// the call's deadline and caller, http_request, emit_event, kv_* and soap_call.
// Each is noexcept and catches everything: an exception must not unwind through
// the plugin's C frames (undefined behaviour), and one that reached the noexcept
// boundary would end hubd. On an event loop's fiber (execution "loop") the
// SQLite work of kv_* and emit_event runs on the host's offload workers while
// the fiber is parked (offLoop).
#include "HostServices.h"

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

#include <cstring>
#include <ctime>
#include <exception>
#include <optional>
#include <semaphore>
#include <sstream>

namespace hub::host {

namespace {

// Logs a host service's failure (inside a catch block) under the plugin's
// logger; a log that fails in turn is dropped.
void logServiceError(ch_host* host, const char* what) noexcept {
    try {
        if (host && host->services.logger)
            host->services.logger->error("%s: %s", std::string(what), currentExceptionText());
    } catch (...) {
    }
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

int hostConfigGet(ch_host* host, ch_buffer key, ch_sink sink) noexcept {
    try {
        const std::string* value = host ? host->services.config.find(view(key)) : nullptr;
        if (!value) return 0;
        sink.fn(sink.ctx, CH_OK, value->data(), value->size());
        return 1;
    } catch (...) {
        return 0;
    }
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
        http::Response response =
            host->services.http->request(view(req.method), view(req.url), view(req.headers), view(req.body), timeout);
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

// On an event loop's fiber, runs fn (blocking work: SQLite may wait for a lock)
// on the host's offload workers and parks the fiber meanwhile; elsewhere, or if
// the offload queue is full, runs it in place. fn must not call back into the
// plugin: the plugin is parked on its own thread.
template <class Fn>
auto offLoop(const PluginServices& services, Fn fn) -> decltype(fn()) {
    runtime::Loop::Fiber* self = runtime::Loop::running();
    if (!self || !services.offload) return fn();
    struct State {
        std::optional<decltype(fn())> result;
        std::exception_ptr error;
        std::binary_semaphore finished{0};
    };
    auto state = std::make_shared<State>();
    bool queued = services.offload->trySubmit([state, self, &fn] {
        try {
            state->result.emplace(fn());
        } catch (...) {
            state->error = std::current_exception();
        }
        // Resumed first, released second: a fiber woken early by its loop going
        // away waits for the release, so self is still alive here.
        runtime::Loop::resumeLater(self);
        state->finished.release();
    });
    if (!queued) return fn();
    runtime::Loop::suspend();
    if (runtime::Loop::aborted(self)) state->finished.acquire();  // fn may still use this frame
    if (state->error) std::rethrow_exception(state->error);
    return std::move(*state->result);
}

ch_status hostEmitEvent(ch_host* host, ch_buffer eventJson) noexcept {
    try {
        if (!host || !host->services.emitEvent) return CH_ERR_UNAVAILABLE;
        std::string_view json = view(eventJson);
        if (std::string problem = checkEvent(json); !problem.empty()) {
            if (host->services.logger) host->services.logger->warning("event refused: %s", problem);
            return CH_ERR_INVALID_ARGUMENT;
        }
        int rc = offLoop(host->services, [&] { return host->services.emitEvent(host->name, json); });
        return rc >= CH_OK && rc <= CH_ERR_INTERNAL ? static_cast<ch_status>(rc) : CH_ERR_INTERNAL;
    } catch (...) {
        logServiceError(host, "event not emitted");
        return CH_ERR_INTERNAL;
    }
}

// ---- kv_get / kv_put / kv_delete ----

bool validKey(std::string_view key) {
    return !key.empty() && key.size() <= kMaxKvKeyBytes && hub::isValidUtf8(key);
}

int hostKvGet(ch_host* host, ch_buffer key, ch_sink sink) noexcept {
    using namespace Poco::Data::Keywords;
    try {
        if (!host || !host->services.database || !validKey(view(key))) return 0;
        std::string k(view(key));
        std::vector<Poco::Data::BLOB> values = offLoop(host->services, [&] {
            std::vector<Poco::Data::BLOB> found;
            Poco::Data::Session session = host->services.database->session();
            session << "SELECT value FROM host_plugin_kv WHERE plugin = ? AND key = ?", use(host->name), use(k),
                into(found), now;
            return found;
        });
        if (values.empty()) return 0;
        const auto& v = values.front();
        sink.fn(sink.ctx, CH_OK, v.rawContent() ? reinterpret_cast<const char*>(v.rawContent()) : "", v.size());
        return 1;
    } catch (...) {
        logServiceError(host, "kv_get failed");
        return 0;
    }
}

ch_status hostKvPut(ch_host* host, ch_buffer key, ch_buffer value) noexcept {
    using namespace Poco::Data::Keywords;
    try {
        if (!host || !host->services.database) return CH_ERR_UNAVAILABLE;
        if (!validKey(view(key))) return CH_ERR_INVALID_ARGUMENT;
        std::string_view v = view(value);
        if (v.size() > kMaxKvValueBytes) return CH_ERR_INVALID_ARGUMENT;
        std::string k(view(key));
        Poco::Data::BLOB blob(reinterpret_cast<const unsigned char*>(v.data()), v.size());
        Poco::Int64 updated = static_cast<Poco::Int64>(std::time(nullptr)) * 1000;
        offLoop(host->services, [&] {
            Poco::Data::Session session = host->services.database->session();
            // One statement: a concurrent put of the same key cannot fail on the key.
            session
                << "INSERT INTO host_plugin_kv(plugin, key, value, updated_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT(plugin, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
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
    try {
        if (!host || !host->services.database) return CH_ERR_UNAVAILABLE;
        if (!validKey(view(key))) return CH_ERR_INVALID_ARGUMENT;
        std::string k(view(key));
        offLoop(host->services, [&] {
            Poco::Data::Session session = host->services.database->session();
            session << "DELETE FROM host_plugin_kv WHERE plugin = ? AND key = ?", use(host->name), use(k), now;
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

// May throw while building an error answer (out of memory); hostSoapCall catches that.
void soapCall(ch_host* host, ch_call* call, ch_buffer endpoint, ch_buffer action, ch_buffer envelope, ch_sink sink) {
    auto answer = [&](ch_status status, const std::string& data) noexcept {
        sink.fn(sink.ctx, status, data.data(), data.size());
    };
    auto problem = [](const std::string& detail) {
        Poco::JSON::Object o;
        o.set("detail", detail);
        std::ostringstream s;
        o.stringify(s);
        return s.str();
    };
    try {
        if (!host || !host->services.soap) return answer(CH_ERR_UNAVAILABLE, problem("no SOAP service"));
        std::chrono::milliseconds timeout(30000);
        if (call) {
            timeout = std::chrono::milliseconds(callRemainingMs(call));
            if (timeout.count() == 0) return answer(CH_ERR_TIMEOUT, problem("the call's deadline has passed"));
        }
        soap::Response r = host->services.soap->call(view(endpoint), view(action), view(envelope), timeout);
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
    return api;
}

std::string checkEvent(std::string_view json) {
    if (json.size() > kMaxEventBytes)
        return "event of " + std::to_string(json.size()) + " bytes exceeds the limit of " +
               std::to_string(kMaxEventBytes);
    if (!hub::isValidUtf8(json)) return "event is not valid UTF-8";
    Poco::Dynamic::Var parsed;
    try {
        Poco::JSON::Parser parser;
        parsed = parser.parse(std::string(json));
    } catch (const std::exception& e) {
        return std::string("event is not valid JSON: ") + e.what();
    }
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return "event is not a JSON object";
    auto o = parsed.extract<Poco::JSON::Object::Ptr>();
    auto isString = [&](const char* k) { return o->has(k) && o->get(k).isString(); };
    if (!isString("type")) return "event has no \"type\" string";
    std::string type = o->getValue<std::string>("type");
    if (type.rfind("edu.campus.hub.", 0) != 0 || type.size() == 15)
        return "event type '" + type.substr(0, 200) + "' is not under edu.campus.hub.";
    if (!isString("subject")) return "event has no \"subject\" string";
    if (!o->isObject("data")) return "event has no \"data\" object";
    return {};
}

void migrateStore(store::Database& db) {
    db.migrate("host", {{1,
                         {"CREATE TABLE host_plugin_kv ("
                          " plugin VARCHAR(64) NOT NULL,"
                          " key VARCHAR(256) NOT NULL,"
                          // Nullable: Poco binds an empty BLOB as NULL; NULL reads back as "".
                          " value BLOB,"
                          " updated_at BIGINT NOT NULL,"
                          " PRIMARY KEY (plugin, key))"}}});
}

}  // namespace hub::host
