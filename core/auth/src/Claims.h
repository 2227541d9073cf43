#pragma once

// Private to hub::auth: the steps of a token's verification after its signature
// held - the payload's claims, and the Principal they make.

#include "hub/auth/TokenVerifier.h"

#include <Poco/JSON/Object.h>

#include <string_view>

namespace hub::auth::detail {

/// When a verified token may be used, in seconds since the epoch (`nbf` 0 when absent).
struct TokenTimes
{
    double expires = 0;
    double notBefore = 0;
};

/// Expired or NotYetValid as of `nowSeconds`, with `leewaySeconds` of clock skew;
/// ok otherwise. Also run on every cache hit.
VerifyResult checkTimes(const TokenTimes& times, double nowSeconds, int leewaySeconds);

/// The payload segment (base64url JSON) as an object; Malformed otherwise.
VerifyResult decodePayload(std::string_view payloadB64, Poco::JSON::Object::Ptr& payload);

/// The registered claims that decide whether the token holds: `exp` (required),
/// `nbf`, `iat` (not in the future), `iss` and `aud` when configured. Fills
/// `times` and principal.expiresAt. Refuses with the error naming the claim.
VerifyResult checkClaims(const Poco::JSON::Object& payload, const TokenVerifier::Options& options, double nowSeconds,
                         TokenTimes& times, Principal& principal);

/// Who the token speaks for: `sub` (required, at most 512 bytes, no control
/// characters), `jti`, the user a service acts for (`on_behalf_of`, or `act` as a
/// plain string only) and, with options.allowTokenRoles, `roles`. Every string
/// must be valid UTF-8. InvalidClaims otherwise.
VerifyResult readPrincipal(const Poco::JSON::Object& payload, const TokenVerifier::Options& options,
                           Principal& principal);

} // namespace hub::auth::detail
