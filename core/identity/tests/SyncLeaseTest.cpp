// Several hubs on one database (issue 17): the directory sync runs on one node
// at a time, the holder of the lease identity.sync, and another takes over
// within seconds when it stops or dies. Two or three Syncers ("nodes"), each
// with a Database of its own and its own node id, on one store (one PostgreSQL
// database, or one SQLite file), against the test slapd. Whether runs overlapped
// is read from identity_sync_runs, as an operator would.

#include "hub/identity/IdentityStore.h"
#include "hub/identity/SyncSchedule.h"
#include "hub/identity/Syncer.h"
#include "hub/ldaptest/DirectoryGenerator.h"
#include "hub/ldaptest/SharedDirectory.h"
#include "hub/store/Database.h"
#include "hub/store/Lease.h"
#include "hub/store/LeaseKeeper.h"
#include "hub/test/StoreOptions.h"

#include <Poco/File.h>
#include <Poco/TemporaryFile.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <memory>
#include <sstream>
#include <thread>

using namespace hub::identity;
using namespace std::chrono_literals;

namespace {

// The executable's one slapd (registered in SyncerTest.cpp).
using LeaseDirectory = hub::ldaptest::SharedDirectory<10000>;

constexpr auto leaseTtl = 1500ms;

// Adds a subtree ou=<name> with `count` persons (generator indexes from `first`).
std::string addLeaseSubtree(const std::string& name, std::size_t first, std::size_t count) {
    auto& server = LeaseDirectory::server();
    const std::string base = "ou=" + name + "," + server.suffix();
    std::ostringstream ldif;
    ldif << "dn: " << base << "\nchangetype: add\nobjectClass: organizationalUnit\nou: " << name << "\n\n";
    const auto& gen = LeaseDirectory::generator();
    for (std::size_t i = first; i < first + count; ++i) {
        std::string record = gen.personAddRecord(i);
        const auto p = gen.person(i);
        const std::string oldDn = hub::ldaptest::ldifLine("dn", p.dn);
        record.replace(0, oldDn.size(), "dn: uid=" + p.uid + "," + base + "\n");
        ldif << record;
    }
    server.ldapModify(ldif.str());
    return base;
}

SyncOptions leaseSyncOptions(const std::string& base) {
    SyncOptions o;
    o.ldap = LeaseDirectory::server().connectionOptions();
    o.ldap.pageSize = 25;  // many pages: the lease is checked between them
    o.base = base;
    return o;
}

// One hub: its own connections, node id, syncer and schedule.
struct SyncNode {
    std::unique_ptr<hub::store::Database> db;
    std::unique_ptr<Syncer> syncer;
    SyncSchedule schedule;  // declared last: stopped before the syncer goes

    SyncNode(hub::store::Database::Options options, const std::string& node, const SyncOptions& sync) {
        options.nodeId = node;
        db = std::make_unique<hub::store::Database>(options);
        syncer = std::make_unique<Syncer>(*db, sync);
        syncer->coordinate(leaseTtl);
    }
    void start() { schedule.start(*syncer, 1s, [] {}); }
    // A clean stop: the round in progress ends, then the lease is handed over.
    void stop() {
        schedule.stop();
        syncer.reset();
    }
};

std::vector<IdentityStore::SyncRunRecord> runsOf(hub::store::Database& db, const std::string& source) {
    return IdentityStore(db).syncRuns(source, 10000);
}

std::size_t runsBy(const std::vector<IdentityStore::SyncRunRecord>& runs, const std::string& node) {
    return static_cast<std::size_t>(
        std::count_if(runs.begin(), runs.end(), [&](const auto& r) { return r.node == node && r.status != "running"; }));
}

// Polls until `node` has a finished run, up to `limit`; the time it took.
std::chrono::milliseconds waitForRunBy(hub::store::Database& db, const std::string& source, const std::string& node,
                                       std::chrono::milliseconds limit) {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < limit) {
        if (runsBy(runsOf(db, source), node) > 0) break;
        std::this_thread::sleep_for(50ms);
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

// Runs never overlap: in the order they started, each ended (by the database's
// clock) before the next began, and the lease token never went down.
void expectNoOverlap(const std::vector<IdentityStore::SyncRunRecord>& runs) {
    auto sorted = runs;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.startedMs < b.startedMs; });
    for (std::size_t i = 0; i + 1 < sorted.size(); ++i) {
        const auto& a = sorted[i];
        const auto& b = sorted[i + 1];
        EXPECT_NE(a.finishedMs, 0) << "run " << a.id << " on " << a.node << " never finished";
        EXPECT_LE(a.finishedMs, b.startedMs) << "run " << a.id << " on " << a.node << " overlaps run " << b.id
                                             << " on " << b.node;
        EXPECT_LE(a.leaseToken, b.leaseToken) << "runs " << a.id << " and " << b.id;
    }
}

}  // namespace

