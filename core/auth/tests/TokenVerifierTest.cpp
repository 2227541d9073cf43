#include "hub/auth/TokenIssuer.h"
#include "hub/auth/TokenVerifier.h"

#include <Poco/AutoPtr.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Crypto/DigestEngine.h>
#include <Poco/Crypto/RSAKey.h>
#include <Poco/Exception.h>
#include <Poco/FileStream.h>
#include <Poco/HMACEngine.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <sstream>
#include <thread>

using namespace hub::auth;

namespace hub::auth {
// Readable failure messages: "token_expired" instead of raw enum bytes.
void PrintTo(AuthError error, std::ostream* os)
{
    *os << errorCode(error);
}
} // namespace hub::auth

namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";
const std::string kIssuer = "https://idp.campus.example";
const std::string kAudience = "campushub";

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

std::string b64url(const std::string& bytes)
{
    std::ostringstream out;
    Poco::Base64Encoder encoder(out, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    encoder << bytes;
    encoder.close();
    return out.str();
}

// Builds "header.payload.signature" by hand, so tests can forge what TokenIssuer never would.
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

struct RsaKeys
{
    std::string publicPem;
    std::string privatePem;
};

// One key pair per test run: generating a 2048-bit key takes a noticeable fraction of a second.
const RsaKeys& rsaKeys(int which = 0)
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

std::string validPayload(const std::string& extra = "")
{
    return R"({"sub":"2023010001","iss":")" + kIssuer + R"(","aud":")" + kAudience + R"(","exp":)" + nowPlus(3600)
           + extra + "}";
}

} // namespace

TEST(TokenVerifier, AcceptsValidHs256Token)
{
    TokenVerifier verifier(hsOptions());
    TokenIssuer issuer = TokenIssuer::hs256(kSecret);
    TokenClaims claims = claimsFor("2023010001");
    claims.tokenId = "jti-1";
    claims.roles = {"dept:cs:clerk"};
    const VerifyResult r = verifier.verify(issuer.issue(claims));
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.principal.subject, "2023010001");
    EXPECT_EQ(r.principal.tokenId, "jti-1");
    EXPECT_EQ(r.principal.algorithm, "HS256");
    EXPECT_TRUE(r.principal.roles.empty()) << "token roles must be ignored unless allowed";
    EXPECT_TRUE(r.principal.actingFor.empty());
    EXPECT_NEAR(static_cast<double>(r.principal.expiresAt.epochTime()),
                static_cast<double>(Poco::Timestamp().epochTime() + 3600), 5.0);
}

TEST(TokenVerifier, AcceptsValidRs256Token)
{
    TokenVerifier verifier(rsOptions());
    TokenIssuer issuer = TokenIssuer::rs256(rsaKeys().privatePem);
    EXPECT_EQ(issuer.algorithm(), "RS256");
    const VerifyResult r = verifier.verify(issuer.issue(claimsFor("t-1001")));
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.principal.subject, "t-1001");
    EXPECT_EQ(r.principal.algorithm, "RS256");
}

TEST(TokenVerifier, AcceptsBothAlgorithmsWhenBothKeysConfigured)
{
    TokenVerifier::Options o = hsOptions();
    o.rs256PublicKeyPem = rsaKeys().publicPem;
    TokenVerifier verifier(o);
    EXPECT_TRUE(verifier.verify(TokenIssuer::hs256(kSecret).issue(claimsFor("a"))).ok());
    EXPECT_TRUE(verifier.verify(TokenIssuer::rs256(rsaKeys().privatePem).issue(claimsFor("b"))).ok());
}

