#include "TokenTestSupport.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

// Issuers on two threads at once, each made for one token as the tests'
// hub::test::token() makes them, with nothing else in the process keeping
// OpenSSL set up (no verifier, no RSA key, no initializeCrypto() until the
// threads are done). Before TokenIssuer held OpenSSL for the process, Poco's
// reference count went 0, 1, 0 with each token and the two threads deleted
// each other's OpenSSL locks: this test crashed (SIGSEGV) in about half of its
// runs, and the cluster test's driver in about one in six.

using namespace hub::auth;
using namespace hub::auth::test;

TEST(TokenIssuerThreads, FreshIssuersOnTwoThreadsAtOnce)
{
    // Two threads turn the count over most often: with more, one of them
    // usually holds a reference while another drops its own.
    constexpr int kThreads = 2;
    constexpr int kTokensEach = 20000;
    std::vector<std::vector<std::string>> tokens(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([t, &tokens] {
            for (int n = 0; n < kTokensEach; ++n)
                tokens[t].push_back(TokenIssuer::hs256(kSecret).issue(claimsFor("u" + std::to_string(t))));
        });
    for (auto& thread : threads)
        thread.join();

    // The tokens made so are good ones (every 50th checked: verifying costs
    // as much as issuing).
    TokenVerifier verifier(hsOptions());
    for (int t = 0; t < kThreads; ++t)
    {
        ASSERT_EQ(tokens[t].size(), static_cast<std::size_t>(kTokensEach));
        for (std::size_t n = 0; n < tokens[t].size(); n += 50)
        {
            const VerifyResult r = verifier.verify(tokens[t][n]);
            ASSERT_TRUE(r.ok()) << tokens[t][n];
            ASSERT_EQ(r.principal.subject, "u" + std::to_string(t));
        }
    }
}
