// Cost of one plugin call through process isolation (hub -> ZeroMQ ipc -> worker ->
// plugin -> back) beside the same call in process (LoadedPlugin, through the ABI),
// with a 1 KiB JSON payload, for two operations of the crashy test plugin: "echo"
// (returns the input unread: pure transport cost) and "ok" (parses the JSON with
// Poco first, as a real operation would). A bare ZeroMQ DEALER ping-pong between
// two processes over ipc:// is the floor any ZeroMQ-based isolation pays.
// Prints median and p99 and the ratios. Targets (issue 3): process round trip
// median < 50 us, p99 < 200 us.
#include "hub/host/LoadedPlugin.h"
#include "hub/host/Manifest.h"
#include "hub/host/ProcessPlugin.h"

#include <campushub/plugin.h>

#include <zmq.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using hub::host::Clock;

namespace {

struct Summary {
    double median;
    double p99;
};

template <class Call>
Summary measure(int iterations, Call call) {
    for (int i = 0; i < iterations / 10 + 100; ++i) call();
    std::vector<double> us;
    us.reserve(static_cast<std::size_t>(iterations));
    for (int i = 0; i < iterations; ++i) {
        auto t0 = Clock::now();
        call();
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us[us.size() * 99 / 100]};
}

Summary measurePlugin(hub::host::PluginInstance& plugin, const char* op, const std::string& payload, int iterations) {
    hub::host::Caller caller{"2023010001", {"student"}, ""};
    return measure(iterations, [&] {
        auto r = plugin.invoke(op, payload, caller, Clock::now() + std::chrono::seconds(5));
        if (r.status != CH_OK || r.body.size() != payload.size()) {
            std::fprintf(stderr, "call failed: %d %s\n", r.status, r.body.c_str());
            std::exit(1);
        }
    });
}

// Two processes, one DEALER each, over ipc://: the floor under any ZeroMQ design.
Summary measureBareZeroMq(const std::string& payload, int iterations) {
    std::string endpoint = "ipc:///tmp/campushub-bench-" + std::to_string(::getpid());
    pid_t child = ::fork();  // before this process has any thread
    if (child == 0) {
        zmq::context_t context(1);
        zmq::socket_t socket(context, zmq::socket_type::dealer);
        socket.bind(endpoint);
        zmq::message_t m;
        for (;;) {
            if (!socket.recv(m)) continue;
            socket.send(m, zmq::send_flags::none);
        }
    }
    zmq::context_t context(1);
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(endpoint);
    Summary s = measure(iterations, [&] {
        socket.send(zmq::const_buffer(payload.data(), payload.size()), zmq::send_flags::none);
        zmq::message_t m;
        [[maybe_unused]] auto r = socket.recv(m);
    });
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::unlink(endpoint.substr(6).c_str());
    return s;
}

void print(const char* what, Summary s, Summary base) {
    std::printf("%-34s median %8.2f us  p99 %8.2f us   (x%.1f / x%.1f of in process)\n", what, s.median, s.p99,
                s.median / base.median, s.p99 / base.p99);
}

}  // namespace

int main(int argc, char** argv) {
    int iterations = argc > 1 ? std::atoi(argv[1]) : 20000;
    const std::string dir = HUB_CRASHY_DIR;

    std::string payload = "{\"student_id\":\"2023010001\",\"name\":\"张三\",\"items\":[";
    for (int i = 0; payload.size() < 1000; ++i)
        payload += (i ? "," : "") + std::string("\"在读证明-") + std::to_string(i) + "\"";
    payload += "]}";
    while (payload.size() < 1024) payload.insert(payload.size() - 1, " ");

    Summary bare = measureBareZeroMq(payload, iterations);

    auto manifest = hub::host::readManifest(dir + "/plugin.xml");
    hub::host::LoadedPlugin inproc(manifest, dir + "/libcrashy.so", hub::host::PluginServices{});
    hub::host::ProcessPlugin::Options options;
    options.workerExecutable = HUB_PLUGIN_WORKER;
    options.concurrency = 1;
    hub::host::ProcessPlugin process(manifest, dir + "/libcrashy.so", {}, options);

    Summary inEcho = measurePlugin(inproc, "echo", payload, iterations);
    Summary procEcho = measurePlugin(process, "echo", payload, iterations);
    Summary inOk = measurePlugin(inproc, "ok", payload, iterations);
    Summary procOk = measurePlugin(process, "ok", payload, iterations);

    std::printf("payload %zu bytes, %d sequential calls each, one caller thread\n", payload.size(), iterations);
    std::printf("%-34s median %8.2f us  p99 %8.2f us\n", "echo in process (LoadedPlugin)", inEcho.median, inEcho.p99);
    print("echo through worker (ProcessPlugin)", procEcho, inEcho);
    std::printf("%-34s median %8.2f us  p99 %8.2f us\n", "ok in process (parses JSON)", inOk.median, inOk.p99);
    print("ok through worker", procOk, inOk);
    std::printf("%-34s median %8.2f us  p99 %8.2f us   (ProcessPlugin echo is x%.1f of it)\n",
                "bare ZeroMQ ipc ping-pong", bare.median, bare.p99, procEcho.median / bare.median);
    std::printf("targets for the process round trip (echo): median < 50 us %s, p99 < 200 us %s\n",
                procEcho.median < 50 ? "met" : "MISSED", procEcho.p99 < 200 ? "met" : "MISSED");
    return 0;
}
