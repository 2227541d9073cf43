#pragma once

#include <string>

namespace hub::auth {

/// Why a bearer token was refused. Every value except None becomes a 401
/// problem+json; use errorCode() for a stable machine-readable code and
/// errorTitle() for the problem's title.
enum class AuthError
{
    None,                 ///< The token was accepted.
    Missing,              ///< No token (or no Authorization header / not a Bearer scheme).
    Malformed,            ///< Not a compact JWS: bad structure, encoding, JSON, size or claim types.
    UnsupportedAlgorithm, ///< `alg` is none, unknown, or not configured (e.g. HS256 when only RS256 is).
    BadSignature,         ///< The signature does not verify with the configured key.
    Expired,              ///< `exp` is in the past (beyond the leeway).
    NotYetValid,          ///< `nbf` is in the future (beyond the leeway).
    WrongIssuer,          ///< `iss` differs from auth.jwt.issuer.
    WrongAudience,        ///< auth.jwt.audience is not in `aud`.
    InvalidClaims         ///< A required claim is missing or not sane (`exp`, `sub`, `iat` in the future).
};

/// A stable snake_case code, e.g. "token_expired", for problem+json bodies and metrics.
const char* errorCode(AuthError error);

/// A short English title, e.g. "Token expired".
const char* errorTitle(AuthError error);

} // namespace hub::auth
