#include "hub/api/Authentication.h"

#include "hub/auth/Access.h"
#include "hub/auth/TokenVerifier.h"

namespace hub::api {

HttpServer::Authenticator makeAuthenticator(const auth::TokenVerifier& verifier, const auth::Access& access,
                                            IdentityLookup identities, RefusalObserver onRefused) {
    return [&verifier, &access, identities = std::move(identities),
            onRefused = std::move(onRefused)](Request& request) -> std::optional<Response> {
        auto verified = verifier.verifyAuthorization(request.header("Authorization"));
        if (!verified.ok()) {
            Response r = problem(401, verified.detail, auth::errorTitle(verified.error),
                                 std::string("urn:campushub:problem:") + auth::errorCode(verified.error));
            // RFC 6750: tell the client how to authenticate.
            r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"campushub\"");
            return r;
        }
        auto actor = access.resolveActor(verified.principal);
        if (!actor.allowed) {
            Response refusal =
                problem(403, actor.reason, "Not allowed to act for this user", "urn:campushub:problem:acting-for");
            if (onRefused) {
                // As the token claimed it: its subject, acting for whom it named.
                const auth::Principal& claimed = verified.principal;
                request.principal.subject = claimed.actingFor.empty() ? claimed.subject : claimed.actingFor;
                request.principal.viaService = claimed.actingFor.empty() ? std::string() : claimed.subject;
                onRefused(request, refusal);
                request.principal = Principal{};
            }
            return refusal;
        }
        Principal& p = request.principal;
        p.subject = std::move(actor.actor.subject);
        p.viaService = std::move(actor.actor.viaService);
        p.roles = std::move(actor.actor.roles);
        if (identities) {
            if (auto info = identities(p.subject)) {
                p.audiences = std::move(info->audiences);
                p.department = std::move(info->department);
                p.roles.insert(p.roles.end(), info->roles.begin(), info->roles.end());
            }
        }
        // A service acting for a user carries only what it was configured to.
        if (!p.viaService.empty()) {
            if (std::string why = access.limitActingFor(p.viaService, p.audiences, p.roles); !why.empty()) {
                Response refusal =
                    problem(403, why, "Not allowed to act for this user", "urn:campushub:problem:acting-for");
                if (onRefused) onRefused(request, refusal);
                return refusal;
            }
        }
        return std::nullopt;
    };
}

}  // namespace hub::api