TEST(TokenVerifier, ChineseSubjectRoundTrips)
{
    TokenVerifier verifier(hsOptions());
    TokenClaims claims = claimsFor("张三");
    claims.actingFor = "李四·王";
    const VerifyResult r = verifier.verify(TokenIssuer::hs256(kSecret).issue(claims));
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.principal.subject, "张三");
    EXPECT_EQ(r.principal.actingFor, "李四·王");

    // Also as \u escapes, as other issuers write it.
    const std::string token = handMadeHs256(R"({"alg":"HS256"})", validPayload().replace(8, 10, "\\u5f20\\u4e09"), kSecret);
    const VerifyResult escaped = verifier.verify(token);
    ASSERT_TRUE(escaped.ok()) << escaped.detail;
    EXPECT_EQ(escaped.principal.subject, "张三");
}

TEST(TokenVerifier, RefusesExpiredToken)
{
    TokenVerifier verifier(hsOptions());
    TokenIssuer issuer = TokenIssuer::hs256(kSecret);
    const Poco::Timestamp twoHoursAgo = Poco::Timestamp() - Poco::Timespan(2 * 3600, 0);
    const VerifyResult r = verifier.verify(issuer.issue(claimsFor("u"), twoHoursAgo));
    EXPECT_EQ(r.error, AuthError::Expired) << r.detail;
    EXPECT_STREQ(errorCode(r.error), "token_expired");

    // Within the leeway it still passes; just beyond it, it does not.
    TokenClaims claims = claimsFor("u");
    claims.lifetime = Poco::Timespan(60, 0);
    const Poco::Timestamp issued = Poco::Timestamp() - Poco::Timespan(100, 0); // exp = now - 40 s
    const std::string token = issuer.issue(claims, issued);
    EXPECT_TRUE(verifier.verify(token).ok());
    EXPECT_EQ(verifier.verify(token, Poco::Timestamp() + Poco::Timespan(30, 0)).error, AuthError::Expired);
}

TEST(TokenVerifier, RefusesTokenNotYetValid)
{
    TokenVerifier verifier(hsOptions());
    TokenClaims claims = claimsFor("u");
    claims.notBefore = Poco::Timestamp() + Poco::Timespan(600, 0);
    const std::string token = TokenIssuer::hs256(kSecret).issue(claims);
    EXPECT_EQ(verifier.verify(token).error, AuthError::NotYetValid);
    EXPECT_TRUE(verifier.verify(token, Poco::Timestamp() + Poco::Timespan(601, 0)).ok());
}

TEST(TokenVerifier, RefusesIssuedAtInTheFuture)
{
    TokenVerifier verifier(hsOptions());
    const std::string token = TokenIssuer::hs256(kSecret).issue(claimsFor("u"), Poco::Timestamp() + Poco::Timespan(600, 0));
    EXPECT_EQ(verifier.verify(token).error, AuthError::InvalidClaims);
}

TEST(TokenVerifier, RefusesWrongSignature)
{
    TokenVerifier verifier(hsOptions());
    const std::string forged = TokenIssuer::hs256(std::string(40, 'x')).issue(claimsFor("u"));
    EXPECT_EQ(verifier.verify(forged).error, AuthError::BadSignature);

    // A payload edited after signing.
    std::string token = TokenIssuer::hs256(kSecret).issue(claimsFor("u"));
    const std::size_t dot = token.find('.');
    token[dot + 5] = token[dot + 5] == 'A' ? 'B' : 'A';
    EXPECT_EQ(verifier.verify(token).error, AuthError::BadSignature);

    // A truncated signature.
    std::string truncated = TokenIssuer::hs256(kSecret).issue(claimsFor("u"));
    truncated.resize(truncated.size() - 4);
    EXPECT_EQ(verifier.verify(truncated).error, AuthError::BadSignature);

    // RS256 signed with another key pair.
    TokenVerifier rsVerifier(rsOptions());
    EXPECT_EQ(rsVerifier.verify(TokenIssuer::rs256(rsaKeys(1).privatePem).issue(claimsFor("u"))).error,
              AuthError::BadSignature);
}

