// Issue 17: several hubd nodes on one PostgreSQL behind nginx (round robin),
// flooded with applications and flow steps while nodes are SIGKILLed and
// restarted, and while PostgreSQL itself restarts; then the database is
// checked: every acknowledged application once, every event delivered at least
// once and in order per subject, no user task twice, every timer once.
// The same flood runs on SQLite with one node (the node killed and restarted
// under nginx), which keeps the harness honest where PostgreSQL cannot run.

#include "Cluster.h"
#include "Flood.h"

#include "hub/test/Eventually.h"

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <thread>

using hub::cluster::Cluster;
using hub::cluster::Flood;

namespace {

hub::cluster::Tree tree() {
    return {HUBD_EXE, PORTAL_CONSUMER_EXE, CATALOG_DIR, CALENDAR_FILE, FLOWS_DIR, HALL_VENDOR_PLUGINS_DIR};
}

struct Backend {
    const char* name;
    int nodes;
    bool postgres;
};

void PrintTo(const Backend& backend, std::ostream* out) { *out << backend.name; }

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string rowsText(const std::vector<std::vector<std::string>>& rows, std::size_t max = 10) {
    std::string out;
    for (std::size_t n = 0; n < rows.size() && n < max; ++n) {
        for (const auto& cell : rows[n]) out += cell + " ";
        out += "\n";
    }
    return out;
}

// What the database must say after a flood, whatever nodes died meanwhile.
void expectAcknowledgedOnce(Cluster& cluster, const Flood& flood) {
    std::map<std::string, std::string> stored;  // id -> idempotency key
    for (const auto& row : cluster.query("SELECT id, idempotency_key FROM flows_applications WHERE idempotency_key LIKE 'flood-%'"))
        stored[row.at(0)] = row.at(1);
    const auto acked = flood.acknowledged();
    ASSERT_FALSE(acked.empty());
    std::size_t missing = 0;
    for (const auto& [key, id] : acked) {
        auto found = stored.find(id);
        if (found == stored.end() || found->second != key) {
            if (++missing <= 5) ADD_FAILURE() << "acknowledged " << id << " (key " << key << ") is not stored under its key";
        }
    }
    EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged";
    std::cout << "[cluster] " << acked.size() << " acknowledged applications, each stored once" << std::endl;
    EXPECT_TRUE(cluster.query("SELECT idempotency_key, COUNT(*) FROM flows_applications WHERE idempotency_key <> '' "
                              "GROUP BY idempotency_key HAVING COUNT(*) > 1")
                    .empty())
        << "an Idempotency-Key made two applications";
    auto twice = cluster.query("SELECT application_id, COUNT(*) FROM flows_engine_instances GROUP BY application_id HAVING COUNT(*) > 1");
    EXPECT_TRUE(twice.empty()) << "applications with two flow instances:\n" << rowsText(twice);
}

void expectNoTaskTwice(Cluster& cluster) {
    auto twice = cluster.query("SELECT instance_id, element_id, COUNT(*) FROM flows_engine_tasks "
                               "GROUP BY instance_id, element_id HAVING COUNT(*) > 1");
    EXPECT_TRUE(twice.empty()) << "user tasks made twice:\n" << rowsText(twice);
}

// Each reminder fired once, and none was lost: every finance audit still open
// after its reminder was due (plus the time a restarted node needs) has one.
void expectTimersOnce(Cluster& cluster) {
    auto twice = cluster.query("SELECT instance_id, COUNT(*) FROM flows_engine_history WHERE event = 'reminded' "
                               "GROUP BY instance_id HAVING COUNT(*) > 1");
    EXPECT_TRUE(twice.empty()) << "reminders fired twice:\n" << rowsText(twice);
    std::string unreminded;
    bool allFired = hub::test::waitUntil(
        [&] {
            unreminded = cluster.scalar(
                "SELECT COUNT(*) FROM flows_engine_tasks t WHERE t.status = 'open' AND t.element_id = 'Task_FinanceAudit'"
                " AND t.created_at < " + std::to_string(nowMs() - 6000) +
                " AND NOT EXISTS (SELECT 1 FROM flows_engine_history h WHERE h.instance_id = t.instance_id"
                " AND h.event = 'reminded')");
            return unreminded == "0";
        },
        std::chrono::seconds(20), std::chrono::milliseconds(500));
    EXPECT_TRUE(allFired) << unreminded << " open finance audits past their reminder have none";
    const std::string reminded = cluster.scalar("SELECT COUNT(*) FROM flows_engine_history WHERE event = 'reminded'");
    EXPECT_NE(reminded, "0");
    std::cout << "[cluster] " << reminded << " reminders fired" << std::endl;
}

// Every event of the outbox reached the consumer, and per subject in the
// outbox's order (the order of each id's first delivery).
void expectEventsInOrder(Cluster& cluster) {
    auto outbox = cluster.query("SELECT seq, id, subject FROM events_outbox ORDER BY seq");
    ASSERT_FALSE(outbox.empty());
    std::vector<Cluster::Event> delivered;
    std::size_t undelivered = 0;
    bool all = hub::test::waitUntil(
        [&] {
            delivered = cluster.events();
            std::set<std::string> ids;
            for (const auto& e : delivered) ids.insert(e.id);
            undelivered = 0;
            for (const auto& row : outbox) undelivered += ids.count(row.at(1)) ? 0 : 1;
            return undelivered == 0;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(500));
    if (!all) {
        std::set<std::string> ids;
        for (const auto& e : delivered) ids.insert(e.id);
        std::string missing;
        const std::string said = cluster.consumerOutput();
        for (const auto& row : outbox)
            if (!ids.count(row.at(1)) && missing.size() < 2000)
                missing += "seq " + row.at(0) + " " + row.at(1) + " subject " + row.at(2) +
                           (said.find(row.at(1)) == std::string::npos ? " (the consumer never saw its id)"
                                                                      : " (the consumer mentions its id)") +
                           "\n";
        FAIL() << undelivered << " of " << outbox.size() << " events never reached the consumer:\n"
               << missing << "cursors:\n"
               << rowsText(cluster.query("SELECT consumer, seq FROM events_cursor")) << "dead letters:\n"
               << rowsText(cluster.query("SELECT seq, attempts, last_error FROM events_dead_letters"))
               << "deliveries pending:\n"
               << rowsText(cluster.query("SELECT seq, attempts, next_attempt_at, delivered_at FROM events_delivery"
                                         " WHERE delivered_at IS NULL ORDER BY seq"));
    }
    std::map<std::string, std::size_t> position;
    for (std::size_t n = 0; n < delivered.size(); ++n) position[delivered[n].id] = n;
    std::map<std::string, std::pair<std::string, std::size_t>> lastOfSubject;  // subject -> (id, position)
    std::size_t outOfOrder = 0;
    for (const auto& row : outbox) {
        const std::string& id = row.at(1);
        const std::string& subject = row.at(2);
        const std::size_t at = position.at(id);
        auto last = lastOfSubject.find(subject);
        if (last != lastOfSubject.end() && last->second.second > at) {
            if (++outOfOrder <= 5)
                ADD_FAILURE() << "subject " << subject << ": " << id << " (seq " << row.at(0) << ") was delivered before "
                              << last->second.first;
        }
        lastOfSubject[subject] = {id, at};
    }
    EXPECT_EQ(outOfOrder, 0u);
    std::cout << "[cluster] " << outbox.size() << " events of " << lastOfSubject.size() << " subjects, each delivered"
              << std::endl;
}

// The directory sync ran on one node at a time: no two runs overlap (a run a
// SIGKILL cut short has no end; the lease it held ran out before another node
// could start), and a run never holds an older lease than one started before
// it (the fencing token grows with each change of holder). One overlap is
// allowed: a run whose holder was slower than its lease (a loaded machine)
// while a newer holder began, if that run ended "lease-lost". Its writes are
// fenced by its lease token, so nothing it wrote committed after the takeover
// (SyncLease.APausedHolderCommitsNoPageAfterATakeover checks that).
void expectSyncOneNodeAtATime(Cluster& cluster) {
    // status last (shown on failure): a run that noticed it lost the lease ends "lease-lost".
    auto runs = cluster.query("SELECT id, node, lease_token, started_ms, COALESCE(finished_ms, 0), status"
                              " FROM identity_sync_runs ORDER BY started_ms, id");
    ASSERT_FALSE(runs.empty()) << "the directory was never synced";
    std::set<std::string> nodes;
    std::size_t overlaps = 0, fenced = 0;
    for (std::size_t a = 0; a < runs.size(); ++a) {
        nodes.insert(runs[a].at(1));
        const long long startA = std::stoll(runs[a].at(3)), endA = std::stoll(runs[a].at(4));
        const long long tokenA = std::stoll(runs[a].at(2));
        for (std::size_t b = a + 1; b < runs.size(); ++b) {
            const long long startB = std::stoll(runs[b].at(3));
            const long long tokenB = std::stoll(runs[b].at(2));
            const bool fencedOut = runs[a].at(5) == "lease-lost" && tokenB > tokenA;
            const bool overlap = endA != 0 && startB < endA && !fencedOut;
            const bool olderLease = tokenB < tokenA;
            if (endA != 0 && startB < endA && fencedOut) ++fenced;
            if ((overlap || olderLease) && ++overlaps <= 5)
                ADD_FAILURE() << "sync runs " << runs[a].at(0) << " (" << runs[a].at(1) << ", token " << tokenA << ", "
                              << startA << "-" << endA << ", " << runs[a].at(5) << ") and " << runs[b].at(0) << " (" << runs[b].at(1)
                              << ", token " << tokenB << ", from " << startB << ")"
                              << (overlap ? " overlap" : " went back to an older lease");
        }
    }
    EXPECT_EQ(overlaps, 0u) << "runs:\n" << rowsText(runs, 12);
    std::cout << "[cluster] " << runs.size() << " directory syncs on " << nodes.size() << " node(s), " << overlaps
              << " pairs at the same time, " << fenced << " run(s) fenced out by a newer holder" << std::endl;
}

class ClusterFailoverTest : public ::testing::TestWithParam<Backend> {};

}  // namespace

TEST_P(ClusterFailoverTest, SubmitsAndFlowStepsSurviveNodesKilledEveryFewSeconds) {
    const Backend backend = GetParam();
    Cluster cluster(tree(), {.nodes = backend.nodes, .postgres = backend.postgres, .syncIntervalSeconds = 2});
    Flood flood(cluster, {.submitters = 4});
    flood.start();
    // SIGKILL a node every 3 s, round robin, and start it again at once.
    int kills = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < end) {
        std::this_thread::sleep_for(std::chrono::seconds(3));
        const int n = kills++ % cluster.nodes();
        cluster.kill(n);
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        ASSERT_NO_THROW(cluster.restart(n)) << cluster.output(n);
    }
    flood.stop();
    SCOPED_TRACE(flood.summary());
    std::cout << "[cluster] " << backend.name << ": " << kills << " kills, " << cluster.failedStarts()
              << " starts tried again; " << flood.summary() << std::endl;
    EXPECT_TRUE(flood.unexpected().empty()) << flood.unexpected() << "\n" << cluster.output(0);
    EXPECT_GT(flood.steps(), 0u);

