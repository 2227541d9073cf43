// One invoke through the plugin ABI, in-process, against a direct C++ virtual
// call doing the same work. The ABI path is the one hubd takes for an inproc
// plugin: the host builds a ch_call and a sink on the stack and calls the
// plugin's C table; the SDK's trampoline (campushub::Bridge) finds the
// operation by name, calls the std::function, catches exceptions, and hands the
// result to the sink, which copies it into a new std::string (as
// hub::host::LoadedPlugin does). The peer is a virtual function that returns
// the same result.
//
// Two workloads, each with a 1 KiB JSON payload:
//   echo  - the operation returns its input: the smallest work, so the ratio
//           shows the ABI's own cost;
//   parse - the operation parses the input with Poco::JSON and writes it back:
//           what a real operation does at the least.
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <string>
#include <string_view>

namespace {

std::string payload1KiB() {
    std::string s = R"({"student_id":"2023010001","name":"张三","department":"计算机科学与技术学院","items":[)";
    int i = 0;
    while (s.size() < 1022) {
        if (i) s += ',';
        s += R"({"n":)" + std::to_string(i++) + R"(,"code":"CERT-ENROL","note":"在读证明"})";
    }
    s += "]}";
    return s;
}

const std::string& payload() {
    static const std::string p = payload1KiB();
    return p;
}

std::string parseAndWrite(std::string_view input) {
    return campushub::json::stringify(campushub::json::parseObject(input));
}

// --- the plugin, through the ABI ---------------------------------------------

class BenchPlugin : public campushub::Plugin {
public:
    BenchPlugin(campushub::Host& host, std::string_view) : Plugin(host) {
        operation("echo", "returns its input", [](campushub::Call&, std::string_view in) { return std::string(in); });
        operation("parse", "parses and writes back", [](campushub::Call&, std::string_view in) { return parseAndWrite(in); });
        // Real plugins register a handful of operations; the lookup is by name.
        for (const char* extra : {"get_student", "enrolment_certificate", "list_courses", "submit_grade"})
            operation(extra, "unused", [](campushub::Call&, std::string_view) { return std::string("{}"); });
    }
};

// The host's side, as in hub::host::LoadedPlugin: the opaque handles are the
// host's own structs.
struct HostContext {
    int unused = 0;
};
struct CallContext {
    long long deadline = 0;
};

void hostLog(ch_host*, ch_log_level, ch_buffer) {}
int hostConfig(ch_host*, ch_buffer, ch_sink) { return 0; }

struct Captured {
    bool called = false;
    ch_status status = CH_ERR_INTERNAL;
    std::string data;
    static void write(void* ctx, ch_status status, const char* data, size_t length) {
        auto* self = static_cast<Captured*>(ctx);
        if (self->called) return;
        self->called = true;
        self->status = status;
        self->data.assign(data, length);
    }
};

struct AbiFixture {
    ch_host_api hostApi{};
    HostContext hostContext;
    const ch_plugin_api* api = nullptr;
    ch_plugin* instance = nullptr;

    AbiFixture() {
        hostApi.struct_size = sizeof hostApi;
        hostApi.abi_major = CH_ABI_VERSION_MAJOR;
        hostApi.abi_minor = CH_ABI_VERSION_MINOR;
        hostApi.log = &hostLog;
        hostApi.config_get = &hostConfig;
        api = campushub::Bridge<BenchPlugin>::table("bench", "1.0.0");
        Captured error;
        api->create(&hostApi, reinterpret_cast<ch_host*>(&hostContext), {"{}", 2}, &instance,
                    {&Captured::write, &error});
    }
    ~AbiFixture() { api->destroy(instance); }
};

void abiInvoke(benchmark::State& state, const char* operation) {
    AbiFixture f;
    const std::string& input = payload();
    std::string_view op(operation);
    for (auto _ : state) {
        CallContext call{1};
        Captured result;
        f.api->invoke(f.instance, reinterpret_cast<ch_call*>(&call), {op.data(), op.size()},
                      {input.data(), input.size()}, {&Captured::write, &result});
        benchmark::DoNotOptimize(result.data.data());
        if (!result.called || result.status != CH_OK) state.SkipWithError("the plugin failed");
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

// --- the peer: a direct virtual call ------------------------------------------

class Service {
public:
    virtual ~Service() = default;
    virtual std::string echo(std::string_view input) = 0;
    virtual std::string parse(std::string_view input) = 0;
};

class DirectService : public Service {
public:
    std::string echo(std::string_view input) override { return std::string(input); }
    std::string parse(std::string_view input) override { return parseAndWrite(input); }
};

// Kept out of sight of the optimiser, so the call stays virtual.
Service* makeService() {
    static DirectService service;
    Service* volatile p = &service;
    return p;
}

void directEcho(benchmark::State& state) {
    Service* service = makeService();
    const std::string& input = payload();
    for (auto _ : state) {
        std::string result = service->echo(input);
        benchmark::DoNotOptimize(result.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

void directParse(benchmark::State& state) {
    Service* service = makeService();
    const std::string& input = payload();
    for (auto _ : state) {
        std::string result = service->parse(input);
        benchmark::DoNotOptimize(result.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
}

void abiEcho(benchmark::State& state) { abiInvoke(state, "echo"); }
void abiParse(benchmark::State& state) { abiInvoke(state, "parse"); }

BENCHMARK(directEcho);
BENCHMARK(abiEcho);
BENCHMARK(directParse);
BENCHMARK(abiParse);

// Prints the usual table and remembers each benchmark's CPU time per call (the
// median when --benchmark_repetitions asks for several runs).
class RatioReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs) {
            if (r.error_occurred) continue;
            double ns = r.GetAdjustedCPUTime() * (r.time_unit == benchmark::kMicrosecond   ? 1e3
                                                  : r.time_unit == benchmark::kMillisecond ? 1e6
                                                                                           : 1.0);
            const std::string& name = r.run_name.function_name;
            if (r.run_type == Run::RT_Iteration) iteration_[name] = ns;
            else if (r.aggregate_name == "median") median_[name] = ns;
        }
    }
    std::map<std::string, double> nsPerCall() const {
        auto out = iteration_;
        for (const auto& [k, v] : median_) out[k] = v;
        return out;
    }

private:
    std::map<std::string, double> iteration_, median_;
};

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    std::printf("payload: %zu bytes of JSON\n", payload().size());
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();

    auto t = reporter.nsPerCall();
    std::printf("\n%-8s %14s %14s %8s %16s\n", "work", "direct ns", "ABI ns", "ratio", "overhead ns/call");
    bool allMet = true;
    int rows = 0;
    for (const char* work : {"Echo", "Parse"}) {
        std::string d = std::string("direct") + work, a = std::string("abi") + work;
        if (!t.count(d) || !t.count(a)) continue;
        double overhead = t[a] - t[d];
        std::printf("%-8s %14.1f %14.1f %8.2f %16.1f\n", work, t[d], t[a], t[a] / t[d], overhead);
        allMet = allMet && overhead < 1000.0;
        ++rows;
    }
    std::printf("target: in-process ABI overhead under 1 us per call with a 1 KiB payload: %s\n",
                rows == 0 ? "not measured" : allMet ? "met" : "NOT met");
    return 0;
}
