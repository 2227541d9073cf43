#pragma once

#include "hub/auth/AuthError.h"
#include "hub/auth/Principal.h"

#include <Poco/Timestamp.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::auth {

/// The outcome of TokenVerifier::verify(): a Principal, or an error with a reason.
struct VerifyResult
{
    AuthError error = AuthError::None;

    /// A precise English reason for logs and the problem's `detail`. It never
    /// contains the token, the secret or any claim value taken from the token.
    std::string detail;

    /// Valid only when ok().
    Principal principal;

    bool ok() const { return error == AuthError::None; }
};

/// Verifies portal bearer tokens (compact JWS, RFC 7515/7519).
///
/// Accepts exactly the algorithms for which a key is configured: HS256 with
/// a shared secret, RS256 with an RSA public key, or both. `alg: none` and
/// every other algorithm are refused, and an HS256 token is refused outright
/// when only RS256 is configured, so the public key can never be used as an
/// HMAC secret (the classic key-confusion attack).
///
/// Checks, in order: size and characters, header, algorithm, signature, then
/// (only once the signature holds) the claims: `exp` required, `nbf`, `iat`
/// not in the future, `iss`, `aud` (string or array), `sub` required.
///
/// Keys are parsed once, in the constructor. Successful verifications are
/// remembered in a small bounded cache keyed by the SHA-256 of the token
/// (never the token itself), so a client reusing its token pays for the
/// signature only once; time claims are re-checked on every hit.
///
/// Thread-safe: verify() may be called concurrently.
class TokenVerifier
{
public:
    struct Options
    {
        std::string hs256Secret;       ///< HS256 secret, at least 32 bytes; empty disables HS256.
        std::string rs256PublicKeyPem; ///< RS256 public key (PEM); empty disables RS256.
        std::string issuer;            ///< Required `iss`; empty = not checked.
        std::string audience;          ///< Required member of `aud`; empty = not checked.
        int leewaySeconds = 60;        ///< Clock skew tolerated for exp/nbf/iat.
        bool allowTokenRoles = false;  ///< Take Principal::roles from the `roles` claim.
        std::size_t maxTokenBytes = 8192; ///< Longer tokens are refused as malformed before any decoding.
        std::size_t cacheSize = 1024;  ///< Verified tokens remembered; 0 disables the cache.
    };

    /// Reads the options under `<prefix>.jwt`:
    ///   hs256Secret | hs256SecretFile, rs256PublicKeyFile (PEM), issuer, audience,
    ///   leewaySeconds (60), allowTokenRoles (false), maxTokenBytes (8192), cacheSize (1024).
    /// Throws Poco::FileException if a key file cannot be read.
    static Options optionsFromConfig(const Poco::Util::AbstractConfiguration& config,
                                     const std::string& prefix = "auth");

    /// Throws Poco::InvalidArgumentException if no key is configured, the HS256
    /// secret is shorter than 32 bytes, or the public key is not a valid RSA PEM key.
    /// The messages never contain the secret.
    explicit TokenVerifier(const Options& options);

    /// Same as TokenVerifier(optionsFromConfig(config, prefix)).
    explicit TokenVerifier(const Poco::Util::AbstractConfiguration& config,
                           const std::string& prefix = "auth");

    ~TokenVerifier();
    TokenVerifier(const TokenVerifier&) = delete;
    TokenVerifier& operator=(const TokenVerifier&) = delete;

    /// Verifies a compact JWS against the current time.
    VerifyResult verify(std::string_view token) const;

    /// Verifies a compact JWS as of `now` (for tests and replay tools).
    VerifyResult verify(std::string_view token, const Poco::Timestamp& now) const;

    /// Verifies the value of an HTTP Authorization header ("Bearer <token>",
    /// scheme case-insensitive). An empty value or another scheme gives AuthError::Missing.
    VerifyResult verifyAuthorization(std::string_view authorizationHeader) const;

    /// Number of tokens currently cached (for metrics and tests).
    std::size_t cachedTokens() const;

    /// Drops every cached verification (e.g. after a key rotation).
    void clearCache();

private:
    struct Impl;
    std::unique_ptr<Impl> _impl;
};

} // namespace hub::auth
