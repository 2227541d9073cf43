#pragma once
// The load a cluster test or bench drives through nginx: applicants submitting
// reimbursements (each with an Idempotency-Key, retried with the same key on
// 502/503/504 and on a dropped connection, as a portal behind a load balancer
// must), and finance clerks completing the audits they open (one flow step
// each: the audit, the voucher's service task, the end).

#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace hub::cluster {

class Cluster;

class Flood {
public:
    struct Options {
        int submitters = 4;
        /// Threads completing finance audits (0: none are completed).
        int clerks = 2;
        /// A clerk leaves an audit open this long (so its reminder fires first).
        int clerkDelayMs = 3000;
        /// How long one request is retried before it is given up.
        int retryForMs = 30000;
        /// Submits per submitter (0: until stop()).
        int submitsEach = 0;
    };

    Flood(Cluster& cluster, Options options);
    /// stop(); never throws.
    ~Flood();
    Flood(const Flood&) = delete;
    Flood& operator=(const Flood&) = delete;

    void start();
    /// Stops the threads after their current request (retried until answered).
    void stop();
    /// Waits until every submitter made its submitsEach.
    void join();

    /// Idempotency-Key -> application id, of every submit acknowledged (201 or 200).
    std::map<std::string, std::string> acknowledged() const;
    std::size_t submits() const { return submits_; }
    std::size_t steps() const { return steps_; }
    std::size_t retries() const { return retries_; }
    std::size_t givenUp() const { return givenUp_; }
    /// Answers no retry explains (a 500, a 400, an id that changed for its key), or "".
    std::string unexpected() const;
    std::string summary() const;
    /// p50 and p99 in milliseconds of acknowledged submits and completed steps
    /// (retries included: what the client waited).
    std::pair<double, double> submitLatency() const;
    std::pair<double, double> stepLatency() const;

private:
    void submitter(int number);
    void fetcher();
    void clerk();
    int send(const std::string& method, const std::string& path, const std::string& body, const std::string& subject,
             const std::string& key, std::string& answer, int* attempts);
    void noteUnexpected(const std::string& what);
    static double percentile(const std::vector<double>& latencies, double p);

    Cluster& cluster_;
    Options options_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> submittersDone_{false};
    std::atomic<std::size_t> submits_{0}, steps_{0}, retries_{0}, givenUp_{0};
    mutable std::mutex mutex_;
    std::map<std::string, std::string> acknowledged_;
    std::vector<std::string> unexpected_;
    std::vector<double> submitLatencies_, stepLatencies_;
    std::vector<std::string> queue_;            // audits to complete
    std::map<std::string, bool> queued_;        // every audit ever queued
    std::vector<std::thread> submitters_, clerks_;
};

}  // namespace hub::cluster
