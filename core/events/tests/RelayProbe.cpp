// events-relay-probe: an outbox + relay on a SQLite file or a PostgreSQL
// database, for the crash test.
// Appends events numbered 0..total-1 (continuing after what the outbox already
// holds, so a restarted probe finishes the flood) while the relay delivers them,
// then keeps relaying until SIGTERM. The test SIGKILLs it mid-flood.
//
//   events-relay-probe (--db FILE | --pg CONNINFO --pg-password-file F [--lease-ttl-ms N])
//                      --consumer EP [--total 10000] [--batch 50] [--window 200]

#include <hub/events/Outbox.h>
#include <hub/events/Relay.h>

#include <Poco/Data/Session.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <thread>

using namespace hub::events;
using namespace Poco::Data::Keywords;

namespace {
std::atomic<bool> stopRequested{false};
extern "C" void onSignal(int) { stopRequested = true; }
}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> args;
    for (int i = 1; i + 1 < argc; i += 2) args[std::string(argv[i]).substr(2)] = argv[i + 1];
    std::signal(SIGTERM, onSignal);
    std::signal(SIGINT, onSignal);
    try {
        long total = std::stol(args.count("total") ? args["total"] : "10000");
        long batch = std::stol(args.count("batch") ? args["batch"] : "50");
        hub::store::Database::Options options;
        if (args.count("pg")) {
            options.backend = hub::store::Database::Backend::PostgreSql;
            options.connection = args["pg"];
            options.passwordFile = args["pg-password-file"];
        } else {
            options.path = args.at("db");
        }
        hub::store::Database db(options);
        RelayConfig config;
        if (args.count("lease-ttl-ms")) config.leaseTtlMs = std::stoi(args["lease-ttl-ms"]);
        // The crash test is about delivery state; CURVE has tests of its own.
        config.curve.enabled = false;
        ConsumerConfig consumer;
        consumer.name = "probe";
        consumer.endpoint = args.at("consumer");
        consumer.window = std::stoul(args.count("window") ? args["window"] : "200");
        consumer.ackTimeoutMs = 60000;  // no retries from timeouts: duplicates come only from the crash
        config.consumers.push_back(consumer);
        Relay relay(db, config);
        relay.start();

        Poco::Data::Session s = db.session();
        long have = 0;
        s << "SELECT COUNT(*) FROM events_outbox", into(have), now;
        for (long n = have; n < total && !stopRequested;) {
            s.begin();
            for (long k = 0; k < batch && n < total; ++k, ++n) {
                Outbox::append(s, CloudEvent::create(EventType::ApplicationStatusChanged, "/relay-probe",
                                                     "app-" + std::to_string(n % 20),
                                                     "{\"n\":" + std::to_string(n) + ",\"status\":\"审核中\"}"));
            }
            s.commit();
        }
        std::cout << "appended " << total << std::endl;
        while (!stopRequested) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        relay.stop();
        return 0;
    } catch (const Poco::Exception& e) {
        std::cerr << "events-relay-probe: " << e.displayText() << '\n';
    } catch (const std::exception& e) {
        std::cerr << "events-relay-probe: " << e.what() << '\n';
    }
    return 1;
}
