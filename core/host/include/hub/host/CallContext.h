#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hub::host {

/// What a plugin call carries besides its caller and deadline: the idempotency
/// key and the trace context of the request it serves. The plugin reads them
/// through ch_host_api's call_idempotency_key and call_trace_parent (ABI 1.1);
/// http_request and soap_call send the trace context on by themselves.
///
/// Who fills it in:
/// - the portal API (POST /api/v1/systems/{system}/operations/{operation}):
///   the request's `Idempotency-Key` header scoped by the caller
///   (forPortal(subject, key)), and its `traceparent` header when well formed;
/// - the flow engine, for a service task: forFlowStep(instance, element,
///   attempt), the same key for every delivery of that attempt, a new one for
///   a new attempt it decides to make; and its own trace context.
/// Both members may be empty (no key, no trace). A value type: copy it freely.
struct CallContext {
    /// Identifies one logical request across its retries: the same key again
    /// means "the same request", so the plugin must not repeat its side effect.
    /// Empty or isValidIdempotencyKey(); PluginHost::submit refuses others.
    std::string idempotencyKey;
    /// The W3C `traceparent` ("00-<32 hex trace id>-<16 hex parent id>-<2 hex
    /// flags>") of the request; empty or isValidTraceparent().
    std::string traceparent;

    /// The portal's `Idempotency-Key` as sent by the caller (subject, and the
    /// user it acts for when a service token does): keys are the client's
    /// choice, so two callers' equal keys must not meet at the vendor.
    /// "portal:" and the hex SHA-256 of the three (71 bytes).
    static std::string forPortal(std::string_view subject, std::string_view actingFor, std::string_view key);

    /// A flow engine's service task: "flow:<instance>/<element>/<attempt>" when
    /// that is a valid key, else "flow:" and the hex SHA-256 of the three parts.
    static std::string forFlowStep(std::string_view instance, std::string_view element, unsigned attempt);
};

/// Longest idempotency key a plugin is given: it fits an HTTP header line.
inline constexpr std::size_t kMaxIdempotencyKeyBytes = 200;

/// 1 to kMaxIdempotencyKeyBytes printable ASCII characters (0x21-0x7e).
bool isValidIdempotencyKey(std::string_view key);

/// A W3C traceparent of version 00 with a non-zero trace id and parent id (the
/// only form the hub passes on; anything else is dropped, not repaired).
bool isValidTraceparent(std::string_view value);

/// The traceparent for an outbound request made on behalf of value: the same
/// version, trace id and flags with a new random parent id (W3C Trace Context,
/// "Mutating the traceparent field"). value must be valid.
std::string childTraceparent(std::string_view value);

/// The name of a call's status as the API's problems and the trace show it:
/// "ok", "invalid_argument", "not_found", "unknown_operation", "permission",
/// "conflict", "unavailable", "timeout", else "plugin_error".
const char* statusName(int status);

}  // namespace hub::host
