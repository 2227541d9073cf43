// The vendors' callbacks into their plugins (issue 15): signed, not token-bearing,
// and delivered as an invoke of an operation the manifest marks webhook="true".
#include "hub/api/WebhookRoutes.h"

#include "ProblemTypes.h"

#include "hub/common/JsonCheck.h"
#include "hub/host/PluginHost.h"
#include "hub/store/AuditLog.h"

#include <campushub/plugin.h>

#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/FileStream.h>
#include <Poco/HMACEngine.h>
#include <Poco/JSON/Parser.h>
#include <Poco/NumberParser.h>
#include <Poco/SHA2Engine.h>
#include <Poco/StreamCopier.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <stdexcept>

namespace hub::api {

namespace {

constexpr std::size_t kMinSecretBytes = 32;

// Poco's HMACEngine takes its digest engine's block size from a static member.
class Sha256 : public Poco::SHA2Engine {
public:
    enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
    Sha256() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

// Compares in time independent of where the first difference is.
bool constantTimeEqual(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

unsigned httpStatusOf(int status) {
    switch (status) {
    case CH_OK: return 200;
    case CH_ERR_INVALID_ARGUMENT: return 400;
    case CH_ERR_NOT_FOUND:
    case CH_ERR_UNKNOWN_OPERATION: return 404;
    case CH_ERR_PERMISSION: return 403;
    case CH_ERR_CONFLICT: return 409;
    case CH_ERR_UNAVAILABLE: return 503;
    case CH_ERR_TIMEOUT: return 504;
    default: return 502;
    }
}

}  // namespace

std::string webhookSignature(std::string_view secret, std::string_view timestamp, std::string_view body) {
    Poco::HMACEngine<Sha256> hmac{std::string(secret)};
    hmac.update(timestamp.data(), static_cast<unsigned>(timestamp.size()));
    hmac.update('.');
    hmac.update(body.data(), static_cast<unsigned>(body.size()));
    return "sha256=" + Poco::DigestEngine::digestToHex(hmac.digest());
}

WebhookOptions WebhookOptions::fromConfig(const Poco::Util::AbstractConfiguration& config) {
    WebhookOptions o;
    const int tolerance = config.getInt("plugins.webhookToleranceSeconds", 300);
    if (tolerance < 1 || tolerance > 86400)
        throw std::invalid_argument("plugins.webhookToleranceSeconds: must be 1..86400, not " +
                                    std::to_string(tolerance));
    o.tolerance = std::chrono::seconds(tolerance);
    for (int n = 0;; ++n) {
        const std::string entry = "plugins.plugin[" + std::to_string(n) + "]";
        if (!config.has(entry)) break;
        const std::string name = config.getString(entry + "[@name]", "");
        if (name.empty() || !config.has(entry + ".webhook.secretFile")) continue;
        const std::string key = "plugins.plugin[@name=" + name + "].webhook.secretFile";
        const std::string file = config.getString(entry + ".webhook.secretFile");
        std::string secret;
        try {
            Poco::FileInputStream in(file);
            Poco::StreamCopier::copyToString(in, secret);
        } catch (const Poco::Exception& e) {
            throw std::invalid_argument(key + ": cannot read " + file + ": " + e.displayText());
        }
        while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) secret.pop_back();
        if (secret.size() < kMinSecretBytes)
            throw std::invalid_argument(key + ": " + file + " holds " + std::to_string(secret.size()) +
                                        " bytes; a webhook secret needs at least 32");
        o.secrets.emplace(name, std::move(secret));
    }
    return o;
}

void addWebhookRoutes(Router& router, host::PluginHost& plugins, WebhookOptions options, store::AuditLog* audit) {
    auto shared = std::make_shared<const WebhookOptions>(std::move(options));
    router.add(
        http::verb::post, "/api/v1/webhooks/{plugin}/{operation}",
        [&plugins, shared, audit](const RequestPtr& request, Responder responder) {
            const std::string& system = request->param("plugin");
            const std::string& operation = request->param("operation");
            const auto started = std::chrono::steady_clock::now();
            auto finish = [request, audit, system, operation, started](Responder& r, Response response,
                                                                       const char* outcome) {
                const unsigned status = response.status;
                if (!r.send(std::move(response)) || !audit) return;
                store::AuditRecord record;
                record.subject = "webhook:" + system;
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
            auto unauthorized = [&](const std::string& why) {
                finish(responder, problem(401, why, "Webhook not authenticated", detail::problemType("webhook-signature")),
                       "webhook_unauthenticated");
            };

            // Unsigned requests learn nothing, not even which plugins take callbacks.
            const std::string timestamp(request->header("X-Hub-Timestamp"));
            const std::string_view signature = request->header("X-Hub-Signature");
            Poco::Int64 at = 0;
            if (timestamp.empty() || signature.empty())
                return unauthorized("X-Hub-Timestamp and X-Hub-Signature are required");
            if (timestamp.size() > 12 || !Poco::NumberParser::tryParse64(timestamp, at))
                return unauthorized("X-Hub-Timestamp must be Unix seconds");
            auto secret = shared->secrets.find(system);
            if (secret == shared->secrets.end() || !plugins.has(system)) {
                finish(responder,
                       problem(404, "no webhooks for '" + system + "'", "Unknown webhook", detail::problemType("unknown-webhook")),
                       "unknown_system");
                return;
            }
            const std::string& body = request->message.body();
            if (!constantTimeEqual(signature, webhookSignature(secret->second, timestamp, body)))
                return unauthorized("the signature does not match the body (HMAC-SHA256 over timestamp.body)");
            // Checked after the signature, so the clock is not told to unsigned callers.
            const Poco::Int64 now = std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count();
            if (at < now - shared->tolerance.count() || at > now + shared->tolerance.count())
                return unauthorized("X-Hub-Timestamp is more than " + std::to_string(shared->tolerance.count()) +
                                    " s from the hub's clock (a replay, or a clock to fix)");

            std::string error;
            if (body.empty() || body.front() != '{' || !json::isValidJson(body, &error)) {
                finish(responder,
                       problem(400, "a webhook body is a JSON object" + (error.empty() ? "" : ": " + error),
                               "Malformed JSON", detail::problemType("malformed-json")),
                       "malformed_json");
                return;
            }
            const auto limits = plugins.limits(system);
            host::Caller caller;
            caller.subject = "webhook:" + system;
            caller.webhook = true;
            std::string refusal;
            auto submitted = plugins.submit(
                system, operation, body, std::move(caller), host::Clock::now() + limits.timeout,
                [finish, responder](host::CallResult result) mutable {
                    if (responder.sent()) return;
                    const unsigned status = httpStatusOf(result.status);
                    if (result.status == CH_OK) {
                        if (!json::isValidJson(result.body, nullptr))
                            return finish(responder,
                                          problem(502, "the plugin answered with invalid JSON", "Plugin failure",
                                                  detail::problemType("plugin-invalid-answer")),
                                          "plugin_invalid_answer");
                        return finish(responder, Response::json(200, std::move(result.body)), "ok");
                    }
                    finish(responder, problem(status, detail::pluginErrorDetail(result.body), {}, detail::problemType("webhook-failed")),
                           "webhook_failed");
                },
                &refusal);
            switch (submitted) {
            case host::PluginHost::Submit::Accepted:
                responder.after(limits.timeout, [finish, responder, system]() mutable {
                    finish(responder, problem(504, system + " did not answer in time", {}, detail::problemType("timeout")),
                           "timeout");
                });
                return;
            case host::PluginHost::Submit::UnknownSystem:
            case host::PluginHost::Submit::UnknownOperation:
                finish(responder,
                       problem(404, "'" + system + "' has no webhook '" + operation + "'", "Unknown webhook",
                               detail::problemType("unknown-webhook")),
                       "unknown_operation");
                return;
            case host::PluginHost::Submit::Forbidden:
                finish(responder, problem(403, refusal, "Forbidden", detail::problemType("forbidden")), "forbidden");
                return;
            case host::PluginHost::Submit::InvalidContext:  // a callback carries no key or trace: a hub bug
                finish(responder, problem(500, "the call's context was refused", "Internal error", detail::problemType("internal")),
                       "internal");
                return;
            case host::PluginHost::Submit::Overloaded:
            case host::PluginHost::Submit::CircuitOpen: {
                // The vendor retries its callback; tell it when.
                Response r = problem(503, system + " cannot take the callback now; retry", {}, detail::problemType("overloaded"));
                r.headers.emplace_back("Retry-After", "1");
                finish(responder, std::move(r), "overloaded");
                return;
            }
            }
        },
        false);
}

}  // namespace hub::api