TEST(SyncLease, OneNodeSyncsAtATimeAndAnotherTakesOverWithinSeconds) {
    Poco::TemporaryFile dir;
    Poco::File(dir.path()).createDirectories();
    const auto store = hub::test::storeOptions(dir.path());  // one store for every node
    const std::string base = addLeaseSubtree("lease-turns", 60000, 120);
    const SyncOptions sync = leaseSyncOptions(base);

    auto a = std::make_unique<SyncNode>(store, "node-a", sync);
    auto b = std::make_unique<SyncNode>(store, "node-b", sync);
    ASSERT_TRUE(a->syncer->lease()->held()) << "the first node takes the free lease";
    EXPECT_FALSE(b->syncer->lease()->held());

    // A manual run on the node without the lease is refused, naming the holder.
    SyncReport refused = b->syncer->runIncremental();
    EXPECT_FALSE(refused.success);
    EXPECT_EQ(refused.heldBy, "node-a");
    EXPECT_NE(refused.error.find("node-a"), std::string::npos) << refused.error;
    EXPECT_EQ(b->syncer->leaseHeldElsewhere(), "node-a");
    SyncStatus status = b->syncer->status();
    EXPECT_TRUE(status.coordinated);
    EXPECT_FALSE(status.thisNodeHolds);
    EXPECT_EQ(status.leaseHolder, "node-a");

    a->start();
    b->start();
    std::this_thread::sleep_for(3500ms);
    auto runs = runsOf(*a->db, sync.source);
    EXPECT_GE(runsBy(runs, "node-a"), 2u);
    EXPECT_EQ(runsBy(runs, "node-b"), 0u) << "ticks on the node without the lease run nothing";
    for (const auto& r : runs) EXPECT_NE(r.status, "failed") << r.error;

    // node-a stops cleanly: it hands the lease over, node-b runs at once.
    a->stop();
    const auto cleanTakeover = waitForRunBy(*b->db, sync.source, "node-b", 10s);
    EXPECT_LT(cleanTakeover, 4s) << "after a clean stop";
    std::printf("takeover after a clean stop: %lld ms to the new holder's first finished run\n",
                static_cast<long long>(cleanTakeover.count()));

    // node-b dies (stops renewing, never releases): node-c takes over once the
    // lease has expired. node-b's ticks go on and must run nothing.
    auto c = std::make_unique<SyncNode>(store, "node-c", sync);
    c->start();
    std::this_thread::sleep_for(1200ms);
    EXPECT_EQ(runsBy(runsOf(*c->db, sync.source), "node-c"), 0u) << "node-c ran while node-b held the lease";
    b->syncer->lease()->abandon();
    const auto deadTakeover = waitForRunBy(*c->db, sync.source, "node-c", 15s);
    EXPECT_LT(deadTakeover, 6s) << "after the holder died (ttl " << leaseTtl.count() << " ms)";
    std::printf("takeover after the holder died (ttl %lld ms): %lld ms to the new holder's first finished run\n",
                static_cast<long long>(leaseTtl.count()), static_cast<long long>(deadTakeover.count()));
    std::this_thread::sleep_for(1500ms);
    const std::size_t byBAfterDeath = runsBy(runsOf(*c->db, sync.source), "node-b");

    std::this_thread::sleep_for(1500ms);
    c->stop();
    b->stop();

    runs = runsOf(*c->db, sync.source);
    EXPECT_EQ(runsBy(runs, "node-b"), byBAfterDeath) << "the dead node ran again";
    EXPECT_GE(runsBy(runs, "node-c"), 2u);
    expectNoOverlap(runs);
    for (const auto& r : runs) {
        EXPECT_NE(r.status, "running") << "run " << r.id << " on " << r.node;
        EXPECT_GT(r.leaseToken, 0) << "run " << r.id;
    }
    // Every run found the same 120 persons; nothing departed on the way.
    IdentityStore check(*c->db);
    EXPECT_GE(check.countPersons(PersonStatus::Active), 120u);
    EXPECT_EQ(check.countPersons(PersonStatus::Departed), 0u);
}

