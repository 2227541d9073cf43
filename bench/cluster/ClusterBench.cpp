// Application submits and flow steps per second through nginx, for one hubd
// on SQLite and 1, 2 and 3 hubd nodes on one PostgreSQL, side by side, on
// this machine (docs/bench/cluster.md). Each setup runs tests/cluster's
// harness: the shipped reimbursement flow, the hall's finance vendor plugin,
// events delivered to a real ZeroMQ consumer.
//
//   bench_cluster [seconds per phase, default 15] [clients, default 8]
//
// Phase 1: `clients` applicants submit reimbursements (each with its own
// Idempotency-Key) for the given seconds: submits/s. Phase 2: `clients` finance
// clerks complete the audits phase 1 opened (one flow step each: the audit,
// the voucher's service task, the end): steps/s.

#include "Cluster.h"
#include "Flood.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <utility>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Setup {
    const char* name;
    int nodes;
    bool postgres;
};

struct Figures {
    double submits = 0, steps = 0;
    std::pair<double, double> submitMs, stepMs;
    double submitCpuMs = 0, stepCpuMs = 0;  // hubd + nginx + PostgreSQL CPU per request
    double submitHubdShare = 0, stepHubdShare = 0;
    std::string note;
};

double perSecond(std::size_t count, std::chrono::steady_clock::duration elapsed) {
    return static_cast<double>(count) / std::chrono::duration<double>(elapsed).count();
}

Figures measure(const Setup& setup, int seconds, int clients) {
    Figures f;
    const hub::cluster::Tree tree{HUBD_EXE, PORTAL_CONSUMER_EXE, CATALOG_DIR, CALENDAR_FILE, FLOWS_DIR,
                                  HALL_VENDOR_PLUGINS_DIR};
    try {
        // A reminder that never fires during the run; nodes with the default I/O threads.
        hub::cluster::Cluster cluster(tree, {.nodes = setup.nodes, .postgres = setup.postgres, .reminder = "PT1H",
                                             .ioThreads = 2});
        {
            // Warm up (connections, statement caches, the flow's first instance).
            hub::cluster::Flood warm(cluster, {.submitters = 2, .clerks = 0, .submitsEach = 20});
            warm.start();
            warm.join();
        }
        auto cpu = [&](double& hubd) {
            hubd = 0;
            for (int n = 0; n < cluster.nodes(); ++n) hubd += cluster.cpuSeconds(n);
            return hubd + cluster.nginxCpuSeconds() + cluster.postgresCpuSeconds();
        };
        double hubd0 = 0, hubd1 = 0;
        double cpu0 = cpu(hubd0);
        auto begin = std::chrono::steady_clock::now();
        hub::cluster::Flood submits(cluster, {.submitters = clients, .clerks = 0, .retryForMs = 5000});
        submits.start();
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
        submits.stop();
        f.submits = perSecond(submits.submits(), std::chrono::steady_clock::now() - begin);
        f.submitMs = submits.submitLatency();
        double cpu1 = cpu(hubd1);
        if (submits.submits() > 0) {
            f.submitCpuMs = 1000 * (cpu1 - cpu0) / static_cast<double>(submits.submits());
            f.submitHubdShare = (hubd1 - hubd0) / (cpu1 - cpu0);
        }
        cpu0 = cpu1;
        hubd0 = hubd1;
        if (!submits.unexpected().empty()) f.note += "unexpected answers: " + submits.unexpected().substr(0, 200);

        begin = std::chrono::steady_clock::now();
        hub::cluster::Flood steps(cluster, {.submitters = 0, .clerks = clients, .clerkDelayMs = 0, .retryForMs = 5000});
        steps.start();
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
        steps.stop();
        f.steps = perSecond(steps.steps(), std::chrono::steady_clock::now() - begin);
        f.stepMs = steps.stepLatency();
        cpu1 = cpu(hubd1);
        if (steps.steps() > 0) {
            f.stepCpuMs = 1000 * (cpu1 - cpu0) / static_cast<double>(steps.steps());
            f.stepHubdShare = (hubd1 - hubd0) / (cpu1 - cpu0);
        }
        const std::string open = cluster.scalar("SELECT COUNT(*) FROM flows_engine_tasks WHERE status = 'open'");
        if (open == "0") f.note += "(the backlog ran out: steps/s is a floor) ";
        if (!steps.unexpected().empty()) f.note += "unexpected answers: " + steps.unexpected().substr(0, 200);
    } catch (const std::exception& e) {
        std::string what = e.what();
        f.note = "did not run: " + what.substr(0, what.find('\n'));
    }
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    const int seconds = argc > 1 ? std::stoi(argv[1]) : 15;
    const int clients = argc > 2 ? std::stoi(argv[2]) : 8;
    const std::vector<Setup> setups = {
        {"sqlite, 1 node", 1, false},
        {"postgresql, 1 node", 1, true},
        {"postgresql, 2 nodes", 2, true},
        {"postgresql, 3 nodes", 3, true},
    };
    std::printf("%u cores, %d clients through nginx, %d s a phase\n", std::thread::hardware_concurrency(), clients,
                seconds);
    std::printf("%-22s %10s %16s %14s %10s %16s %14s  %s\n", "setup", "submits/s", "p50/p99 ms", "CPU ms (hubd)",
                "steps/s", "p50/p99 ms", "CPU ms (hubd)", "note");
    for (const auto& setup : setups) {
        Figures f = measure(setup, seconds, clients);
        std::printf("%-22s %10.1f %7.1f/%-8.1f %6.2f (%3.0f%%) %10.1f %7.1f/%-8.1f %6.2f (%3.0f%%)  %s\n", setup.name,
                    f.submits, f.submitMs.first, f.submitMs.second, f.submitCpuMs, 100 * f.submitHubdShare, f.steps,
                    f.stepMs.first, f.stepMs.second, f.stepCpuMs, 100 * f.stepHubdShare, f.note.c_str());
        std::fflush(stdout);
    }
    return 0;
}
