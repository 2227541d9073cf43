#include "TokenTestSupport.h"

#include <Poco/Base64Encoder.h>
#include <Poco/Crypto/DigestEngine.h>
#include <Poco/Crypto/RSAKey.h>
#include <Poco/HMACEngine.h>
#include <Poco/Timestamp.h>

#include <mutex>
#include <sstream>

namespace hub::auth {
// Readable failure messages: "token_expired" instead of raw enum bytes.
void PrintTo(AuthError error, std::ostream* os)
{
    *os << errorCode(error);
}
} // namespace hub::auth

namespace hub::auth::test {

const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";
const std::string kIssuer = "https://idp.campus.example";
const std::string kAudience = "campushub";

namespace {

class Sha256Engine : public Poco::Crypto::DigestEngine
{
public:
    enum
    {
        BLOCK_SIZE = 64,
        DIGEST_SIZE = 32
    };
    Sha256Engine() : Poco::Crypto::DigestEngine("SHA256") {}
};

} // namespace

std::string b64url(const std::string& bytes)
{
    std::ostringstream out;
    Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    encoder << bytes;
    encoder.close();
    return out.str();
}

std::string handMadeHs256(const std::string& headerJson, const std::string& payloadJson, const std::string& secret)
{
    const std::string input = b64url(headerJson) + "." + b64url(payloadJson);
    Poco::HMACEngine<Sha256Engine> hmac(secret);
    hmac.update(input);
    const Poco::DigestEngine::Digest& d = hmac.digest();
    return input + "." + b64url(std::string(d.begin(), d.end()));
}

std::string nowPlus(int seconds)
{
    return std::to_string(Poco::Timestamp().epochTime() + seconds);
}

const RsaKeys& rsaKeys(int which)
{
    static RsaKeys keys[2];
    static std::once_flag once[2];
    std::call_once(once[which], [which] {
        Poco::Crypto::RSAKey key(Poco::Crypto::RSAKey::KL_2048, Poco::Crypto::RSAKey::EXP_LARGE);
        std::ostringstream pub, priv;
        key.save(&pub, &priv);
        keys[which] = {pub.str(), priv.str()};
    });
    return keys[which];
}

TokenVerifier::Options hsOptions()
{
    TokenVerifier::Options o;
    o.hs256Secret = kSecret;
    o.issuer = kIssuer;
    o.audience = kAudience;
    return o;
}

TokenVerifier::Options rsOptions()
{
    TokenVerifier::Options o;
    o.rs256PublicKeyPem = rsaKeys().publicPem;
    o.issuer = kIssuer;
    o.audience = kAudience;
    return o;
}

TokenClaims claimsFor(const std::string& subject)
{
    TokenClaims c;
    c.subject = subject;
    c.issuer = kIssuer;
    c.audience = {kAudience};
    return c;
}

std::string validPayload(const std::string& extra)
{
    return R"({"sub":"2023010001","iss":")" + kIssuer + R"(","aud":")" + kAudience + R"(","exp":)" + nowPlus(3600)
           + extra + "}";
}

} // namespace hub::auth::test
