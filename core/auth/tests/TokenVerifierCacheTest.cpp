#include "TokenTestSupport.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

// The caches in front of a verification: the shared one and each thread's last token.

using namespace hub::auth;
using namespace hub::auth::test;

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