TEST(TokenVerifier, RefusesWrongAudience)
{
    TokenVerifier verifier(hsOptions());
    TokenIssuer issuer = TokenIssuer::hs256(kSecret);
    TokenClaims claims = claimsFor("u");
    claims.audience = {"some-other-api"};
    EXPECT_EQ(verifier.verify(issuer.issue(claims)).error, AuthError::WrongAudience);
    claims.audience = {};
    EXPECT_EQ(verifier.verify(issuer.issue(claims)).error, AuthError::WrongAudience);
    claims.audience = {"some-other-api", kAudience};
    EXPECT_TRUE(verifier.verify(issuer.issue(claims)).ok()) << "an aud array containing ours is fine";
    claims.audience = {"some-other-api", "third"};
    EXPECT_EQ(verifier.verify(issuer.issue(claims)).error, AuthError::WrongAudience);
    EXPECT_STREQ(errorCode(AuthError::WrongAudience), "wrong_audience");
}

TEST(TokenVerifier, RefusesWrongIssuer)
{
    TokenVerifier verifier(hsOptions());
    TokenIssuer issuer = TokenIssuer::hs256(kSecret);
    TokenClaims claims = claimsFor("u");
    claims.issuer = "https://evil.example";
    EXPECT_EQ(verifier.verify(issuer.issue(claims)).error, AuthError::WrongIssuer);
    claims.issuer.clear();
    EXPECT_EQ(verifier.verify(issuer.issue(claims)).error, AuthError::WrongIssuer);
}

