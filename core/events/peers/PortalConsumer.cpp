// hub-portal-consumer: a reference consumer of the hub's reliable event stream.
//
// It binds a ROUTER socket (the hub connects to it), prints every new event as
// one line of JSON on stdout, acknowledges it, and de-duplicates by event id:
// delivery is at-least-once, so an event may arrive again after a retry or a
// hub restart; a repeat is acked again and reported on stderr, not printed.
//
//   hub-portal-consumer --listen tcp://127.0.0.1:5601
//       [--config file]                   (keys consumer.listen, consumer.curve.*)
//       [--curve-public-key F --curve-secret-key F --authorized-keys F]
//       [--exit-after N]                  (exit after N distinct events; for tests)
//
// The first stdout line is "listening <endpoint>" (the port resolved when the
// endpoint ends in :*).

#include "PeerSupport.h"

#include <hub/events/CloudEvent.h>
#include <hub/zmq/Curve.h>
#include <hub/zmq/Frames.h>
#include <hub/zmq/ZapAuthenticator.h>

#include <iostream>
#include <memory>

using namespace hub::events;

int main(int argc, char** argv) {
    auto args = peers::parseArgs(argc, argv);
    try {
        auto config = peers::loadConfig(args.count("config") ? args["config"] : "");
        auto get = [&](const std::string& arg, const std::string& key, const std::string& fallback) {
            return args.count(arg) ? args[arg] : config->getString(key, fallback);
        };
        std::string listen = get("listen", "consumer.listen", "tcp://127.0.0.1:5601");
        std::string publicKey = get("curve-public-key", "consumer.curve.publicKeyFile", "");
        std::string secretKey = get("curve-secret-key", "consumer.curve.secretKeyFile", "");
        std::string authorized = get("authorized-keys", "consumer.curve.authorizedKeysFile", "");
        long exitAfter = std::stol(get("exit-after", "consumer.exitAfter", "0"));
        peers::installSignalHandlers();

        ::zmq::context_t ctx;
        std::unique_ptr<hub::zmq::ZapAuthenticator> zap;
        ::zmq::socket_t router(ctx, ::zmq::socket_type::router);
        hub::zmq::applyDefaultOptions(router);
        router.set(::zmq::sockopt::maxmsgsize, static_cast<int64_t>(CloudEvent::DefaultMaxBytes * 4));
        if (!publicKey.empty()) {
            auto keys = hub::zmq::loadKeyPair(publicKey, secretKey);
            std::set<std::string> allowed;
            if (!authorized.empty())
                for (auto& k : hub::zmq::readKeyList(authorized)) allowed.insert(k);
            zap = std::make_unique<hub::zmq::ZapAuthenticator>(ctx, allowed, false);
            hub::zmq::makeCurveServer(router, keys, "portal");
        }
        router.bind(listen);
        std::cout << "listening " << hub::zmq::boundEndpoint(router) << std::endl;

        peers::RecentIds seen;
        long distinct = 0;
        std::vector<::zmq::pollitem_t> poll{{router.handle(), 0, ZMQ_POLLIN, 0}};
        while (!peers::stopRequested && (exitAfter == 0 || distinct < exitAfter)) {
            try {
                ::zmq::poll(poll, std::chrono::milliseconds(200));
            } catch (const ::zmq::error_t&) {
                continue;  // EINTR
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
        }
        return 0;
    } catch (const Poco::Exception& e) {
        std::cerr << "hub-portal-consumer: " << e.displayText() << '\n';
    } catch (const std::exception& e) {
        std::cerr << "hub-portal-consumer: " << e.what() << '\n';
    }
    return 1;
}
