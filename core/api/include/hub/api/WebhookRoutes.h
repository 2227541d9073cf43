#pragma once

#include "hub/api/Router.h"

#include <chrono>
#include <map>
#include <string>

namespace Poco::Util {
class AbstractConfiguration;
}
namespace hub::host {
class PluginHost;
}
namespace hub::store {
class AuditLog;
}

namespace hub::api {

/// What the webhook route needs: each plugin's shared secret with its vendor, and
/// how far a callback's timestamp may be from the hub's clock.
struct WebhookOptions {
    /// plugin name -> secret (the bytes of plugins.plugin[@name=X].webhook.secretFile,
    /// trailing whitespace trimmed). A plugin without one takes no callbacks.
    std::map<std::string, std::string, std::less<>> secrets;
    std::chrono::seconds tolerance{300};

    /// Reads plugins.plugin[@name=X].webhook.secretFile for every plugin element, and
    /// plugins.webhookToleranceSeconds (1..86400, default 300). Throws
    /// std::invalid_argument naming the key when a file cannot be read or holds fewer
    /// than 32 bytes.
    static WebhookOptions fromConfig(const Poco::Util::AbstractConfiguration& config);
};

/// POST /api/v1/webhooks/{plugin}/{operation}: a vendor system's callback into the
/// plugin that wraps it. Not behind a bearer token: the vendor signs instead.
///
///   X-Hub-Timestamp: <Unix seconds>
///   X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
///
/// A missing or wrong signature, or a timestamp further than tolerance from now
/// (a replay), is answered 401 before anything else is read; a plugin without a
/// secret, or an operation not marked webhook="true" in its manifest, 404. The body
/// must be a JSON object; it reaches the plugin as the input of an ordinary invoke
/// of that operation (no ABI change), with the caller {"subject":
/// "webhook:<plugin>"}, and the plugin's answer is the vendor's. The plugin
/// de-duplicates: vendors redeliver.
void addWebhookRoutes(Router& router, host::PluginHost& plugins, WebhookOptions options,
                      store::AuditLog* audit);

/// The X-Hub-Signature value for body at timestamp (what a vendor computes; tests).
std::string webhookSignature(std::string_view secret, std::string_view timestamp, std::string_view body);

}  // namespace hub::api