    expectAcknowledgedOnce(cluster, flood);
    expectNoTaskTwice(cluster);
    expectTimersOnce(cluster);
    expectEventsInOrder(cluster);
    expectSyncOneNodeAtATime(cluster);
}

TEST_P(ClusterFailoverTest, HubsRecoverWithoutAnOperatorWhenPostgresqlRestartsUnderLoad) {
    const Backend backend = GetParam();
    if (!backend.postgres) GTEST_SKIP() << "PostgreSQL's restart; SQLite's store faults are StoreFaultTest's";
    Cluster cluster(tree(), {.nodes = backend.nodes, .postgres = true});
    Flood flood(cluster, {.submitters = 4});
    flood.start();
    std::this_thread::sleep_for(std::chrono::seconds(6));
    cluster.postgres()->stop();
    std::this_thread::sleep_for(std::chrono::seconds(4));
    cluster.postgres()->start();
    std::this_thread::sleep_for(std::chrono::seconds(12));
    flood.stop();
    SCOPED_TRACE(flood.summary());
    std::cout << "[cluster] postgresql restart: " << flood.summary() << std::endl;
    EXPECT_TRUE(flood.unexpected().empty()) << flood.unexpected();
    // No node died, and each serves again by itself, past nginx.
    for (int n = 0; n < cluster.nodes(); ++n) {
        EXPECT_TRUE(cluster.alive(n)) << cluster.output(n);
        int status = 0;
        EXPECT_TRUE(hub::test::waitUntil(
            [&] {
                try {
                    status = cluster.requestNode(n, "POST", "/api/v1/applications", hub::cluster::reimbursementBody(77),
                                                 "t.wang").status;
                } catch (const std::exception&) {
                    status = -1;
                }
                return status == 201;
            },
            std::chrono::seconds(15), std::chrono::milliseconds(200)))
            << "node " << n + 1 << " answers " << status << "\n" << cluster.output(n);
    }
    EXPECT_GT(flood.acknowledged().size(), 0u);
    expectAcknowledgedOnce(cluster, flood);
    expectNoTaskTwice(cluster);
    expectTimersOnce(cluster);
    expectEventsInOrder(cluster);
}

INSTANTIATE_TEST_SUITE_P(Backends, ClusterFailoverTest,
                         ::testing::Values(Backend{"SqliteOneNode", 1, false}, Backend{"PostgresqlThreeNodes", 3, true}),
                         [](const ::testing::TestParamInfo<Backend>& p) { return std::string(p.param.name); });