// The holder checks the lease between pages: a node that loses it mid-run stops
// there, departs nobody and leaves the sync state to the next holder.
TEST(SyncLease, ARoundStopsBetweenPagesWhenTheLeaseIsLost) {
    Poco::TemporaryFile dir;
    Poco::File(dir.path()).createDirectories();
    const auto store = hub::test::storeOptions(dir.path());
    const std::string base = addLeaseSubtree("lease-lost", 61000, 300);
    SyncOptions sync = leaseSyncOptions(base);
    sync.ldap.pageSize = 20;
    sync.transactionPersons = 20;  // a transaction a page, so the stop shows in what is stored
    SyncNode node(store, "node-a", sync);
    ASSERT_TRUE(node.syncer->lease()->held());

    // A complete run first, so a partial second one could depart persons.
    ASSERT_TRUE(node.syncer->runFull().success);
    const auto stateBefore = node.syncer->identityStore().readSyncState(sync.source);

    // Again, and the lease is lost after the first page of 15.
    SyncOptions next = sync;
    next.onProgress = [&node](std::size_t read) {
        if (read >= 20 && node.syncer->lease()->held()) node.syncer->lease()->abandon();
    };
    node.syncer->setOptions(next);
    SyncReport r = node.syncer->runFull();
    EXPECT_FALSE(r.success);
    EXPECT_TRUE(r.leaseLost) << r.error;
    EXPECT_EQ(r.departed, 0u);
    EXPECT_LT(r.read, 300u) << "the run read on after losing the lease";

    const auto runs = runsOf(*node.db, sync.source);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].status, "ok");
    EXPECT_EQ(runs[1].status, "lease-lost");
    EXPECT_EQ(runs[1].node, "node-a");
    const auto stateAfter = node.syncer->identityStore().readSyncState(sync.source);
    EXPECT_EQ(stateAfter.lastRunAt, stateBefore.lastRunAt) << "a node without the lease wrote the sync state";
    EXPECT_EQ(IdentityStore(*node.db).countPersons(PersonStatus::Departed), 0u);

    // Without the lease nothing runs at all.
    SyncReport refused = node.syncer->runFull();
    EXPECT_FALSE(refused.success);
    EXPECT_FALSE(refused.heldBy.empty());
    EXPECT_EQ(runsOf(*node.db, sync.source).size(), 2u);
}

// A run an admin asks for on a node without the lease is recorded, and the
// holder runs it within seconds.
TEST(SyncLease, ARunAskedForOnAnotherNodeRunsOnTheHolder) {
    Poco::TemporaryFile dir;
    Poco::File(dir.path()).createDirectories();
    const auto store = hub::test::storeOptions(dir.path());
    const std::string base = addLeaseSubtree("lease-request", 63000, 40);
    const SyncOptions sync = leaseSyncOptions(base);
    SyncNode a(store, "node-a", sync);
    SyncNode b(store, "node-b", sync);
    ASSERT_TRUE(a.syncer->lease()->held());
    a.start();
    ASSERT_LT(waitForRunBy(*a.db, sync.source, "node-a", 10s), 10s);  // the first scheduled run

    const std::size_t before = runsOf(*a.db, sync.source).size();
    ASSERT_FALSE(b.syncer->runFull().heldBy.empty());
    const long long request = b.syncer->requestRun(true, false);
    EXPECT_GT(request, 0);
    EXPECT_EQ(b.syncer->status().requestsPending, 1u);

    // The holder takes it (every 2 s) and runs a full sync for it.
    const auto start = std::chrono::steady_clock::now();
    bool answered = false;
    while (!answered && std::chrono::steady_clock::now() - start < 10s) {
        for (const auto& r : runsOf(*a.db, sync.source))
            answered = answered || (r.what == "full" && r.node == "node-a" && r.status == "ok");
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(answered) << "the holder never ran the requested full sync";
    EXPECT_EQ(b.syncer->status().requestsPending, 0u);
    a.stop();
    b.stop();
    const auto runs = runsOf(*b.db, sync.source);
    EXPECT_GT(runs.size(), before);
    EXPECT_EQ(runsBy(runs, "node-b"), 0u);
    expectNoOverlap(runs);
}

namespace {

// A node paused (GC, swap, I/O) past the lease's time to live: in the database
// its tenure is over, while its own clock, and so held(), still says it holds
// the lease. The test plays the pause by expiring the row itself, then another
// node takes the lease over as it would once the time to live had run out.
void takeOverFromAPausedHolder(hub::store::Database& db, hub::store::Lease& next) {
    {
        Poco::Data::Session s = db.session();
        s << "UPDATE store_leases SET expires_at_ms = 0 WHERE name = 'identity.sync'", Poco::Data::Keywords::now;
    }
    ASSERT_TRUE(next.tryAcquire()) << "the second node could not take the expired lease";
}

// node-a's keeper renews every 20 s: for the length of a test its held() stays
// true after the takeover, as a paused node's would, so only the fence stops it.
constexpr auto pausedHolderTtl = 60s;

}  // namespace

// Each write of a run is fenced by the lease token, inside its transaction:
// once another node holds the lease, a run that still thinks it holds it
// commits no further page of persons, stops, and is recorded as lease-lost.
TEST(SyncLease, APausedHolderCommitsNoPageAfterATakeover) {
    Poco::TemporaryFile dir;
    Poco::File(dir.path()).createDirectories();
    auto store = hub::test::storeOptions(dir.path());
    const std::string base = addLeaseSubtree("lease-fenced", 64000, 300);
    SyncOptions sync = leaseSyncOptions(base);
    sync.ldap.pageSize = 20;
    sync.transactionPersons = 20;  // a transaction a page

    store.nodeId = "node-a";
    hub::store::Database dbA(store);
    Syncer a(dbA, sync);
    a.coordinate(pausedHolderTtl);
    ASSERT_TRUE(a.lease()->held());
    store.nodeId = "node-b";
    hub::store::Database dbB(store);
    hub::store::Lease b(dbB, "identity.sync", "node-b", pausedHolderTtl);

    // The takeover happens while node-a's reader waits after its first page;
    // its writer may be committing that page meanwhile (the takeover then
    // waits for it: on PostgreSQL for the share lock, on SQLite for the file).
    bool takenOver = false;
    std::size_t storedAtTakeover = 0;
    std::int64_t tokenA = a.lease()->token();
    SyncOptions next = sync;
    next.onProgress = [&](std::size_t read) {
        if (read < 20 || takenOver) return;
        takeOverFromAPausedHolder(dbB, b);
        takenOver = true;
        storedAtTakeover = IdentityStore(dbB).countPersons(PersonStatus::Active);
    };
    a.setOptions(next);
    SyncReport r = a.runFull();
    ASSERT_TRUE(takenOver);
    EXPECT_TRUE(a.lease()->held()) << "node-a's keeper noticed the takeover: the fence was not what stopped the run";
    EXPECT_GT(b.token(), tokenA);

    EXPECT_FALSE(r.success);
    EXPECT_TRUE(r.leaseLost) << r.error;
    EXPECT_LE(storedAtTakeover, 20u);
    EXPECT_EQ(IdentityStore(dbB).countPersons(PersonStatus::Active), storedAtTakeover)
        << "node-a committed persons after node-b took the lease over";
    const auto runs = runsOf(dbB, sync.source);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].node, "node-a");
    EXPECT_EQ(runs[0].status, "lease-lost");
    EXPECT_EQ(runs[0].leaseToken, tokenA);
    EXPECT_TRUE(IdentityStore(dbB).readSyncState(sync.source).lastRunAt.empty())
        << "node-a wrote the sync state after the takeover";
}