TEST(TokenVerifier, RefusesAlgNone)
{
    TokenVerifier verifier(hsOptions());
    for (const char* alg : {"none", "None", "NONE"})
    {
        const std::string unsigned_ = b64url(std::string(R"({"alg":")") + alg + R"(","typ":"JWT"})") + "."
                                      + b64url(validPayload()) + ".";
        const VerifyResult r = verifier.verify(unsigned_);
        EXPECT_EQ(r.error, AuthError::UnsupportedAlgorithm) << alg << ": " << r.detail;
    }
    // alg none with a (meaningless) signature attached.
    const std::string withSig = handMadeHs256(R"({"alg":"none"})", validPayload(), kSecret);
    EXPECT_EQ(verifier.verify(withSig).error, AuthError::UnsupportedAlgorithm);
}

TEST(TokenVerifier, RefusesOtherAlgorithms)
{
    TokenVerifier verifier(hsOptions());
    for (const char* alg : {"HS384", "HS512", "RS512", "ES256", "hs256", ""})
    {
        const std::string token = handMadeHs256(std::string(R"({"alg":")") + alg + "\"}", validPayload(), kSecret);
        EXPECT_EQ(verifier.verify(token).error, AuthError::UnsupportedAlgorithm) << alg;
    }
    EXPECT_EQ(verifier.verify(handMadeHs256(R"({"alg":"HS256","crit":["exp"]})", validPayload(), kSecret)).error,
              AuthError::UnsupportedAlgorithm);
    EXPECT_EQ(verifier.verify(handMadeHs256(R"({"alg":7})", validPayload(), kSecret)).error, AuthError::Malformed);
    EXPECT_EQ(verifier.verify(handMadeHs256(R"({"typ":"JWT"})", validPayload(), kSecret)).error, AuthError::Malformed);
}

TEST(TokenVerifier, RefusesHs256WhenOnlyRs256IsConfigured)
{
    // The key-confusion attack: sign HS256 with the (public!) RSA key as the HMAC secret.
    const std::string forged = handMadeHs256(R"({"alg":"HS256","typ":"JWT"})", validPayload(), rsaKeys().publicPem);
    TokenVerifier rsOnly(rsOptions());
    const VerifyResult r = rsOnly.verify(forged);
    EXPECT_EQ(r.error, AuthError::UnsupportedAlgorithm) << r.detail;

    // With both configured, HMAC uses only the HS256 secret, so the forgery fails the signature.
    TokenVerifier::Options both = rsOptions();
    both.hs256Secret = kSecret;
    TokenVerifier bothVerifier(both);
    EXPECT_EQ(bothVerifier.verify(forged).error, AuthError::BadSignature);

    // And the reverse: an RS256 token against an HS256-only verifier.
    TokenVerifier hsOnly(hsOptions());
    EXPECT_EQ(hsOnly.verify(TokenIssuer::rs256(rsaKeys().privatePem).issue(claimsFor("u"))).error,
              AuthError::UnsupportedAlgorithm);
}

TEST(TokenVerifier, RefusesGarbage)
{
    TokenVerifier verifier(hsOptions());
    EXPECT_EQ(verifier.verify("").error, AuthError::Missing);
    for (const std::string& garbage : std::vector<std::string>
         {"abc", "a.b", "a.b.c.d", "..", "a..c", ".b.c", "!!!.###.$$$", "eyJ.eyJ.sig", "a b.c.d", "Bearer abc.def.ghi",
          "e30.e30.e30x"})
    {
        const VerifyResult r = verifier.verify(garbage);
        EXPECT_EQ(r.error, AuthError::Malformed) << garbage << ": " << r.detail;
    }
    // Header decodes but is not an object, or is not JSON.
    EXPECT_EQ(verifier.verify(b64url("[1,2]") + "." + b64url(validPayload()) + ".c2ln").error, AuthError::Malformed);
    EXPECT_EQ(verifier.verify(b64url("{\"alg\":") + "." + b64url(validPayload()) + ".c2ln").error, AuthError::Malformed);
    EXPECT_EQ(verifier.verify(b64url(std::string(2000, '{')) + ".e30.c2ln").error, AuthError::Malformed);
    // Correctly signed, but the payload is not a JSON object.
    EXPECT_EQ(verifier.verify(handMadeHs256(R"({"alg":"HS256"})", "not json", kSecret)).error, AuthError::Malformed);
    EXPECT_EQ(verifier.verify(handMadeHs256(R"({"alg":"HS256"})", "[]", kSecret)).error, AuthError::Malformed);
}

TEST(TokenVerifier, RefusesHugeToken)
{
    TokenVerifier verifier(hsOptions());
    // A megabyte of valid base64url, correctly signed: refused by size before any decoding.
    const std::string huge = handMadeHs256(R"({"alg":"HS256"})", validPayload(R"(,"pad":")" + std::string(768 * 1024, 'x') + "\""), kSecret);
    ASSERT_GT(huge.size(), 1000000u);
    const VerifyResult r = verifier.verify(huge);
    EXPECT_EQ(r.error, AuthError::Malformed);
    EXPECT_NE(r.detail.find("longer than"), std::string::npos) << r.detail;
    EXPECT_EQ(verifier.verify(std::string(1 << 20, 'A')).error, AuthError::Malformed);
    EXPECT_EQ(verifier.cachedTokens(), 0u);
}

TEST(TokenVerifier, RefusesNonUtf8Bytes)
{
    TokenVerifier verifier(hsOptions());
    std::string token = TokenIssuer::hs256(kSecret).issue(claimsFor("u"));
    std::string raw = token;
    raw[10] = '\xff';
    EXPECT_EQ(verifier.verify(raw).error, AuthError::Malformed);
    EXPECT_EQ(verifier.verify(token + "\xe5\xbc").error, AuthError::Malformed);
    EXPECT_EQ(verifier.verify(std::string("\xe5\xbc\xa0.\xe4\xb8\x89.x")).error, AuthError::Malformed);

    // Correctly signed, but `sub` holds bytes that are not UTF-8 (a GBK-encoded 张三, then a lone continuation byte).
    for (const std::string& sub : {std::string("\xd5\xc5\xc8\xfd"), std::string("a\x80z"), std::string("\xed\xa0\x80")})
    {
        const std::string payload = R"({"sub":")" + sub + R"(","iss":")" + kIssuer + R"(","aud":")" + kAudience
                                    + R"(","exp":)" + nowPlus(3600) + "}";
        const VerifyResult r = verifier.verify(handMadeHs256(R"({"alg":"HS256"})", payload, kSecret));
        EXPECT_FALSE(r.ok());
        EXPECT_TRUE(r.error == AuthError::Malformed || r.error == AuthError::InvalidClaims) << errorCode(r.error);
    }
}

