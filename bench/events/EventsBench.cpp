// bench-events: the relay's delivery rate from the outbox to an acknowledging
// consumer over tcp://127.0.0.1, with durable (SQLite WAL, synchronous=FULL)
// commits, beside raw cppzmq PUSH/PULL of the same payloads (the ceiling);
// the end-to-end latency at a steady 1,000 events/s; and the relay's outbox read
// with another session holding the write lock, beside the same read alone (WAL
// readers should not wait for the writer).
//
//   bench-events [--events 100000] [--dir /tmp] [--rate 1000] [--seconds 5]
//                [--flush 20] [--latency-only 1] [--backend sqlite|postgresql]
//
// --backend postgresql runs the same on a private PostgreSQL 15 (tests/support,
// a fresh database per part; HUB_TEST_POSTGRES may name the suite's server):
// the relay then holds its consumer's lease and reads up to the outbox horizon.

#include <hub/events/Outbox.h>
#include <hub/events/Relay.h>
#include <hub/test/StoreOptions.h>
#include <hub/zmq/Frames.h>

#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

using namespace hub::events;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// An acknowledging consumer (ROUTER) on its own thread; records arrival times.
class AckingConsumer {
public:
    AckingConsumer() : router_(ctx_, ::zmq::socket_type::router) {
        hub::zmq::applyDefaultOptions(router_);
        router_.bind("tcp://127.0.0.1:*");
        endpoint_ = hub::zmq::boundEndpoint(router_);
        thread_ = std::thread([this] { run(); });
    }
    ~AckingConsumer() {
        stop_ = true;
        thread_.join();
    }
    std::string endpoint() const { return endpoint_; }
    std::size_t count() const { return count_; }
    std::unordered_map<std::string, Clock::time_point> arrivals() {
        std::lock_guard lock(mutex_);
        return arrivals_;
    }
    bool recordTimes = false;

private:
    void run() {
        std::vector<::zmq::pollitem_t> poll{{router_.handle(), 0, ZMQ_POLLIN, 0}};
        while (!stop_) {
            ::zmq::poll(poll, std::chrono::milliseconds(10));
            while (auto f = hub::zmq::receiveFrames(router_, true)) {
                if (f->size() != 3) continue;
                if (recordTimes) {
                    std::lock_guard lock(mutex_);
                    arrivals_.emplace((*f)[1], Clock::now());
                }
                hub::zmq::sendFrames(router_, {(*f)[0], (*f)[1], "ack"}, false);
                ++count_;
            }
        }
    }
    ::zmq::context_t ctx_;
    ::zmq::socket_t router_;
    std::string endpoint_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> count_{0};
    std::mutex mutex_;
    std::unordered_map<std::string, Clock::time_point> arrivals_;
    std::thread thread_;
};

CloudEvent sampleEvent(long n) {
    return CloudEvent::create(EventType::ApplicationStatusChanged, "/campus-hub", "APP-" + std::to_string(n % 100),
                              R"({"applicationId":"APP-)" + std::to_string(n % 100) +
                                  R"(","status":"under_review","statusText":"审核中","by":"counter-3"})");
}

double rawPushPull(const std::vector<std::pair<std::string, std::string>>& messages) {
    ::zmq::context_t ctx;
    ::zmq::socket_t pull(ctx, ::zmq::socket_type::pull);
    hub::zmq::applyDefaultOptions(pull);
    pull.bind("tcp://127.0.0.1:*");
    ::zmq::socket_t push(ctx, ::zmq::socket_type::push);
    hub::zmq::applyDefaultOptions(push);
    push.connect(hub::zmq::boundEndpoint(pull));
    hub::zmq::sendFrames(push, {"warmup", "x"}, false);
    hub::zmq::receiveFrames(pull, false);
    auto start = Clock::now();
    std::thread sender([&] {
        for (const auto& [id, payload] : messages) hub::zmq::sendFrames(push, {id, payload}, false);
    });
    for (std::size_t i = 0; i < messages.size(); ++i) hub::zmq::receiveFrames(pull, false);
    auto elapsed = seconds(Clock::now() - start);
    sender.join();
    return static_cast<double>(messages.size()) / elapsed;
}

