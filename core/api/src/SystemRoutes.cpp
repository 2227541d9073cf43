#include "hub/api/SystemRoutes.h"

#include "ProblemTypes.h"
#include "StoreProblem.h"

#include "hub/api/CallKeys.h"
#include "hub/runtime/WorkerPool.h"

#include "hub/common/JsonCheck.h"
#include "hub/host/PluginHost.h"
#include "hub/store/AuditLog.h"
#include "hub/store/Database.h"

#include <campushub/plugin.h>

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <functional>

#include <Poco/Logger.h>

namespace hub::api {

namespace {

struct StatusInfo {
    unsigned http;
    const char* outcome;
    const char* title;
};

StatusInfo statusInfo(int status) {
    switch (status) {
    case CH_OK: return {200, "ok", "OK"};
    case CH_ERR_INVALID_ARGUMENT: return {400, "invalid_argument", "Invalid argument"};
    case CH_ERR_NOT_FOUND: return {404, "not_found", "Not found in the department system"};
    case CH_ERR_UNKNOWN_OPERATION: return {404, "unknown_operation", "Unknown operation"};
    case CH_ERR_PERMISSION: return {403, "permission", "Refused by the department system"};
    case CH_ERR_CONFLICT: return {409, "conflict", "Conflict"};
    case CH_ERR_UNAVAILABLE: return {503, "unavailable", "Department system unavailable"};
    case CH_ERR_TIMEOUT: return {504, "timeout", "Department system timed out"};
    default: return {502, "plugin_error", "Plugin failure"};
    }
}

bool validJson(const std::string& text, std::string& error) { return json::isValidJson(text, &error); }

}  // namespace

extern const char* const kOpenApiDocument;  // generated from docs/api/openapi.json

void addHealthRoutes(Router& router, host::PluginHost& plugins, store::Database* store) {
    router.add(http::verb::get, "/api/v1/openapi.json", [](const RequestPtr&, Responder r) {
        static const std::string document = kOpenApiDocument;
        r.send(Response::json(200, document));
    });
    router.add(http::verb::get, "/healthz",
               [](const RequestPtr&, Responder r) { r.send(Response::json(200, R"({"status":"ok"})")); },
               false);
    router.add(http::verb::get, "/readyz",
               [&plugins, store](const RequestPtr&, Responder r) {
                   // Polled often: an atomic load while the store is fine; its
                   // state comes from the writes themselves and its own probes.
                   std::size_t loaded = plugins.list().size();
                   const bool writable = !store || store->writable();
                   std::string status = !writable ? "store cannot write" : loaded ? "ready" : "no plugins loaded";
                   std::string body = "{\"status\":\"" + status + "\",\"plugins\":" + std::to_string(loaded);
                   if (store) {
                       // Which database and which node of several answered (issue 17).
                       body += ",\"node\":";
                       appendString(body, store->nodeId());
                       body += ",\"store\":{\"backend\":";
                       appendString(body, store::toString(store->dialect()));
                       body += ",\"writable\":";
                       if (writable) {
                           body += "true}";
                       } else {
                           auto health = store->health();
                           body += "false,\"reason\":";
                           appendString(body, health.fault ? store::toString(*health.fault) : "io");
                           body += ",\"detail\":";
                           appendString(body, health.detail);
                           body += ",\"since\":";
                           appendString(body, store::AuditLog::formatTime(health.since));
                           body += '}';
                       }
                   }
                   body += '}';
                   r.send(Response::json(loaded && writable ? 200 : 503, std::move(body)));
               },
               false);
}

void addSystemRoutes(Router& router, host::PluginHost& plugins, store::AuditLog* audit, SystemCallKeys keys) {
    router.add(http::verb::get, "/api/v1/systems", [&plugins](const RequestPtr&, Responder r) {
        std::string out = "{\"systems\":[";
        bool first = true;
        for (const auto& s : plugins.list()) {
            if (!first) out += ',';
            first = false;
            auto text = [&out](std::string_view key, std::string_view value) {
                out += ',';
                json::appendKey(out, key);
                appendString(out, value);
            };
            out += "{\"name\":";
            appendString(out, s.name);
            text("version", s.version);
            text("status", s.status);
            text("vendor", s.vendor);
            text("description", s.description);
            text("isolation", s.isolation);
            text("execution", s.execution);
            text("health_detail", s.healthDetail);
            text("circuit", s.circuit);
            out += ",\"calls\":" + std::to_string(s.calls);
            out += ",\"failures\":" + std::to_string(s.failures);
            char rate[32];
            std::snprintf(rate, sizeof rate, "%.3f", s.recentErrorRate);
            out += ",\"recent_error_rate\":";
            out += rate;
            out += ",\"generation\":" + std::to_string(s.generation);
            out += ",\"active_calls\":" + std::to_string(s.active);
            out += ",\"queued_calls\":" + std::to_string(s.queued);
            out += ",\"operations\":[";
            for (std::size_t i = 0; i < s.operations.size(); ++i) {
                if (i) out += ',';
                out += "{\"name\":";
                appendString(out, s.operations[i].name);
                text("description", s.operations[i].description);
                out += '}';
            }
            out += "]}";
        }
        out += "]}";
        r.send(Response::json(200, std::move(out)));
    });

    router.add(
        http::verb::post, "/api/v1/systems/{system}/operations/{operation}",
        [&plugins, audit, keys](const RequestPtr& request, Responder responder) {
            const std::string& system = request->param("system");
            const std::string& operation = request->param("operation");
            auto started = std::chrono::steady_clock::now();

            auto finish = [request, audit, system, operation, started](Responder& r, Response response,
                                                                       const char* outcome) {
                unsigned status = response.status;
                if (!r.send(std::move(response))) return;
                if (!audit) return;
                store::AuditRecord record;
                // As the token said it: the authenticated subject, and the user when a
                // service acted for one.
                const Principal& p = request->principal;
                record.subject = p.viaService.empty() ? p.subject : p.viaService;
                record.actingFor = p.viaService.empty() ? std::string() : p.subject;
                record.system = system;
                record.operation = operation;
                record.outcome = outcome;
                record.httpStatus = static_cast<int>(status);
                record.durationUs = std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::steady_clock::now() - started)
                                        .count();
                record.requestId = request->requestId;
                record.clientRequestId = request->clientRequestId;
                audit->record(std::move(record));
            };

            if (!plugins.has(system)) {
                finish(responder, problem(404, "no connected system named '" + system + "'", "Unknown system",
                                          detail::problemType("unknown-system")),
                       "unknown_system");
                return;
            }
            std::string body = request->message.body();
            if (body.empty()) body = "{}";
            std::string error;
            if (!validJson(body, error)) {
                finish(responder, problem(400, "request body is not valid JSON: " + error, "Malformed JSON",
                                          detail::problemType("malformed-json")),
                       "malformed_json");
                return;
            }
            auto limits = plugins.limits(system);
            auto deadline = host::Clock::now() + limits.timeout;
            const Principal& p = request->principal;
            host::Caller caller{p.viaService.empty() ? p.subject : p.viaService, p.roles,
                                p.viaService.empty() ? std::string() : p.subject, p.audiences};

            // What the plugin may pass on (ABI 1.1): the client's Idempotency-Key,
            // scoped by the caller, and the request's trace context when well formed
            // (W3C: an invalid traceparent is ignored, not an error).
            host::CallContext context;
            if (std::string_view key = request->header("Idempotency-Key"); !key.empty()) {
                // As for applications: 1 to 255 printable ASCII characters.
                bool printable = key.size() <= 255 && std::all_of(key.begin(), key.end(), [](char c) {
                                     return c > 0x20 && c < 0x7f;
                                 });
                if (!printable) {
                    finish(responder,
                           problem(400, "the Idempotency-Key must be 1 to 255 printable ASCII characters",
                                   "Invalid Idempotency-Key", detail::problemType("invalid-idempotency-key")),
                           "invalid_idempotency_key");
                    return;
                }
                context.idempotencyKey = host::CallContext::forPortal(caller.subject, caller.actingFor, key);
            }
            if (std::string_view trace = request->header("traceparent"); host::isValidTraceparent(trace))
                context.traceparent = std::string(trace);

            // The call itself; `settle` answers it (and, with a key, stores or releases it first).
            using Settle = std::function<void(Response, const char*)>;
            auto call = [&plugins, system, operation, body, caller, context, deadline, limits,
                         responder](const Settle& settle) mutable {
                std::string refusal;
                auto submitted = plugins.submit(
                    system, operation, body, caller, context, deadline,
                    [settle, responder](host::CallResult result) mutable {
                        if (responder.sent()) return;  // timed out already
                        StatusInfo info = statusInfo(result.status);
                        if (result.status == CH_OK) {
                            std::string invalid;
                            if (!validJson(result.body, invalid)) {
                                settle(problem(502, "the plugin answered with invalid JSON: " + invalid,
                                               "Plugin failure", detail::problemType("plugin-invalid-answer")),
                                       "plugin_invalid_answer");
                                return;
                            }
                            settle(Response::json(200, std::move(result.body)), info.outcome);
                            return;
                        }
                        Response failed =
                            problem(info.http, detail::pluginErrorDetail(result.body), info.title, detail::problemType(std::string(info.outcome)));
                        // A process plugin's worker being restarted: back in about this long.
                        if (result.retryAfter.count() > 0)
                            failed.headers.emplace_back(
                                "Retry-After",
                                std::to_string(std::max<long long>(1, (result.retryAfter.count() + 999) / 1000)));
                        settle(std::move(failed), info.outcome);
                    },
                    &refusal);
                switch (submitted) {
                case host::PluginHost::Submit::Accepted:
                    responder.after(limits.timeout, [settle, system, limits]() mutable {
                        settle(problem(504,
                                       system + " did not answer within " + std::to_string(limits.timeout.count()) +
                                           " ms",
                                       "Department system timed out", detail::problemType("timeout")),
                               "timeout");
                    });
                    return;
                case host::PluginHost::Submit::UnknownOperation:
                    settle(problem(404, "system '" + system + "' has no operation '" + operation + "'",
                                   "Unknown operation", detail::problemType("unknown-operation")),
                           "unknown_operation");
                    return;
                case host::PluginHost::Submit::Overloaded:
                    settle(problem(503, system + " is at its concurrency limit; retry later", "Overloaded",
                                   detail::problemType("overloaded")),
                           "overloaded");
                    return;
                case host::PluginHost::Submit::CircuitOpen: {
                    Response r = problem(503,
                                         system + " is failing; the hub stops calling it for a while and probes it to "
                                                  "recover",
                                         "Department system unavailable", detail::problemType("circuit-open"));
                    r.headers.emplace_back("Retry-After", std::to_string(std::max<long long>(
                                                              1, static_cast<long long>(limits.openFor.count() / 1000))));
                    settle(std::move(r), "circuit_open");
                    return;
                }
                case host::PluginHost::Submit::Forbidden:
                    settle(problem(403, refusal, "Forbidden", detail::problemType("forbidden")), "forbidden");
                    return;
                case host::PluginHost::Submit::InvalidContext:  // checked above; a hub bug if it comes
                    settle(problem(500, "the call's context was refused", "Internal error", detail::problemType("internal")),
                           "internal");
                    return;
                case host::PluginHost::Submit::UnknownSystem:
                    settle(problem(404, "no connected system named '" + system + "'", "Unknown system",
                                              detail::problemType("unknown-system")),
                           "unknown_system");
                    return;
                }
            };

            if (context.idempotencyKey.empty() || !keys.calls) {
                call([finish, responder](Response r, const char* outcome) mutable { finish(responder, std::move(r), outcome); });
                return;
            }
            // The key holds across the hubs on one database (CallKeys): claimed in
            // the store first, off the I/O thread, like every other store work.
            const std::string key = context.idempotencyKey;
            const std::string print = CallKeys::fingerprint(system, operation, body);
            auto pending = std::chrono::duration_cast<std::chrono::milliseconds>(limits.timeout) + std::chrono::seconds(30);
            auto claimed = [keys, key, print, pending, finish, responder, call]() mutable {
                CallKeys::Claim claim;
                try {
                    claim = keys.calls->claim(key, print, pending);
                } catch (const std::exception& e) {
                    if (auto unavailable = storeProblem(e, keys.database))
                        return finish(responder, std::move(*unavailable), "store_unavailable");
                    return finish(responder, problem(500, e.what(), "Internal error", detail::problemType("internal")),
                                  "internal");
                }
                switch (claim.state) {
                case CallKeys::State::Replay: {
                    Response r = Response::json(static_cast<unsigned>(claim.status), std::move(claim.body));
                    if (claim.status >= 300) r.contentType = "application/problem+json";
                    r.headers.emplace_back("Idempotent-Replayed", "true");
                    return finish(responder, std::move(r), "replayed");
                }
                case CallKeys::State::InFlight: {
                    Response r = problem(409, "a request with this Idempotency-Key is still in flight; retry shortly",
                                         "Request in flight", detail::problemType("idempotency-in-flight"));
                    r.headers.emplace_back("Retry-After", "1");
                    return finish(responder, std::move(r), "idempotency_in_flight");
                }
                case CallKeys::State::Mismatch:
                    return finish(responder,
                                  problem(409, "the Idempotency-Key was used for another request (system, operation "
                                               "or body)",
                                          "Idempotency key reused", detail::problemType("idempotency-conflict")),
                                  "idempotency_conflict");
                case CallKeys::State::Claimed: break;
                }
                // A final answer is kept for every retry; a transient one frees the key.
                call([keys, key, token = claim.token, finish, responder](Response r, const char* outcome) mutable {
                    auto keep = [keys, key, token, finish, responder, r = std::move(r), outcome]() mutable {
                        try {
                            if (CallKeys::isFinal(static_cast<int>(r.status)))
                                keys.calls->complete(key, token, static_cast<int>(r.status), r.body);
                            else
                                keys.calls->release(key, token);
                        } catch (const std::exception& e) {
                            // Answered all the same; the claim expires and a retry calls again.
                            Poco::Logger::get("hub.api").warning("Idempotency-Key answer not stored: %s",
                                                                 std::string(e.what()));
                        }
                        finish(responder, std::move(r), outcome);
                    };
                    if (!keys.blocking || !keys.blocking->trySubmit(keep)) keep();
                });
            };
            if (!keys.blocking) return claimed();
            if (!keys.blocking->trySubmit(claimed))
                finish(responder, problem(503, "the hub is busy; retry shortly", "Overloaded", detail::problemType("overloaded")),
                       "overloaded");
        });
}

}  // namespace hub::api
