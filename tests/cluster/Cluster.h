#pragma once
// Several hubd nodes on one store behind Debian's nginx (round robin), on
// loopback, as a university runs them behind its load balancer: the harness of
// tests/cluster and bench/cluster.
//
//     hub::cluster::Cluster cluster({.nodes = 3, .postgres = true});
//     auto r = cluster.request("POST", "/api/v1/applications", body, "t.wang", {{"Idempotency-Key", key}});
//     cluster.kill(1); cluster.restart(1);
//     auto rows = cluster.query("SELECT id FROM flows_applications");
//
// On PostgreSQL every node has its own store.nodeId, data folder and port, and
// all share one database on a private PostgresServer. On SQLite there is one
// node (an SQLite file is one node's). The nodes run the shipped reimbursement
// flow (its working-day reminder rewritten to Options::reminder of calendar
// time) with the hall's test vendor plugins, and deliver their events to a real
// ZeroMQ consumer (hub-portal-consumer), whose output events() reads.

#include "hub/test/ChildProcess.h"
#include "hub/test/Http.h"
#include "hub/test/PostgresServer.h"
#include "hub/test/TempDir.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hub::ldaptest {
class SlapdServer;
}

namespace hub::cluster {

/// Where the harness finds the tree's programs and files (the test's and the
/// bench's compile definitions).
struct Tree {
    std::string hubd;
    std::string portalConsumer;
    std::string catalogDir;
    std::string calendarFile;
    std::string flowsDir;
    std::string hallVendorPluginsDir;
};

class Cluster {
public:
    struct Options {
        int nodes = 1;
        bool postgres = false;
        /// The reimbursement's finance audit reminder (non-interrupting timer).
        std::string reminder = "PT2S";
        /// Deliver events to a hub-portal-consumer.
        bool events = true;
        int ioThreads = 1;
        /// hubd's store.maxSessions (0: its default).
        int maxSessions = 0;
        /// Every node syncs the directory from a private slapd this often (0:
        /// no directory); at most one at a time may run it (identity_sync_runs).
        int syncIntervalSeconds = 0;
    };

    struct Event {
        std::string id, type, subject;
    };

    Cluster(const Tree& tree, Options options);
    /// Stops nginx, the nodes, the consumer and PostgreSQL; never throws.
    ~Cluster();
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    int nodes() const { return static_cast<int>(nodes_.size()); }
    /// nginx's loopback port.
    int port() const { return nginxPort_; }
    std::string url(const std::string& path) const;
    /// A request through nginx as `subject` (a bearer token for it).
    hub::test::HttpResponse request(const std::string& method, const std::string& path, const std::string& body,
                                    const std::string& subject, std::map<std::string, std::string> headers = {},
                                    int timeoutMs = 10000) const;
    /// The same straight to node `n` (0-based), past nginx.
    hub::test::HttpResponse requestNode(int n, const std::string& method, const std::string& path,
                                        const std::string& body, const std::string& subject) const;

    /// SIGKILL node n and reap it.
    void kill(int n);
    /// Starts node n again (on the same port, folder and database); waits until
    /// it serves. A start that exits before it is ready (hubd's 70, e.g. the
    /// store's connect timed out) is tried again 2 s later, up to 5 times, as
    /// the shipped unit's Restart=on-failure does. Call it, like the
    /// constructor, from the thread that keeps the cluster: the nodes die with
    /// the thread that started them.
    void restart(int n);
    bool up(int n) const;
    /// Node n is up and its process has not exited (no crash, no restart needed).
    bool alive(int n);
    /// CPU seconds (user + system) node n's process used so far; 0 when down.
    double cpuSeconds(int n) const;
    /// The same for nginx and for PostgreSQL's processes (server and backends).
    double nginxCpuSeconds() const;
    double postgresCpuSeconds() const;
    /// Starts of a node that exited before it was ready and were tried again
    /// (see startNode()).
    int failedStarts() const { return failedStarts_; }
    /// Node n's output (for a failing test).
    std::string output(int n) const;
    std::string nginxLog() const;

    /// The private PostgreSQL (nullptr on SQLite).
    hub::test::PostgresServer* postgres() { return postgres_.get(); }

    /// Rows of `sql` on the store, columns split at '|' (psql -At, sqlite3's
    /// default list mode). Throws std::runtime_error when it fails.
    std::vector<std::vector<std::string>> query(const std::string& sql) const;
    /// The single value of a one-row, one-column query.
    std::string scalar(const std::string& sql) const;

    /// The events the consumer took so far, in the order it took them (each
    /// id once, the first time).
    std::vector<Event> events() const;
    /// Everything the consumer printed (events on stdout, duplicates and refusals on stderr).
    std::string consumerOutput() const;

private:
    std::string nodeXml(int n) const;
    void startNode(int n);
    void startNginx();

    Tree tree_;
    Options options_;
    hub::test::TempDir dir_{"cluster"};
    std::unique_ptr<hub::test::PostgresServer> postgres_;
    std::unique_ptr<hub::ldaptest::SlapdServer> slapd_;
    std::string database_;
    std::unique_ptr<hub::test::ChildProcess> consumer_;
    int consumerPort_ = 0;
    struct Node {
        int port = 0;
        std::unique_ptr<hub::test::ChildProcess> process;
        std::string lastOutput;  // of the process killed last
    };
    std::vector<Node> nodes_;
    std::unique_ptr<hub::test::ChildProcess> nginx_;
    int nginxPort_ = 0;
    int failedStarts_ = 0;  // the keeping thread's only
    mutable std::mutex mutex_;  // nodes_' processes, between a killer thread and readers
};

/// The secret the nodes verify tokens with.
std::string clusterToken(const std::string& subject);

/// A reimbursement of `amount` yuan (at most 5,000: the finance audit alone).
std::string reimbursementBody(int amount);

}  // namespace hub::cluster
