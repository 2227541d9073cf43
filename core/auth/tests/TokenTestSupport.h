#pragma once

// What the token verifier's tests share: keys, claims and hand-made tokens.

#include "hub/auth/TokenIssuer.h"
#include "hub/auth/TokenVerifier.h"

#include <ostream>
#include <string>

namespace hub::auth {
// Readable failure messages: "token_expired" instead of raw enum bytes.
void PrintTo(AuthError error, std::ostream* os);
} // namespace hub::auth

namespace hub::auth::test {

extern const std::string kSecret;
extern const std::string kIssuer;
extern const std::string kAudience;

std::string b64url(const std::string& bytes);

// Builds "header.payload.signature" by hand, so tests can forge what TokenIssuer never would.
std::string handMadeHs256(const std::string& headerJson, const std::string& payloadJson, const std::string& secret);

std::string nowPlus(int seconds);

struct RsaKeys
{
    std::string publicPem;
    std::string privatePem;
};

// One key pair per test run: generating a 2048-bit key takes a noticeable fraction of a second.
const RsaKeys& rsaKeys(int which = 0);

TokenVerifier::Options hsOptions();
TokenVerifier::Options rsOptions();
TokenClaims claimsFor(const std::string& subject);
std::string validPayload(const std::string& extra = "");

} // namespace hub::auth::test
