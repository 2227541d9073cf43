#include "TokenTestSupport.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/FileStream.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <sstream>

using namespace hub::auth;
using namespace hub::auth::test;

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
