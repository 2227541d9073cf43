#include "Flood.h"

#include "Cluster.h"

#include "hub/test/Json.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <sstream>

namespace hub::cluster {

namespace {

using SteadyClock = std::chrono::steady_clock;

std::int64_t epochMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

bool worthRetrying(int status) { return status == 502 || status == 503 || status == 504; }

}  // namespace

Flood::Flood(Cluster& cluster, Options options) : cluster_(cluster), options_(options) {}

Flood::~Flood() {
    try {
        stop();
    } catch (...) {
    }
}

void Flood::start() {
    for (int n = 0; n < options_.submitters; ++n) submitters_.emplace_back([this, n] { submitter(n); });
    if (options_.clerks > 0) {
        clerks_.emplace_back([this] { fetcher(); });
        for (int n = 0; n < options_.clerks; ++n) clerks_.emplace_back([this] { clerk(); });
    }
}

void Flood::join() {
    for (auto& t : submitters_)
        if (t.joinable()) t.join();
    submittersDone_ = true;
}

void Flood::stop() {
    stopping_ = true;
    join();
    for (auto& t : clerks_)
        if (t.joinable()) t.join();
}

// One request, retried (with the same Idempotency-Key, if any) while the
// answer says a node or the store is away; the final status, 0 when given up.
int Flood::send(const std::string& method, const std::string& path, const std::string& body, const std::string& subject,
                const std::string& key, std::string& answer, int* attempts) {
    const auto giveUpAt = SteadyClock::now() + std::chrono::milliseconds(options_.retryForMs);
    std::map<std::string, std::string> headers;
    if (!key.empty()) headers["Idempotency-Key"] = key;
    for (int attempt = 0;; ++attempt) {
        if (attempts) *attempts = attempt;
        if (attempt > 0) {
            ++retries_;
            if (SteadyClock::now() > giveUpAt) {
                ++givenUp_;
                return 0;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50 * attempt, 500)));
        }
        try {
            auto r = cluster_.request(method, path, body, subject, headers, 15000);
            if (worthRetrying(r.status)) continue;
            answer = r.body;
            return r.status;
        } catch (const Poco::Exception&) {
            // the connection dropped (nginx restarting a read, a node killed mid-answer): retry
        }
    }
}

void Flood::noteUnexpected(const std::string& what) {
    std::lock_guard lock(mutex_);
    if (unexpected_.size() < 20) unexpected_.push_back(what);
}

void Flood::submitter(int number) {
    std::mt19937 random(static_cast<unsigned>(number) * 7919u + 17u);
    std::uniform_int_distribution<int> amount(50, 5000);
    for (int n = 0; !stopping_ && (options_.submitsEach == 0 || n < options_.submitsEach); ++n) {
        const std::string key = "flood-" + std::to_string(epochMs()) + "-" + std::to_string(number) + "-" + std::to_string(n);
        std::string answer;
        const auto began = SteadyClock::now();
        int status = send("POST", "/api/v1/applications", reimbursementBody(amount(random)), "t.wang", key, answer, nullptr);
        if (status == 0) continue;
        if (status != 201 && status != 200) {
            noteUnexpected("submit " + key + ": " + std::to_string(status) + " " + answer.substr(0, 300));
            continue;
        }
        std::string id;
        try {
            id = hub::test::parse(answer)->getValue<std::string>("id");
        } catch (const Poco::Exception& e) {
            noteUnexpected("submit " + key + ": " + e.displayText() + " in " + answer.substr(0, 300));
            continue;
        }
        ++submits_;
        std::lock_guard lock(mutex_);
        submitLatencies_.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - began).count());
        auto [at, fresh] = acknowledged_.emplace(key, id);
        if (!fresh && at->second != id) unexpected_.push_back("key " + key + " answered " + at->second + " and " + id);
    }
}

// Finds the audits open longer than clerkDelayMs (one query for all clerks)
// and queues each once.
void Flood::fetcher() {
    while (!stopping_) {
        try {
            auto rows = cluster_.query(
                "SELECT id FROM flows_engine_tasks WHERE status = 'open' AND element_id = 'Task_FinanceAudit'"
                " AND created_at < " + std::to_string(epochMs() - options_.clerkDelayMs) + " ORDER BY created_at LIMIT 500");
            std::lock_guard lock(mutex_);
            for (const auto& row : rows)
                if (queued_.emplace(row.at(0), true).second) queue_.push_back(row.at(0));
        } catch (const std::exception&) {
            // the store restarting under the test: the next round sees it
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

void Flood::clerk() {
    while (!stopping_) {
        std::string task;
        {
            std::lock_guard lock(mutex_);
            if (!queue_.empty()) {
                task = queue_.back();
                queue_.pop_back();
            }
        }
        if (task.empty()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        std::string answer;
        int attempts = 0;
        const auto began = SteadyClock::now();
        int status = send("POST", "/api/v1/tasks/" + task + "/complete", R"({"decision":"approve","comment":"同意"})",
                          "fin.1", "", answer, &attempts);
        if (status == 200) {
            ++steps_;
            std::lock_guard lock(mutex_);
            stepLatencies_.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - began).count());
        }
        else if (status == 409 && attempts > 0)
            ++steps_;  // an earlier attempt completed it; its answer was lost with its node
        else if (status != 0)
            noteUnexpected("complete " + task + ": " + std::to_string(status) + " " + answer.substr(0, 300));
    }
}

std::map<std::string, std::string> Flood::acknowledged() const {
    std::lock_guard lock(mutex_);
    return acknowledged_;
}

std::string Flood::unexpected() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& u : unexpected_) out += u + "\n";
    return out;
}

double Flood::percentile(const std::vector<double>& latencies, double p) {
    if (latencies.empty()) return 0;
    std::vector<double> sorted = latencies;
    std::sort(sorted.begin(), sorted.end());
    return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p * static_cast<double>(sorted.size())))];
}

std::pair<double, double> Flood::submitLatency() const {
    std::lock_guard lock(mutex_);
    return {percentile(submitLatencies_, 0.5), percentile(submitLatencies_, 0.99)};
}

std::pair<double, double> Flood::stepLatency() const {
    std::lock_guard lock(mutex_);
    return {percentile(stepLatencies_, 0.5), percentile(stepLatencies_, 0.99)};
}

std::string Flood::summary() const {
    std::ostringstream s;
    s << submits_ << " submits acknowledged, " << steps_ << " audits completed, " << retries_ << " retries, " << givenUp_
      << " given up";
    return s.str();
}

}  // namespace hub::cluster
