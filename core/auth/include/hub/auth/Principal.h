#pragma once

#include <Poco/Timestamp.h>

#include <string>
#include <vector>

namespace hub::auth {

/// Who a verified bearer token speaks for.
///
/// A Principal is only ever produced by TokenVerifier after the signature and
/// all time, issuer and audience checks passed. It says who authenticated;
/// what they may do is decided by Access (with roles from the identity store).
struct Principal
{
    /// The token's `sub`: the end user, or the service account for a portal service token.
    std::string subject;

    /// Roles from the token's `roles` claim, only when auth.jwt.allowTokenRoles is true;
    /// otherwise empty, because roles normally come from the identity store.
    std::vector<std::string> roles;

    /// The user a service token acts for (`on_behalf_of`, or `act` as a plain string);
    /// empty for an ordinary user token. Whether this is allowed is decided by Access.
    std::string actingFor;

    /// The token's `jti`, empty when the token has none.
    std::string tokenId;

    /// The signing algorithm that was accepted ("HS256" or "RS256").
    std::string algorithm;

    /// The token's `exp`.
    Poco::Timestamp expiresAt;
};

} // namespace hub::auth
