// hubctl token: prints a bearer token signed with the hub's configured key
// (HS256 secret or RS256 private key), for operators, the demo and tests.
//   hubctl token --config hub.xml --sub 2023010001 [--ttl 3600] [--on-behalf-of ID] [--roles a,b]
#include "Cli.h"

#include "hub/auth/TokenIssuer.h"

#include <Poco/AutoPtr.h>
#include <Poco/Crypto/Crypto.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/XMLConfiguration.h>

#include <iostream>

// Named inside the anonymous namespace: a unity build compiles the command
// files together, and each has its own list(), status() and registration.
namespace {
namespace token_command {

struct TokenOptions {
    std::string subject;
    int ttl = 3600;
    std::string onBehalfOf;
    std::string roles;
};

int mint(const hubctl::GlobalOptions& global, const TokenOptions& o) {
    if (global.config.empty())
        throw hubctl::Failure(hubctl::exitUsage, "token needs the hub's configuration (--config FILE) for its key");
    Poco::Crypto::initializeCrypto();
    Poco::AutoPtr<Poco::Util::XMLConfiguration> config(new Poco::Util::XMLConfiguration(global.config));
    auto issuer = hub::auth::TokenIssuer::fromConfig(*config, "auth");
    hub::auth::TokenClaims claims;
    claims.subject = o.subject;
    claims.audience = {config->getString("auth.jwt.audience", "campushub")};
    claims.issuer = config->getString("auth.jwt.issuer", "");
    claims.actingFor = o.onBehalfOf;
    claims.lifetime = Poco::Timespan(o.ttl, 0);
    if (!o.roles.empty()) {
        Poco::StringTokenizer t(o.roles, ",", Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
        claims.roles.assign(t.begin(), t.end());
    }
    std::string token = issuer.issue(claims);
    Poco::Crypto::uninitializeCrypto();
    if (global.json)
        std::cout << "{\"token\":\"" << token << "\"}\n";  // a JWT is base64url and dots: nothing to escape
    else
        std::cout << token << "\n";
    return hubctl::exitOk;
}

const hubctl::Registration registration(90, [](hubctl::Commands& c) {
    auto o = std::make_shared<TokenOptions>();
    auto* token = c.leaf(c.root(), "token", "print a bearer token signed with the configured key (offline)",
                         [&global = c.options(), o] { return mint(global, *o); });
    token->add_option("-s,--sub", o->subject, "the token's subject: a user id or a service account")->required();
    token->add_option("-t,--ttl", o->ttl, "lifetime in seconds")->check(CLI::Range(1, 366 * 86400))->capture_default_str();
    token->add_option("-o,--on-behalf-of", o->onBehalfOf, "for a service account: the user it acts for");
    token->add_option("-r,--roles", o->roles, "roles claim, comma separated (only if the hub allows token roles)");
});

}  // namespace token_command
}  // namespace
