#pragma once

// What the flows' end-to-end tests (ShippedFlowsRunTest, FlowApprovalsTest)
// share: a token for a subject, a JSON object from a body.
#include "hub/auth/TokenIssuer.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <string>

namespace hub::test::flows {

/// A 10-minute HS256 token for `subject`, audience campushub.
inline std::string token(const std::string& secret, const std::string& subject) {
    hub::auth::TokenClaims claims;
    claims.subject = subject;
    claims.audience = {"campushub"};
    claims.lifetime = Poco::Timespan(600, 0);
    return hub::auth::TokenIssuer::hs256(secret).issue(claims);
}

inline Poco::JSON::Object::Ptr parse(const std::string& body) {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace hub::test::flows
