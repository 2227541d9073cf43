// bench-flows: the BPMN engine's steps per second and its cost per step, side
// by side with calling the same operations directly in sequence.
//
// A flow of N service tasks in a row (start -> S1 -> ... -> SN -> end) is run
// to the end many times. Each step is one service answer applied to the
// instance. Four ways, same operations (a simulated vendor answer, built as a
// plugin builds its JSON):
//   direct        the N operations called in sequence: the floor, no engine;
//   engine        Engine::apply per answer, state in memory (the interpreter);
//   commit only   the N operations, each followed by one durable SQLite commit
//                 of a one-row write (what any durable step costs at least);
//   durable       what FlowRunner does per answer: load the state, apply,
//                 EngineStore::save and commit (SQLite WAL, synchronous=FULL).
// The engine's overhead per step is durable minus commit only; the target
// (issue 14) is at most 200 us. Then 1,000 instances at once, advanced round
// by round, with the process's resident memory after each round (flat: it
// holds no per-instance state between inputs).
//
// With --postgresql the store is a private PostgreSQL 15 (tests/support's
// PostgresServer, fsync off: the figure is the round trips', not a disk's).
//
//   bench-flows [--tasks 10] [--runs 200] [--instances 1000] [--dir /tmp] [--postgresql]
#include "hub/flows/engine/Deployer.h"
#include "hub/flows/engine/Engine.h"
#include "hub/flows/engine/EngineStore.h"
#include "hub/store/Database.h"
#include "hub/test/PostgresServer.h"

#include <Poco/Data/Transaction.h>
#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

using namespace hub::flows::engine;
using Clock = std::chrono::steady_clock;
using namespace Poco::Data::Keywords;

