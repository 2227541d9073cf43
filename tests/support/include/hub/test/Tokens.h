#pragma once

#include <Poco/Timespan.h>

#include <map>
#include <string>

namespace hub::test {

/// What a test token claims besides its subject; the defaults are what the
/// tests' hub.xml files accept (audience campushub, ten minutes, no issuer).
struct TokenOptions {
    std::string audience = "campushub";
    std::string issuer;                        ///< Empty: none.
    Poco::Timespan lifetime = Poco::Timespan(600, 0);
    std::string actingFor;                     ///< Empty: none.
};

/// An HS256 JWT for `subject`, signed with `secret` (hub.xml's auth.jwt.hs256Secret).
std::string token(const std::string& secret, const std::string& subject, const TokenOptions& options = {});

/// The Authorization header that carries `token`, for hub::test::httpRequest.
std::map<std::string, std::string> bearer(const std::string& token);

}  // namespace hub::test
