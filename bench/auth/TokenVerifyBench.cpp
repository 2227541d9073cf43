// Measures what bearer-token verification costs per request, so we know whether the
// verification cache in hub::auth::TokenVerifier earns its keep. Prints ns/op and
// ratios against Poco::JWT::Signer::verify (+ reading the claims) as the peer.

#include "hub/auth/TokenIssuer.h"
#include "hub/auth/TokenVerifier.h"

#include <Poco/Crypto/Crypto.h>
#include <Poco/Crypto/RSAKey.h>
#include <Poco/JWT/Signer.h>
#include <Poco/JWT/Token.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace hub::auth;

namespace {

const std::string kSecret = "0123456789abcdef0123456789abcdef-bench-secret";

// Best of three runs of `iterations` calls, in nanoseconds per call.
double nsPerOp(int iterations, const std::function<bool()>& op)
{
    double best = 1e300;
    for (int run = 0; run < 3; ++run)
    {
        int ok = 0;
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < iterations; ++i)
            ok += op() ? 1 : 0;
        const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        if (ok != iterations)
        {
            std::fprintf(stderr, "verification failed during benchmark\n");
            std::exit(1);
        }
        best = std::min(best, ns / iterations);
    }
    return best;
}

TokenClaims claims(const std::string& sub)
{
    TokenClaims c;
    c.subject = sub;
    c.issuer = "https://idp.campus.example";
    c.audience = {"campushub"};
    c.roles = {"student"};
    return c;
}

void row(const char* name, double ns, double peerNs)
{
    std::printf("  %-44s %9.0f ns/op  %8.0f ops/s  %5.2fx peer\n", name, ns, 1e9 / ns, peerNs / ns);
}

} // namespace

int main()
{
    // As an application should: otherwise every Poco::Crypto::DigestEngine the peer creates
    // re-initialises OpenSSL and reads /dev/urandom, which would flatter our numbers.
    Poco::Crypto::initializeCrypto();
    Poco::Crypto::RSAKey rsaKey(Poco::Crypto::RSAKey::KL_2048, Poco::Crypto::RSAKey::EXP_LARGE);
    std::ostringstream pub, priv;
    rsaKey.save(&pub, &priv);

    TokenVerifier::Options base;
    base.issuer = "https://idp.campus.example";
    base.audience = "campushub";

    struct Case
    {
        const char* algorithm;
        std::string token;
        TokenVerifier::Options options;
        std::function<bool(const std::string&)> peer;
    };
    std::vector<Case> cases;

    TokenVerifier::Options hs = base;
    hs.hs256Secret = kSecret;
    auto hsSigner = std::make_shared<Poco::JWT::Signer>(kSecret);
    cases.push_back({"HS256", TokenIssuer::hs256(kSecret).issue(claims("2023010001")), hs,
                     [hsSigner](const std::string& t) {
                         Poco::JWT::Token token;
                         return hsSigner->tryVerify(t, token) && !token.getSubject().empty()
                                && token.getExpiration() > Poco::Timestamp();
                     }});

    TokenVerifier::Options rs = base;
    rs.rs256PublicKeyPem = pub.str();
    auto rsSigner = std::make_shared<Poco::JWT::Signer>(Poco::SharedPtr<Poco::Crypto::RSAKey>(new Poco::Crypto::RSAKey(rsaKey)));
    rsSigner->setAlgorithms({Poco::JWT::Signer::ALGO_RS256});
    cases.push_back({"RS256", TokenIssuer::rs256(priv.str()).issue(claims("2023010001")), rs,
                     [rsSigner](const std::string& t) {
                         Poco::JWT::Token token;
                         return rsSigner->tryVerify(t, token) && !token.getSubject().empty()
                                && token.getExpiration() > Poco::Timestamp();
                     }});

    std::printf("Token verification, one thread (best of 3; peer = Poco::JWT::Signer::tryVerify + claims)\n");
    for (Case& c : cases)
    {
        const int n = c.algorithm[0] == 'H' ? 200000 : 20000;
        std::printf("%s (token %zu bytes)\n", c.algorithm, c.token.size());
        const double peer = nsPerOp(n, [&] { return c.peer(c.token); });
        TokenVerifier::Options uncachedOptions = c.options;
        uncachedOptions.cacheSize = 0;
        TokenVerifier uncached(uncachedOptions);
        TokenVerifier cached(c.options);
        const double u = nsPerOp(n, [&] { return uncached.verify(c.token).ok(); });
        const double k = nsPerOp(n, [&] { return cached.verify(c.token).ok(); });
        row("Poco::JWT::Signer (peer)", peer, peer);
        row("TokenVerifier, cache off", u, peer);
        row("TokenVerifier, cache hit", k, peer);
        std::printf("  cache speed-up: %.1fx\n", u / k);

        // Two threads on one verifier: does the cache mutex become the bottleneck?
        for (TokenVerifier* v : {&uncached, &cached})
        {
            const int perThread = n / 2;
            const auto start = std::chrono::steady_clock::now();
            std::thread a([&] { for (int i = 0; i < perThread; ++i) v->verify(c.token); });
            std::thread b([&] { for (int i = 0; i < perThread; ++i) v->verify(c.token); });
            a.join();
            b.join();
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            std::printf("  2 threads, %-10s %9.0f ops/s\n", v == &cached ? "cache hit:" : "cache off:", 2.0 * perThread / s);
        }
    }
    return 0;
}