TEST(TokenVerifier, RequiresExpAndSub)
{
    TokenVerifier verifier(hsOptions());
    const std::string base = R"({"iss":")" + kIssuer + R"(","aud":")" + kAudience + "\"";
    auto verifyPayload = [&](const std::string& payload) {
        return verifier.verify(handMadeHs256(R"({"alg":"HS256"})", payload, kSecret));
    };
    EXPECT_EQ(verifyPayload(base + R"(,"sub":"u"})").error, AuthError::InvalidClaims);                     // no exp
    EXPECT_EQ(verifyPayload(base + R"(,"sub":"u","exp":")" + nowPlus(60) + "\"}").error, AuthError::InvalidClaims); // exp string
    EXPECT_EQ(verifyPayload(base + R"(,"sub":"u","exp":true})").error, AuthError::InvalidClaims);
    EXPECT_EQ(verifyPayload(base + R"(,"sub":"u","exp":1e400})").error == AuthError::None, false);
    EXPECT_EQ(verifyPayload(base + R"(,"exp":)" + nowPlus(60) + "}").error, AuthError::InvalidClaims);      // no sub
    EXPECT_EQ(verifyPayload(base + R"(,"sub":"","exp":)" + nowPlus(60) + "}").error, AuthError::InvalidClaims);
    EXPECT_EQ(verifyPayload(base + R"(,"sub":42,"exp":)" + nowPlus(60) + "}").error, AuthError::InvalidClaims);
    EXPECT_EQ(verifyPayload(base + R"(,"sub":"a\nb","exp":)" + nowPlus(60) + "}").error, AuthError::InvalidClaims);
    EXPECT_TRUE(verifyPayload(base + R"(,"sub":"u","exp":)" + nowPlus(60) + ".5}").ok()) << "fractional exp is legal";
}

TEST(TokenVerifier, ReadsRolesOnlyWhenAllowed)
{
    TokenVerifier::Options o = hsOptions();
    o.allowTokenRoles = true;
    TokenVerifier verifier(o);
    TokenClaims claims = claimsFor("clerk-1");
    claims.roles = {"dept:cs:clerk", "staff"};
    const VerifyResult r = verifier.verify(TokenIssuer::hs256(kSecret).issue(claims));
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.principal.roles, (std::vector<std::string>{"dept:cs:clerk", "staff"}));
    EXPECT_EQ(verifier.verify(handMadeHs256(R"({"alg":"HS256"})", validPayload(R"(,"roles":"admin")"), kSecret)).error,
              AuthError::InvalidClaims);
    EXPECT_EQ(verifier.verify(handMadeHs256(R"({"alg":"HS256"})", validPayload(R"(,"roles":[1])"), kSecret)).error,
              AuthError::InvalidClaims);
}

TEST(TokenVerifier, ReadsActingFor)
{
    TokenVerifier verifier(hsOptions());
    auto principalOf = [&](const std::string& extra) {
        return verifier.verify(handMadeHs256(R"({"alg":"HS256"})", validPayload(extra), kSecret));
    };
    EXPECT_EQ(principalOf(R"(,"on_behalf_of":"2023010002")").principal.actingFor, "2023010002");
    EXPECT_EQ(principalOf(R"(,"act":"2023010003")").principal.actingFor, "2023010003");
    EXPECT_EQ(principalOf(R"(,"act":{"sub":"portal"})").error, AuthError::InvalidClaims);
    EXPECT_EQ(principalOf(R"(,"on_behalf_of":5)").error, AuthError::InvalidClaims);
}

