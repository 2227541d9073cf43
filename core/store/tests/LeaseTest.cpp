#include "Backends.h"
#include "hub/store/Database.h"
#include "hub/store/Lease.h"
#include "hub/test/Eventually.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

using hub::store::Database;
using hub::store::Lease;
using namespace std::chrono_literals;

namespace {
class LeaseOnEachBackend : public hub::store::testing::OnEachBackend {};
HUB_STORE_ON_EACH_BACKEND(LeaseOnEachBackend);

// A node: its own Database (its own pool, as another hubd would have).
struct Node {
    explicit Node(const Database::Options& options, const std::string& id, std::chrono::milliseconds ttl = 1000ms)
        : db(options), lease((Lease::migrate(db), db), "ldap-sync", id, ttl) {}
    Database db;
    Lease lease;
};
}  // namespace

TEST_P(LeaseOnEachBackend, OneNodeTakesItRenewsItAndGivesItBack) {
    Node a(options(), "node-a");
    EXPECT_FALSE(a.lease.held());
    ASSERT_TRUE(a.lease.tryAcquire());
    EXPECT_TRUE(a.lease.held());
    const auto token = a.lease.token();
    EXPECT_GE(token, 1);
    ASSERT_TRUE(a.lease.tryAcquire());  // a renewal: same tenure, same token
    EXPECT_EQ(a.lease.token(), token);
    auto holder = Lease::current(a.db, "ldap-sync");
    ASSERT_TRUE(holder);
    EXPECT_EQ(holder->node, "node-a");
    a.lease.release();
    EXPECT_FALSE(a.lease.held());
    EXPECT_FALSE(Lease::current(a.db, "ldap-sync"));
}

// Two nodes on one PostgreSQL: one holds; when it stops renewing (it died) the
// other takes over once the lease expires, and by then the first no longer
// counts itself the holder.
TEST(LeaseOnPostgres, TheOtherNodeTakesOverWhenTheHolderStopsRenewing) {
    const auto options = hub::store::testing::freshPostgres();
    Node a(options, "node-a"), b(options, "node-b");
    ASSERT_TRUE(a.lease.tryAcquire());
    EXPECT_FALSE(b.lease.tryAcquire());
    EXPECT_FALSE(b.lease.held());
    const auto tokenA = a.lease.token();
    // a stops renewing; b keeps trying, as its scheduler would.
    const auto stopped = std::chrono::steady_clock::now();
    ASSERT_TRUE(hub::test::waitUntil([&] { return b.lease.tryAcquire(); }, 10s, 20ms));
    EXPECT_FALSE(a.lease.held()) << "two nodes counted themselves the holder";
    EXPECT_GT(b.lease.token(), tokenA);
    EXPECT_EQ(Lease::current(b.db, "ldap-sync")->node, "node-b");
    EXPECT_FALSE(a.lease.tryAcquire());  // a comes back: b holds it now
    std::printf("[ stats    ] takeover %.2f s after the holder's last renewal (ttl 1 s)\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count());
}

TEST(LeaseOnPostgres, AReleasedLeaseIsTakenAtOnce) {
    const auto options = hub::store::testing::freshPostgres();
    Node a(options, "node-a", 60s), b(options, "node-b", 60s);
    ASSERT_TRUE(a.lease.tryAcquire());
    EXPECT_FALSE(b.lease.tryAcquire());
    a.lease.release();
    EXPECT_TRUE(b.lease.tryAcquire());
}

// Both nodes in a tight loop of trying, the holder giving the lease up now and
// then: never two holders at once, tenures in token order, and the lease did change hands.
TEST(LeaseOnPostgres, TwoNodesTryingInATightLoopNeverBothHoldIt) {
    const auto options = hub::store::testing::freshPostgres();
    std::atomic<int> inside{0}, overlaps{0}, tenures{0};
    std::atomic<std::int64_t> lastToken{0};
    std::atomic<int> tokenRegressions{0};
    auto run = [&](const std::string& id, unsigned seed) {
        Node node(options, id);
        std::mt19937 random(seed);
        std::int64_t myToken = 0;
        const auto end = std::chrono::steady_clock::now() + 4s;
        while (std::chrono::steady_clock::now() < end) {
            if (!node.lease.tryAcquire()) continue;
            if (node.lease.token() != myToken) {  // a new tenure
                myToken = node.lease.token();
                ++tenures;
                if (myToken <= lastToken.exchange(myToken)) ++tokenRegressions;
            }
            if (!node.lease.held()) continue;
            if (++inside != 1) ++overlaps;
            std::this_thread::sleep_for(std::chrono::microseconds(random() % 500));
            --inside;
            if (random() % 4 == 0) node.lease.release();
        }
        node.lease.release();
    };
    std::thread a(run, "node-a", 1), b(run, "node-b", 2);
    a.join();
    b.join();
    EXPECT_EQ(overlaps, 0);
    EXPECT_EQ(tokenRegressions, 0);
    EXPECT_GE(tenures, 10) << "the lease hardly changed hands: the test proved little";
    std::printf("[ stats    ] %d tenures in 4 s\n", tenures.load());
}

#include "hub/store/LeaseKeeper.h"

// Keepers on two nodes: one holds; when it dies (stops renewing, no release)
// the other is told it holds the lease within seconds, and the first was told
// it lost it; a keeper that stops cleanly hands over at once.
TEST(LeaseKeeperOnPostgres, TheOtherNodeIsToldWhenItTakesOver) {
    const auto options = hub::store::testing::freshPostgres();
    Database dbA(options), dbB(options);
    std::atomic<int> acquiredA{0}, lostA{0}, acquiredB{0};
    auto a = std::make_unique<hub::store::LeaseKeeper>(
        dbA, "flows.timers", "node-a", 1000ms,
        hub::store::LeaseKeeper::Callbacks{[&](std::int64_t) { ++acquiredA; }, [&] { ++lostA; }});
    ASSERT_TRUE(hub::test::waitUntil([&] { return a->held(); }));
    auto b = std::make_unique<hub::store::LeaseKeeper>(
        dbB, "flows.timers", "node-b", 1000ms,
        hub::store::LeaseKeeper::Callbacks{[&](std::int64_t) { ++acquiredB; }, {}});
    EXPECT_TRUE(hub::test::waitUntil([&] { return acquiredA == 1; }));  // told just after it holds
    EXPECT_FALSE(b->held());
    a->abandon();  // a dies
    EXPECT_FALSE(a->held());
    EXPECT_EQ(lostA, 1);
    ASSERT_TRUE(hub::test::waitUntil([&] { return b->held(); }, 10s));
    EXPECT_TRUE(hub::test::waitUntil([&] { return acquiredB == 1; }));
    EXPECT_GT(b->token(), 0);
    a.reset();
    // b stops cleanly (releases): a keeper with a ttl of a minute still gets
    // the lease at once, not after b's time to live.
    b.reset();
    hub::store::LeaseKeeper c(dbA, "flows.timers", "node-c", 60000ms);
    ASSERT_TRUE(hub::test::waitUntil([&] { return c.held(); }, 10s));
    EXPECT_EQ(Lease::current(dbA, "flows.timers")->node, "node-c");
}