void fill(hub::store::Database& db, long from, long count, long batch) {
    Poco::Data::Session s = db.session();
    for (long n = from; n < from + count;) {
        s.begin();
        for (long k = 0; k < batch && n < from + count; ++k, ++n) Outbox::append(s, sampleEvent(n));
        s.commit();
    }
}

int flushIntervalMs = 20;
bool onPostgres = false;

// Each part's store: a file of its own, or a fresh PostgreSQL database.
hub::store::Database::Options storeFor(const std::string& dir, const std::string& file) {
    if (onPostgres) return hub::test::storeOptions(dir);
    return hub::store::Database::Options{Poco::Path(dir, file).toString()};
}

RelayConfig configFor(const std::string& endpoint) {
    RelayConfig config;
    // The figures in docs/events/README.md were measured without CURVE; keep them
    // comparable (CURVE adds its encryption per message on top).
    config.curve.enabled = false;
    config.flushIntervalMs = flushIntervalMs;
    ConsumerConfig c;
    c.name = "bench";
    c.endpoint = endpoint;
    config.consumers.push_back(c);
    return config;
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> args;
    for (int i = 1; i + 1 < argc; i += 2) args[std::string(argv[i]).substr(2)] = argv[i + 1];
    long events = std::stol(args.count("events") ? args["events"] : "100000");
    int rate = std::stoi(args.count("rate") ? args["rate"] : "1000");
    int secondsAtRate = std::stoi(args.count("seconds") ? args["seconds"] : "5");
    if (args.count("flush")) flushIntervalMs = std::stoi(args["flush"]);
    bool latencyOnly = args.count("latency-only") > 0;
    if (args.count("backend") && args["backend"] == "postgresql") {
        onPostgres = true;
        setenv("HUB_TEST_STORE", "postgresql", 0);  // hub::test::storeOptions() then gives fresh databases
        std::cout << "backend postgresql\n";
    }
    Poco::TemporaryFile dir(args.count("dir") ? args["dir"] : Poco::Path::temp());
    Poco::File(dir.path()).createDirectories();

    // The same payloads for both sides.
    std::vector<std::pair<std::string, std::string>> messages;
    for (long n = 0; n < events; ++n) {
        auto e = sampleEvent(n);
        messages.emplace_back(e.id, e.toJson());
    }
    std::cout << "payload " << messages[0].second.size() << " bytes, " << events << " events\n";

    double raw = latencyOnly ? 1 : rawPushPull(messages);

    // 1. Relay from a pre-filled outbox: delivery and delivered-marking commits only.
    double relayRate = 0, appendRate = 0, combinedRate = 0;
    if (!latencyOnly) {
        hub::store::Database db(storeFor(dir.path(), "prefilled.db"));
        Outbox::migrate(db);
        auto t0 = Clock::now();
        fill(db, 0, events, 1000);
        appendRate = static_cast<double>(events) / seconds(Clock::now() - t0);
        AckingConsumer consumer;
        Relay relay(db, configFor(consumer.endpoint()));
        auto start = Clock::now();
        relay.start();
        while (relay.metrics().consumers.empty() || relay.metrics().consumers[0].cursor < events)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        relayRate = static_cast<double>(events) / seconds(Clock::now() - start);
    }
    // 2. Appends (batches of 100, durable) and delivery running together.
    if (!latencyOnly) {
        hub::store::Database db(storeFor(dir.path(), "concurrent.db"));
        Outbox::migrate(db);
        AckingConsumer consumer;
        Relay relay(db, configFor(consumer.endpoint()));
        relay.start();
        auto start = Clock::now();
        fill(db, 0, events, 100);
        while (relay.metrics().consumers.empty() || relay.metrics().consumers[0].cursor < events)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        combinedRate = static_cast<double>(events) / seconds(Clock::now() - start);
    }
    // 3. Latency at a steady rate: one event per transaction (each a durable
    // commit), measured from after the commit to arrival at the consumer.
    std::vector<double> latencies;
    {
        hub::store::Database db(storeFor(dir.path(), "latency.db"));
        Outbox::migrate(db);
        AckingConsumer consumer;
        consumer.recordTimes = true;
        Relay relay(db, configFor(consumer.endpoint()));
        relay.start();
        Poco::Data::Session s = db.session();
        long total = static_cast<long>(rate) * secondsAtRate;
        std::vector<std::pair<std::string, Clock::time_point>> committed;
        auto start = Clock::now();
        auto interval = std::chrono::nanoseconds(1000000000LL / rate);
        for (long n = 0; n < total; ++n) {
            std::this_thread::sleep_until(start + n * interval);
            auto e = sampleEvent(n);
            s.begin();
            Outbox::append(s, e);
            s.commit();
            committed.emplace_back(e.id, Clock::now());
            if (getenv("BENCH_DEBUG") && n % 500 == 0) {
                auto m = relay.metrics();
                std::cerr << "n " << n << " elapsed " << seconds(Clock::now() - start) << " depth " << m.outboxDepth
                          << " deliveries " << m.deliveries << " consumer " << consumer.count()
                          << " in flight " << (m.consumers.empty() ? 0 : m.consumers[0].inFlight) << "\n";
            }
        }
        while (consumer.count() < static_cast<std::size_t>(total))
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        auto arrivals = consumer.arrivals();
        for (const auto& [id, at] : committed) {
            auto found = arrivals.find(id);
            if (found != arrivals.end())
                latencies.push_back(std::chrono::duration<double, std::milli>(found->second - at).count());
        }
    }
    // 4. The relay's outbox query, alone and while another session holds an open
    // write transaction (the hub mid-change, or the relay's committer).
    double readAlone = 0, readBesideWriter = 0;
    {
        hub::store::Database db(storeFor(dir.path(), "reads.db"));
        Outbox::migrate(db);
        fill(db, 0, 2000, 1000);
        Poco::Data::Session reader = db.session();
        auto timeReads = [&] {
            using namespace Poco::Data::Keywords;
            const int rounds = 200;
            auto start = Clock::now();
            for (int i = 0; i < rounds; ++i) {
                Poco::Int64 from = (i * 7) % 1500, limit = 500;
                std::vector<Poco::Int64> seq, created;
                std::vector<std::string> id, type, subject, payload;
                reader << db.sql("SELECT seq, id, type, subject, payload, created_at FROM events_outbox "
                                 "WHERE seq > ? ORDER BY seq LIMIT ?"),
                    use(from), use(limit), into(seq), into(id), into(type), into(subject), into(payload),
                    into(created), now;
            }
            return seconds(Clock::now() - start) * 1000.0 / rounds;
        };
        readAlone = timeReads();
        Poco::Data::Session writer = db.session();
        writer.begin();
        Outbox::append(writer, sampleEvent(1));  // holds the write lock from here to commit
        readBesideWriter = timeReads();
        writer.commit();
    }
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
        return latencies.empty() ? 0.0 : latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * latencies.size()))];
    };

    std::cout << std::fixed << std::setprecision(0);
    std::cout << "raw cppzmq PUSH/PULL (ceiling)          " << raw << " msg/s\n";
    std::cout << "outbox append, batches of 1000, durable " << appendRate << " events/s\n";
    std::cout << "relay, prefilled outbox -> acking consumer, durable marks  " << relayRate << " events/s  ratio to raw "
              << std::setprecision(3) << relayRate / raw << "\n"
              << std::setprecision(0);
    std::cout << "append (batches of 100) + relay concurrently                " << combinedRate
              << " events/s  ratio to raw " << std::setprecision(3) << combinedRate / raw << "\n";
    std::cout << std::setprecision(2) << "latency at " << rate << " events/s (commit -> consumer), " << latencies.size()
              << " events: p50 " << pct(0.50) << " ms, p99 " << pct(0.99) << " ms, max " << pct(1.0) << " ms\n";
    std::cout << std::setprecision(3) << "outbox read of 500 rows: alone " << readAlone << " ms, beside an open writer "
              << readBesideWriter << " ms, ratio " << std::setprecision(2) << readBesideWriter / readAlone << "\n";
    std::cout << "targets: >= 20000 durable events/s; p99 < 20 ms at 1000 events/s\n";
    return 0;
}