TEST(TokenVerifier, CachesOnlyVerifiedTokensAndRechecksExpiry)
{
    TokenVerifier::Options o = hsOptions();
    o.cacheSize = 3;
    o.leewaySeconds = 0;
    TokenVerifier verifier(o);
    TokenIssuer issuer = TokenIssuer::hs256(kSecret);
    const std::string token = issuer.issue(claimsFor("u"));
    ASSERT_TRUE(verifier.verify(token).ok());
    EXPECT_EQ(verifier.cachedTokens(), 1u);
    const VerifyResult again = verifier.verify(token);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.principal.subject, "u");
    EXPECT_EQ(verifier.cachedTokens(), 1u);

    // The cached token is still refused once it expires.
    EXPECT_EQ(verifier.verify(token, Poco::Timestamp() + Poco::Timespan(3601, 0)).error, AuthError::Expired);
    EXPECT_EQ(verifier.cachedTokens(), 0u);

    // Failures are never cached; the cache stays bounded.
    EXPECT_FALSE(verifier.verify(TokenIssuer::hs256(std::string(32, 'z')).issue(claimsFor("u"))).ok());
    EXPECT_EQ(verifier.cachedTokens(), 0u);
    for (int i = 0; i < 10; ++i)
        ASSERT_TRUE(verifier.verify(issuer.issue(claimsFor("user" + std::to_string(i)))).ok());
    EXPECT_LE(verifier.cachedTokens(), 3u);
    verifier.clearCache();
    EXPECT_EQ(verifier.cachedTokens(), 0u);

    o.cacheSize = 0;
    TokenVerifier uncached(o);
    EXPECT_TRUE(uncached.verify(token).ok());
    EXPECT_EQ(uncached.cachedTokens(), 0u);
}

// The last token each thread verified is answered without the shared cache; it
// must still be checked as the cache is: for its times, for the verifier that
// verified it (not another one, even at the same address), and not after
// clearCache().
TEST(TokenVerifier, EachThreadsLastTokenIsCheckedAsTheCacheIs)
{
    TokenVerifier::Options o = hsOptions();
    o.leewaySeconds = 0;
    TokenVerifier::Options other = o;
    other.hs256Secret = std::string(32, 'q');
    TokenIssuer issuer = TokenIssuer::hs256(kSecret);
    const std::string u = issuer.issue(claimsFor("u"));
    const std::string v = issuer.issue(claimsFor("v"));

    TokenVerifier verifier(o);
    for (int i = 0; i < 3; ++i)
    {
        EXPECT_EQ(verifier.verify(u).principal.subject, "u");
        EXPECT_EQ(verifier.verify(u).principal.subject, "u");
        EXPECT_EQ(verifier.verify(v).principal.subject, "v");
    }
    TokenVerifier otherKey(other);
    EXPECT_EQ(otherKey.verify(u).error, AuthError::BadSignature);

    EXPECT_EQ(verifier.verify(v, Poco::Timestamp() + Poco::Timespan(3601, 0)).error, AuthError::Expired);
    EXPECT_EQ(verifier.cachedTokens(), 1u); // v's entry went with it; u's stays
    EXPECT_TRUE(verifier.verify(u).ok());
    verifier.clearCache();
    EXPECT_TRUE(verifier.verify(u).ok());
    EXPECT_EQ(verifier.cachedTokens(), 1u); // verified again, so cached again

    for (int i = 0; i < 20; ++i)
    {
        {
            auto accepting = std::make_unique<TokenVerifier>(o);
            ASSERT_TRUE(accepting->verify(u).ok());
        }
        auto refusing = std::make_unique<TokenVerifier>(other);
        ASSERT_EQ(refusing->verify(u).error, AuthError::BadSignature);
    }
}