// The same for the departures a run applies after its read: a paused holder
// departs nobody once another node holds the lease.
TEST(SyncLease, APausedHolderDepartsNobodyAfterATakeover) {
    Poco::TemporaryFile dir;
    Poco::File(dir.path()).createDirectories();
    auto store = hub::test::storeOptions(dir.path());
    const std::size_t first = 65000, count = 100;
    const std::string base = addLeaseSubtree("lease-fenced-departures", first, count);
    SyncOptions sync = leaseSyncOptions(base);

    store.nodeId = "node-a";
    hub::store::Database dbA(store);
    Syncer a(dbA, sync);
    a.coordinate(pausedHolderTtl);
    ASSERT_TRUE(a.lease()->held());
    ASSERT_TRUE(a.runFull().success);
    const auto stateBefore = a.identityStore().readSyncState(sync.source);

    // Three persons leave the directory (under the delete guard's 5 %).
    const auto& gen = LeaseDirectory::generator();
    std::ostringstream gone;
    for (std::size_t i = first; i < first + 3; ++i)
        gone << "dn: uid=" << gen.person(i).uid << "," << base << "\nchangetype: delete\n\n";
    LeaseDirectory::server().ldapModify(gone.str());

    store.nodeId = "node-b";
    hub::store::Database dbB(store);
    hub::store::Lease b(dbB, "identity.sync", "node-b", pausedHolderTtl);
    bool takenOver = false;
    SyncOptions next = sync;
    next.onProgress = [&](std::size_t read) {
        // After the last page: the read is complete, the departures are next.
        if (read < count - 3 || takenOver) return;
        takeOverFromAPausedHolder(dbB, b);
        takenOver = true;
    };
    a.setOptions(next);
    SyncReport r = a.runFull();
    ASSERT_TRUE(takenOver);
    EXPECT_TRUE(a.lease()->held()) << "node-a's keeper noticed the takeover: the fence was not what stopped the run";
    EXPECT_EQ(r.wouldDepart, 3u);
    EXPECT_TRUE(r.leaseLost) << r.error;
    EXPECT_EQ(IdentityStore(dbB).countPersons(PersonStatus::Departed), 0u)
        << "node-a departed persons after node-b took the lease over";
    EXPECT_EQ(IdentityStore(dbB).countPersons(PersonStatus::Active), count);
    const auto runs = runsOf(dbB, sync.source);
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[1].status, "lease-lost");
    EXPECT_EQ(IdentityStore(dbB).readSyncState(sync.source).lastRunAt, stateBefore.lastRunAt);
}
