#pragma once

#include "hub/api/HttpServer.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hub::auth {
class TokenVerifier;
class Access;
}  // namespace hub::auth

namespace hub::api {

/// What the identity store knows of a person, for authorisation.
struct IdentityInfo {
    std::string name;
    std::string department;
    std::vector<std::string> audiences;
    std::vector<std::string> roles;
};

/// Looks a subject up in the identity store; nothing when unknown. Called on
/// every authenticated request: must be cheap and thread-safe.
using IdentityLookup = std::function<std::optional<IdentityInfo>(const std::string& subject)>;

/// Told of a 403 the authenticator answers (for the audit trail), with the
/// request's principal as far as it was established.
using RefusalObserver = std::function<void(const Request&, const Response&)>;

/// The bearer-token check for every authenticated route: a missing, malformed,
/// expired, wrongly signed or wrong-audience token gets 401 problem+json; a
/// service token acting for a user it may not act for (not a service account,
/// or the user is of none of the audiences the account acts for) gets 403,
/// reported to onRefused. On success request.principal holds the user whose
/// rights apply, with roles and audiences from the identity store; acting for
/// a user, only the audiences and roles the service account is configured for
/// (auth::Access::limitActingFor).
HttpServer::Authenticator makeAuthenticator(const auth::TokenVerifier& verifier, const auth::Access& access,
                                            IdentityLookup identities, RefusalObserver onRefused = {});

}  // namespace hub::api
