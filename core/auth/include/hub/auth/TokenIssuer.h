#pragma once

#include <Poco/Timespan.h>
#include <Poco/Timestamp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::auth {

/// What goes into a token made by TokenIssuer.
struct TokenClaims
{
    std::string subject;                ///< `sub`, required.
    std::vector<std::string> roles;     ///< `roles`, written only when not empty.
    std::vector<std::string> audience;  ///< `aud`: one value is written as a string, several as an array.
    std::string issuer;                 ///< `iss`, written only when not empty.
    std::string actingFor;              ///< `on_behalf_of`, for portal service tokens.
    std::string tokenId;                ///< `jti`; a random UUID when empty.
    Poco::Timespan lifetime = Poco::Timespan(3600, 0); ///< `exp` = issued-at + lifetime.
    std::optional<Poco::Timestamp> notBefore;          ///< `nbf`, written only when set.
};

/// Signs tokens for the demo, hubctl and the tests (HS256 or RS256, via Poco::JWT).
/// The hub itself only verifies; production tokens come from the campus identity provider.
class TokenIssuer
{
public:
    /// HS256 with a shared secret (at least 32 bytes; throws Poco::InvalidArgumentException otherwise).
    static TokenIssuer hs256(const std::string& secret);

    /// RS256 with an RSA private key in PEM form.
    static TokenIssuer rs256(const std::string& privateKeyPem, const std::string& passphrase = "");

    /// From `<prefix>.jwt.hs256Secret` / `hs256SecretFile`, else `<prefix>.jwt.rs256PrivateKeyFile`.
    static TokenIssuer fromConfig(const Poco::Util::AbstractConfiguration& config, const std::string& prefix = "auth");

    TokenIssuer(TokenIssuer&&) noexcept;
    TokenIssuer& operator=(TokenIssuer&&) noexcept;
    ~TokenIssuer();

    /// "HS256" or "RS256".
    const std::string& algorithm() const;

    /// A signed compact JWS with iat = now.
    std::string issue(const TokenClaims& claims) const;

    /// A signed compact JWS with iat = `issuedAt` (for tests of expiry and nbf).
    std::string issue(const TokenClaims& claims, const Poco::Timestamp& issuedAt) const;

private:
    struct Impl;
    explicit TokenIssuer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> _impl;
};

} // namespace hub::auth
