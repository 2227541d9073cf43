#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace hub::store {
class Database;
}

namespace hub::api {

/// The portal's Idempotency-Key for direct plugin calls, kept in the store so
/// that it holds across every hub on one database (issue 17): table
/// api_call_keys, one row per caller-scoped key (host::CallContext::forPortal),
/// its primary key the unique constraint that lets one request claim it.
///
/// - The first request claims the key (a pending row with a claim token and
///   an expiry) and calls the plugin; a final answer (2xx, or the plugin's own
///   400/403/404/409) is stored, and every retry, on any node, gets it again
///   with `Idempotent-Replayed: true`.
/// - A retry while the first is in flight gets 409 (Retry-After: 1).
/// - The same key with another request (system, operation or body) gets 409.
/// - A transient failure (5xx, timeout, refusal before the call) releases the
///   key: a retry calls the plugin again, with the same key, so the plugin's
///   own de-duplication (the kiosk's reference) still finds what the first did.
/// - A node that dies mid-call leaves a pending row; it expires after the
///   call's time limit plus a margin, and the next retry takes it over.
/// Stored answers are kept for a day.
class CallKeys {
public:
    enum class State { Claimed, InFlight, Replay, Mismatch };

    struct Claim {
        State state = State::Claimed;
        std::string token;  ///< Claimed: this request's claim.
        int status = 0;     ///< Replay: the stored answer.
        std::string body;
    };

    /// Migrates its table (module "api_call_keys"). `nodeId` is recorded with each claim.
    explicit CallKeys(store::Database& db);

    /// Fingerprint of a request under a key: system, operation and body.
    static std::string fingerprint(const std::string& system, const std::string& operation, const std::string& body);

    /// Claims `key` for a request with `fingerprint`, or says why not. A pending
    /// claim older than `pendingFor` is taken over. Throws when the store fails.
    Claim claim(const std::string& key, const std::string& fingerprint, std::chrono::milliseconds pendingFor);

    /// Stores the answer of the claim `token` (kept for a day); nothing when
    /// the claim was lost (expired and taken over). Throws when the store fails.
    void complete(const std::string& key, const std::string& token, int status, const std::string& body);

    /// Gives the key up (a transient failure): a retry calls again.
    void release(const std::string& key, const std::string& token) noexcept;

    /// Whether an answer of this status is stored for retries.
    static bool isFinal(int status) { return (status >= 200 && status < 300) || status == 400 || status == 403 || status == 404 || status == 409; }

private:
    void pruneNow(std::int64_t nowMs);

    store::Database& db_;
    std::atomic<std::int64_t> nextPruneMs_{0};  // two prunes at once do no harm
};

}  // namespace hub::api
