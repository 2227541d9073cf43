#include "hub/auth/AuthError.h"

namespace hub::auth {

const char* errorCode(AuthError error)
{
    switch (error)
    {
    case AuthError::None: return "ok";
    case AuthError::Missing: return "token_missing";
    case AuthError::Malformed: return "token_malformed";
    case AuthError::UnsupportedAlgorithm: return "unsupported_algorithm";
    case AuthError::BadSignature: return "bad_signature";
    case AuthError::Expired: return "token_expired";
    case AuthError::NotYetValid: return "token_not_yet_valid";
    case AuthError::WrongIssuer: return "wrong_issuer";
    case AuthError::WrongAudience: return "wrong_audience";
    case AuthError::InvalidClaims: return "invalid_claims";
    }
    return "unknown";
}

const char* errorTitle(AuthError error)
{
    switch (error)
    {
    case AuthError::None: return "OK";
    case AuthError::Missing: return "Bearer token missing";
    case AuthError::Malformed: return "Bearer token malformed";
    case AuthError::UnsupportedAlgorithm: return "Token signing algorithm not accepted";
    case AuthError::BadSignature: return "Token signature invalid";
    case AuthError::Expired: return "Token expired";
    case AuthError::NotYetValid: return "Token not yet valid";
    case AuthError::WrongIssuer: return "Token issuer not accepted";
    case AuthError::WrongAudience: return "Token audience not accepted";
    case AuthError::InvalidClaims: return "Token claims invalid";
    }
    return "Unknown";
}

} // namespace hub::auth