TEST(TokenVerifier, VerifiesConcurrently)
{
    TokenVerifier::Options o = hsOptions();
    o.cacheSize = 8;
    o.rs256PublicKeyPem = rsaKeys().publicPem;
    TokenVerifier verifier(o);
    std::vector<std::string> tokens;
    TokenIssuer hs = TokenIssuer::hs256(kSecret);
    TokenIssuer rs = TokenIssuer::rs256(rsaKeys().privatePem);
    for (int i = 0; i < 16; ++i)
        tokens.push_back((i % 2 ? hs : rs).issue(claimsFor("u" + std::to_string(i))));
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 400; ++i)
            {
                const std::size_t k = static_cast<std::size_t>(i * 7 + t) % tokens.size();
                const VerifyResult r = verifier.verify(tokens[k]);
                if (!r.ok() || r.principal.subject != "u" + std::to_string(k))
                    ++failures;
            }
        });
    for (auto& th : threads)
        th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_LE(verifier.cachedTokens(), 8u);
}

TEST(TokenVerifier, ParsesAuthorizationHeader)
{
    TokenVerifier verifier(hsOptions());
    const std::string token = TokenIssuer::hs256(kSecret).issue(claimsFor("u"));
    EXPECT_TRUE(verifier.verifyAuthorization("Bearer " + token).ok());
    EXPECT_TRUE(verifier.verifyAuthorization("bearer   " + token + "  ").ok());
    EXPECT_EQ(verifier.verifyAuthorization("").error, AuthError::Missing);
    EXPECT_EQ(verifier.verifyAuthorization("Bearer").error, AuthError::Missing);
    EXPECT_EQ(verifier.verifyAuthorization("Bearer   ").error, AuthError::Missing);
    EXPECT_EQ(verifier.verifyAuthorization("Basic dXNlcjpwYXNz").error, AuthError::Missing);
    EXPECT_EQ(verifier.verifyAuthorization("Bearer " + token + " extra").error, AuthError::Malformed);
}

TEST(TokenVerifier, NeverEchoesTokenOrSecretInDetails)
{
    TokenVerifier verifier(hsOptions());
    TokenIssuer issuer = TokenIssuer::hs256(kSecret);
    TokenClaims claims = claimsFor("secret-subject-张三");
    claims.audience = {"evil-audience"};
    claims.issuer = "evil-issuer";
    const std::string token = issuer.issue(claims);
    for (const std::string& t : {token, token.substr(0, token.size() - 3), std::string("x") + token})
    {
        const VerifyResult r = verifier.verify(t);
        ASSERT_FALSE(r.ok());
        EXPECT_FALSE(r.detail.empty());
        EXPECT_EQ(r.detail.find(kSecret), std::string::npos);
        EXPECT_EQ(r.detail.find(t.substr(0, 20)), std::string::npos);
        EXPECT_EQ(r.detail.find("evil"), std::string::npos);
        EXPECT_EQ(r.detail.find("secret-subject"), std::string::npos);
    }
}

