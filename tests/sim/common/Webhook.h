#pragma once
// How a simulated vendor signs and sends its callbacks to the hub's webhook route
// (POST /api/v1/webhooks/{plugin}/{operation}, docs/adapters/queue_ticket.md):
//   X-Hub-Timestamp: <Unix seconds>
//   X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
#include <string>

namespace hub::sim {

/// The X-Hub-Signature value.
std::string webhookSignature(const std::string& secret, const std::string& timestamp, const std::string& body);

/// What the hub answered a callback.
struct Delivery {
    int status = 0;  ///< 0: no answer (connection refused, timeout)
    std::string body;
};

/// POSTs body to url, signed with secret at now + timestampOffset seconds; with
/// tamper, the signature is computed over another body (a forged callback).
Delivery deliverWebhook(const std::string& url, const std::string& secret, const std::string& body,
                        long timestampOffset = 0, bool tamper = false);

/// The secret from a file (trailing whitespace trimmed); empty when unreadable.
std::string readSecretFile(const std::string& path);

}  // namespace hub::sim
