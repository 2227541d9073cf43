#include "hub/test/Tokens.h"

#include "hub/auth/TokenIssuer.h"

namespace hub::test {

std::string token(const std::string& secret, const std::string& subject, const TokenOptions& options) {
    hub::auth::TokenClaims c;
    c.subject = subject;
    c.audience = {options.audience};
    c.issuer = options.issuer;
    c.lifetime = options.lifetime;
    c.actingFor = options.actingFor;
    return hub::auth::TokenIssuer::hs256(secret).issue(c);
}

std::map<std::string, std::string> bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

}  // namespace hub::test
