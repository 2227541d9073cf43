// hub-portal-consumer: a reference consumer of the hub's reliable event stream.
//
// It binds a ROUTER socket (the hub connects to it), prints every new event as
// one line of JSON on stdout, acknowledges it, and de-duplicates by event id:
// delivery is at-least-once, so an event may arrive again after a retry or a
// hub restart; a repeat is acked again and reported on stderr, not printed.
//
// CURVE by default: the consumer is the CURVE server of its socket and admits
// only the hub's key. Its own key pair is made at first start when neither file
// exists; list its public key in hub.xml as events.peers.peer[@name=portal].
//
// Every type under edu.campus.hub. is taken, the hub's own and those plugins
// declare (<emits>), which no consumer can know in advance; anything else is
// refused (nack).
//
// stdout: "public-key <Z85>" (with CURVE), "listening <endpoint>" (the port
// resolved when the endpoint ends in :*), then one JSON line per event.

#include "PeerSupport.h"

#include <hub/events/CloudEvent.h>
#include <hub/zmq/Curve.h>
#include <hub/zmq/Frames.h>
#include <hub/zmq/ZapAuthenticator.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <iostream>
#include <memory>
#include <thread>

using namespace hub::events;

namespace {

// A plugin's own event type (edu.campus.hub.<system>.<what>) is made known
// before the event is read; a JSON error is left to fromJson to report.
void acceptHubNamespaceType(const std::string& json) {
    try {
        Poco::JSON::Parser parser;
        auto o = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
        std::string type = o->optValue<std::string>("type", "");
        if (type.rfind("edu.campus.hub.", 0) == 0 && !hub::events::isKnownEventType(type))
            hub::events::registerEventType(type);
    } catch (const std::exception&) {
    }
}

const char* const usage =
    "usage: hub-portal-consumer [options]\n"
    "\n"
    "A reference consumer of the CampusHub event stream: binds a ROUTER socket the hub\n"
    "delivers to, prints each new event as a JSON line on stdout, acks it, and drops\n"
    "repeats (by event id).\n"
    "\n"
    "options (config keys in parentheses, from --config FILE):\n"
    "  --listen EP            where the hub delivers (consumer.listen; tcp://127.0.0.1:5601)\n"
    "  --public-key FILE      this consumer's CURVE public key (consumer.curve.publicKeyFile)\n"
    "  --secret-key FILE      its secret key (consumer.curve.secretKeyFile); both are made\n"
    "                         at first start when neither exists\n"
    "  --hub-public-key FILE  the hub's public key, the only client admitted\n"
    "                         (consumer.curve.hubPublicKeyFile); waited for if not there yet\n"
    "  --plaintext            no CURVE (only for a hub run with events.curve.enabled = false)\n"
    "  --exit-after N         exit after N distinct events (consumer.exitAfter; for tests)\n"
    "  --config FILE          a .properties, .ini or .xml file with the keys above\n"
    "  --help, --version\n";

}  // namespace

int main(int argc, char** argv) {
    if (peers::answeredHelpOrVersion(argc, argv, "hub-portal-consumer", usage)) return 0;
    auto args = peers::parseArgs(argc, argv);
    try {
        auto config = peers::loadConfig(args.count("config") ? args["config"] : "");
        auto get = [&](const std::string& arg, const std::string& key, const std::string& fallback) {
            return args.count(arg) ? args[arg] : config->getString(key, fallback);
        };
        std::string listen = get("listen", "consumer.listen", "tcp://127.0.0.1:5601");
        std::string publicKey = get("public-key", "consumer.curve.publicKeyFile", "");
        std::string secretKey = get("secret-key", "consumer.curve.secretKeyFile", "");
        std::string hubKey = get("hub-public-key", "consumer.curve.hubPublicKeyFile", "");
        bool plaintext = args.count("plaintext") > 0 || config->getBool("consumer.plaintext", false);
        long exitAfter = std::stol(get("exit-after", "consumer.exitAfter", "0"));
        peers::installSignalHandlers();

        ::zmq::context_t ctx;
        std::unique_ptr<hub::zmq::ZapAuthenticator> zap;
        ::zmq::socket_t router(ctx, ::zmq::socket_type::router);
        hub::zmq::applyDefaultOptions(router);
        router.set(::zmq::sockopt::maxmsgsize, static_cast<int64_t>(CloudEvent::DefaultMaxBytes * 4));
        if (plaintext) {
            peers::warnPlaintext("hub-portal-consumer");
        } else {
            auto keys = peers::loadPeerKeys("hub-portal-consumer", publicKey, secretKey, hubKey);
            zap = std::make_unique<hub::zmq::ZapAuthenticator>(
                ctx, std::vector<hub::zmq::ZapPeer>{{keys.hubPublicKey, "hub", {}}}, false);
            hub::zmq::makeCurveServer(router, keys.own, "portal");
        }
        try {
            router.bind(listen);
        } catch (const ::zmq::error_t& e) {
            throw Poco::IOException("--listen " + listen + ": cannot bind: " + e.what());
        }
        std::cout << "listening " << hub::zmq::boundEndpoint(router) << std::endl;

        peers::RecentIds seen;
        long distinct = 0;
        int failures = 0;
        std::vector<::zmq::pollitem_t> poll{{router.handle(), 0, ZMQ_POLLIN, 0}};
        while (!peers::stopRequested && (exitAfter == 0 || distinct < exitAfter)) {
            // A bad message or a failing write must not end the consumer: log, pause, go on.
            try {
                try {
                    ::zmq::poll(poll, std::chrono::milliseconds(200));
                } catch (const ::zmq::error_t& e) {
                    if (e.num() == EINTR) continue;
                    throw;
                }
                while (auto f = hub::zmq::receiveFrames(router, true)) {
                    if (f->size() != 3) {
                        std::cerr << "ignored a message of " << f->size() << " frames\n";
                        continue;
                    }
                    const std::string& peer = (*f)[0];
                    const std::string& id = (*f)[1];
                    if (seen.contains(id)) {
                        std::cerr << "duplicate " << id << '\n';
                        hub::zmq::sendFrames(router, {peer, id, "ack"}, true);
                        continue;
                    }
                    try {
                        acceptHubNamespaceType((*f)[2]);
                        CloudEvent e = CloudEvent::fromJson((*f)[2]);
                        std::cout << e.toJson() << std::endl;
                    } catch (const EventError& err) {
                        std::cerr << "refused " << id << ": " << err.message() << '\n';
                        hub::zmq::sendFrames(router, {peer, id, "nack", err.message()}, true);
                        continue;
                    }
                    seen.insert(id);
                    ++distinct;
                    hub::zmq::sendFrames(router, {peer, id, "ack"}, true);
                }
                failures = 0;
            } catch (const std::exception& e) {
                std::cerr << "hub-portal-consumer: error (continuing): " << e.what() << '\n';
                std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 10 << std::min(failures++, 7))));
            } catch (...) {
                std::cerr << "hub-portal-consumer: error (continuing): unknown exception\n";
                std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 10 << std::min(failures++, 7))));
            }
        }
        return 0;
    } catch (const Poco::Exception& e) {
        std::cerr << "hub-portal-consumer: " << e.displayText() << '\n';
    } catch (const std::exception& e) {
        std::cerr << "hub-portal-consumer: " << e.what() << '\n';
    }
    return 1;
}