TEST(TokenVerifier, ReadsConfiguration)
{
    Poco::TemporaryFile secretFile, keyFile;
    {
        Poco::FileOutputStream out(secretFile.path());
        out << kSecret << "\n";
    }
    {
        Poco::FileOutputStream out(keyFile.path());
        out << rsaKeys().publicPem;
    }
    std::istringstream xml("<hub><auth><jwt>"
                           "<hs256SecretFile>" + secretFile.path() + "</hs256SecretFile>"
                           "<rs256PublicKeyFile>" + keyFile.path() + "</rs256PublicKeyFile>"
                           "<issuer>" + kIssuer + "</issuer><audience>" + kAudience + "</audience>"
                           "<leewaySeconds>5</leewaySeconds><allowTokenRoles>true</allowTokenRoles>"
                           "<cacheSize>16</cacheSize></jwt></auth></hub>");
    Poco::AutoPtr<Poco::Util::XMLConfiguration> config(new Poco::Util::XMLConfiguration(xml));
    const TokenVerifier::Options o = TokenVerifier::optionsFromConfig(*config);
    EXPECT_EQ(o.hs256Secret, kSecret) << "trailing newline of the secret file is trimmed";
    EXPECT_EQ(o.leewaySeconds, 5);
    EXPECT_TRUE(o.allowTokenRoles);
    EXPECT_EQ(o.cacheSize, 16u);
    TokenVerifier verifier(*config);
    EXPECT_TRUE(verifier.verify(TokenIssuer::hs256(kSecret).issue(claimsFor("u"))).ok());
    EXPECT_TRUE(verifier.verify(TokenIssuer::rs256(rsaKeys().privatePem).issue(claimsFor("u"))).ok());

    // A secret with "${...}" is taken literally, not expanded.
    Poco::AutoPtr<Poco::Util::MapConfiguration> map(new Poco::Util::MapConfiguration);
    map->setString("auth.jwt.hs256Secret", "${application.name}-0123456789abcdef0123456789");
    EXPECT_EQ(TokenVerifier::optionsFromConfig(*map).hs256Secret, "${application.name}-0123456789abcdef0123456789");

    // TokenIssuer reads the same keys.
    TokenIssuer fromConfig = TokenIssuer::fromConfig(*config);
    EXPECT_TRUE(verifier.verify(fromConfig.issue(claimsFor("u"))).ok());
}

TEST(TokenVerifier, RefusesBadConfiguration)
{
    TokenVerifier::Options none;
    EXPECT_THROW(TokenVerifier{none}, Poco::InvalidArgumentException);

    TokenVerifier::Options shortSecret;
    shortSecret.hs256Secret = "too-short-secret-value";
    try
    {
        TokenVerifier v(shortSecret);
        FAIL() << "short secret accepted";
    }
    catch (const Poco::InvalidArgumentException& e)
    {
        EXPECT_EQ(e.displayText().find(shortSecret.hs256Secret), std::string::npos) << "secret leaked into the error";
    }

    TokenVerifier::Options badPem;
    badPem.rs256PublicKeyPem = "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n";
    EXPECT_THROW(TokenVerifier{badPem}, Poco::InvalidArgumentException);

    Poco::AutoPtr<Poco::Util::MapConfiguration> map(new Poco::Util::MapConfiguration);
    map->setString("auth.jwt.rs256PublicKeyFile", "/nonexistent/campushub/key.pem");
    EXPECT_THROW(TokenVerifier{*map}, Poco::FileException);

    EXPECT_THROW(TokenIssuer::hs256("short"), Poco::InvalidArgumentException);
    EXPECT_THROW(TokenIssuer::rs256("garbage"), Poco::InvalidArgumentException);
    EXPECT_THROW(TokenIssuer::hs256(kSecret).issue(TokenClaims{}), Poco::InvalidArgumentException);
}

// The last character of a 43-character HS256 signature carries 4 data bits and
// 2 unused ones: every other spelling of it must be refused, not decoded to the
// same signature.
TEST(TokenVerifierCanonical, RefusesEveryOtherSpellingOfTheLastSignatureCharacter)
{
    const std::string secret = "canonical-test-secret-0123456789-abcdefgh";
    hub::auth::TokenVerifier::Options options;
    options.hs256Secret = secret;
    options.cacheSize = 0;
    hub::auth::TokenVerifier verifier(options);
    hub::auth::TokenClaims claims;
    claims.subject = "2023010001";
    const std::string token = hub::auth::TokenIssuer::hs256(secret).issue(claims);
    ASSERT_TRUE(verifier.verify(token).ok());
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int accepted = 0;
    for (char c : alphabet)
    {
        if (c == token.back()) continue;
        std::string changed = token;
        changed.back() = c;
        accepted += verifier.verify(changed).ok();
    }
    EXPECT_EQ(accepted, 0);
}