namespace {

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

std::string chain(int tasks) {
    std::string body = "<bpmn:startEvent id=\"start\"/>\n";
    std::string previous = "start";
    for (int n = 1; n <= tasks; ++n) {
        const std::string id = "S" + std::to_string(n);
        body += "<bpmn:serviceTask id=\"" + id + "\"><bpmn:extensionElements><zeebe:taskDefinition type=\"vendor.op" +
                std::to_string(n) + "\"/><zeebe:ioMapping><zeebe:input source=\"= form.amount\" target=\"amount\"/>"
                "<zeebe:output source=\"= no\" target=\"no" + std::to_string(n) +
                "\"/></zeebe:ioMapping></bpmn:extensionElements></bpmn:serviceTask>\n";
        body += "<bpmn:sequenceFlow id=\"f" + std::to_string(n) + "\" sourceRef=\"" + previous + "\" targetRef=\"" + id +
                "\"/>\n";
        previous = id;
    }
    body += "<bpmn:endEvent id=\"end\"/>\n<bpmn:sequenceFlow id=\"fend\" sourceRef=\"" + previous +
            "\" targetRef=\"end\"/>\n";
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<bpmn:definitions "
           "xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" "
           "xmlns:zeebe=\"http://camunda.org/schema/zeebe/1.0\" id=\"D\" targetNamespace=\"t\">\n"
           "<bpmn:process id=\"bench\" isExecutable=\"true\">\n" +
           body + "</bpmn:process>\n</bpmn:definitions>\n";
}

// The simulated vendor's work: what a plugin does to answer (read the input,
// write a JSON answer).
std::string vendor(const Value& input, long n) {
    const Value& amount = input.member("amount");
    return "{\"no\":\"V-" + std::to_string(n) + "\",\"amount\":" + amount.toJson() + "}";
}

Input startInput() {
    Input in;
    in.kind = Input::Kind::Start;
    in.variables = Value::fromJson(R"({"form":{"amount":1234.5,"purpose":"差旅"},"applicant":{"id":"t.wang"}})");
    return in;
}

// The call the last effects ask for (the next step's input).
const Effect* nextCall(const Result& r) {
    for (const auto& e : r.effects)
        if (e.kind == Effect::Kind::CallService) return &e;
    return nullptr;
}

// Answers each call the vendor's way through `step` until the flow asks for none.
template <class Step>
void runToEnd(Result result, Step&& step) {
    long n = 0;
    while (const Effect* call = nextCall(result)) {
        Input answer;
        answer.kind = Input::Kind::ServiceCompleted;
        answer.callKey = call->id;
        answer.variables = Value::fromJson(vendor(call->input, n++));
        result = step(std::move(answer));
    }
}

long rssKiB() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int tasks = 10, runs = 200, instances = 1000;
    std::string dir = Poco::Path::temp();
    bool postgres = false;
    for (int i = 1; i < argc; ++i)
        if (!std::strcmp(argv[i], "--postgresql")) postgres = true;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--tasks")) tasks = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--instances")) instances = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--dir")) dir = argv[i + 1];
    }
    auto def = deployFlow(chain(tasks), "bench.bpmn");
    Engine engine;
    long sink = 0;
    const long steps = static_cast<long>(tasks) * runs;

    // direct: the operations in sequence.
    Value form = Value::fromJson(R"({"amount":1234.5})");
    auto t0 = Clock::now();
    for (int r = 0; r < runs; ++r)
        for (int n = 0; n < tasks; ++n) sink += static_cast<long>(Value::fromJson(vendor(form, n)).member("no").asString().size());
    const double direct = micros(Clock::now() - t0) / static_cast<double>(steps);

    // engine: the interpreter alone.
    t0 = Clock::now();
    for (int r = 0; r < runs; ++r) {
        InstanceState s;
        s.id = "i" + std::to_string(r);
        runToEnd(engine.apply(*def, s, startInput()), [&](Input answer) { return engine.apply(*def, s, answer); });
        sink += s.steps;
    }
    const double engineOnly = micros(Clock::now() - t0) / static_cast<double>(steps);

    Poco::TemporaryFile folder(dir);
    folder.createDirectories();
    hub::store::Database::Options options{Poco::Path(folder.path(), "bench.db").toString()};
    std::unique_ptr<hub::test::PostgresServer> pg;
    if (postgres) {
        pg = std::make_unique<hub::test::PostgresServer>();
        pg->psql("CREATE DATABASE flows_bench");
        options.backend = hub::store::Database::Backend::PostgreSql;
        options.connection = pg->conninfo("flows_bench") + " user=" + pg->user();
        options.passwordFile = pg->passwordFile();
    }
    hub::store::Database db(options);
    EngineStore store(db);
    {
        auto s = db.session();
        s << "CREATE TABLE IF NOT EXISTS bench_commit (n INTEGER, answer TEXT)", now;
    }
    const std::string insertCommit = db.sql("INSERT INTO bench_commit VALUES(?, ?)");

    // commit only: each operation followed by one durable one-row commit.
    t0 = Clock::now();
    for (int r = 0; r < runs; ++r)
        for (int n = 0; n < tasks; ++n) {
            auto s = db.session();
            Poco::Data::Transaction tx(s, true);
            std::string answer = vendor(form, n);
            int k = n;
            s << insertCommit, use(k), use(answer), now;
            tx.commit();
        }
    const double commitOnly = micros(Clock::now() - t0) / static_cast<double>(steps);

    // durable: load, apply, save, commit per answer, as FlowRunner::apply.
    // `inside` sums the work between begin and commit (the engine's own cost
    // on the store, without the commit's fsync, which dominates and jitters).
    Clock::duration inside{};
    auto durableStep = [&](const std::string& id, Input input) {
        auto s = db.session();
        Poco::Data::Transaction tx(s, true);
        const auto begun = Clock::now();
        InstanceState state;
        if (input.kind == Input::Kind::Start) {
            state.id = id;
            state.version = 1;
        } else {
            state = *store.load(s, id);
        }
        Result result = engine.apply(*def, state, input);
        store.save(s, state, result.effects, "app-" + id, 0);
        inside += Clock::now() - begun;
        tx.commit();
        return result;
    };
    t0 = Clock::now();
    for (int r = 0; r < runs; ++r) {
        const std::string id = "d" + std::to_string(r);
        runToEnd(durableStep(id, startInput()), [&](Input answer) { return durableStep(id, std::move(answer)); });
    }
    const double durable = micros(Clock::now() - t0) / static_cast<double>(steps + runs);
    const double insideUs = micros(inside) / static_cast<double>(steps + runs);

    if (postgres)
        std::printf("flow of %d service tasks, %d runs (%ld steps), PostgreSQL 15 on loopback (fsync off)\n", tasks,
                    runs, steps);
    else
        std::printf("flow of %d service tasks, %d runs (%ld steps), SQLite WAL synchronous=FULL in %s\n", tasks, runs,
                    steps, folder.path().c_str());
    std::printf("%-14s %10s %12s %10s\n", "way", "us/step", "steps/s", "vs direct");
    for (auto [name, us] : {std::pair{"direct", direct}, std::pair{"engine", engineOnly},
                            std::pair{"commit only", commitOnly}, std::pair{"durable", durable}})
        std::printf("%-14s %10.2f %12.0f %9.1fx\n", name, us, 1e6 / us, us / direct);
    std::printf("engine overhead per step: %.1f us in memory, %.1f us durable beyond the commit (target <= 200 us)\n",
                engineOnly - direct, durable - commitOnly);
    std::printf("durable step before its commit (load, apply, save; no fsync): %.1f us, of which the store %.1f us\n",
                insideUs, insideUs - (engineOnly - direct));

    // 1,000 instances at once, one step each per round, memory after each round.
    std::vector<std::pair<std::string, std::string>> waiting;  // instance, its call key
    const long before = rssKiB();
    std::printf("%d instances at once, RSS before: %ld KiB\n", instances, before);
    for (int i = 0; i < instances; ++i) {
        const std::string id = "c" + std::to_string(i);
        Result result = durableStep(id, startInput());
        waiting.emplace_back(id, nextCall(result)->id);
    }
    for (int round = 1; !waiting.empty(); ++round) {
        std::vector<std::pair<std::string, std::string>> next;
        for (const auto& [id, key] : waiting) {
            Input answer;
            answer.kind = Input::Kind::ServiceCompleted;
            answer.callKey = key;
            answer.variables = Value::fromJson(vendor(form, round));
            Result result = durableStep(id, answer);
            if (const Effect* call = nextCall(result)) next.emplace_back(id, call->id);
        }
        waiting.swap(next);
        std::printf("  round %2d: %zu instances still running, RSS %ld KiB\n", round, waiting.size(), rssKiB());
    }
    Poco::File(folder.path()).remove(true);
    return sink == 0 ? 1 : 0;
}
