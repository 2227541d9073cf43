// hub-approval-engine: a stand-in for the campus approval engine.
//
// It receives approval.requested events from the hub (a ROUTER the hub connects
// to, like any consumer), decides by a rule from its config, and sends
// approval.decided to the hub's inbound socket. It acknowledges a request only
// after the hub has acknowledged the decision, so neither can be lost without
// the engine keeping any state on disk: if the engine dies, the hub resends the
// request, and the decision id is derived from the request id (UUID v5), so the
// hub sees the same decision again and applies it once.
//
// The hub's answers to a decision: "ack" (applied, or a repeat), "nack" with a
// reason starting "unavailable:" (the hub could not store it now, e.g. its disk is
// full: sent again with a growing pause, up to 30 s), or another nack (the hub will
// never apply it: the engine gives up and nacks the request, which the hub then
// retries and at last dead-letters, where an operator sees it).
//
// CURVE by default, with one key pair for both sockets: the hub must list the
// engine's public key in events.peers (its name there is who the hub records as
// deciding), and the engine admits only the hub's key on its request socket.
//
// stdout: "public-key <Z85>" (with CURVE), "listening <endpoint>", then
// "decided <request id> <approved|rejected>".

#include "PeerSupport.h"

#include <hub/events/CloudEvent.h>
#include <hub/zmq/Curve.h>
#include <hub/zmq/Frames.h>
#include <hub/zmq/ZapAuthenticator.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSONString.h>
#include <Poco/SHA1Engine.h>
#include <Poco/UUIDGenerator.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

using namespace hub::events;

namespace {

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct PendingDecision {
    std::string requestId;
    std::string hubPeer;  // routing id of the hub connection that sent the request
    std::string decisionId;
    std::string payload;
    std::int64_t nextSend = 0;   // when to send it again if the hub has not answered
    std::int64_t pause = 0;      // after "unavailable": grows up to maxPauseMs
};

constexpr std::int64_t maxPauseMs = 30000;

const char* const usage =
    "usage: hub-approval-engine [options]\n"
    "\n"
    "A stand-in for the campus approval engine: takes approval.requested from the hub,\n"
    "decides \"approve unless amount > maxAmount\" and sends approval.decided back.\n"
    "\n"
    "options (config keys in parentheses, from --config FILE):\n"
    "  --listen EP            where the hub delivers requests (engine.listen; tcp://127.0.0.1:5602)\n"
    "  --hub EP               the hub's events.inbound.endpoint (engine.hub; tcp://127.0.0.1:5600)\n"
    "  --public-key FILE      the engine's CURVE public key (engine.curve.publicKeyFile)\n"
    "  --secret-key FILE      its secret key (engine.curve.secretKeyFile); both are made at\n"
    "                         first start when neither exists\n"
    "  --hub-public-key FILE  the hub's public key (engine.curve.hubPublicKeyFile); waited\n"
    "                         for if not there yet\n"
    "  --plaintext            no CURVE (only for a hub run with events.curve.enabled = false)\n"
    "  --config FILE          a .properties, .ini or .xml file with the keys above and\n"
    "                         engine.source (/approval-engine), engine.rule.amountField (amount),\n"
    "                         engine.rule.maxAmount (10000), engine.resendMs (1000)\n"
    "  --help, --version\n";

std::string decisionIdFor(const std::string& requestId) {
    static const Poco::UUID ns("6f1c8a52-3d2e-4c1b-9d4e-0a7b5c3e2f10");
    Poco::SHA1Engine sha1;
    return Poco::UUIDGenerator::defaultGenerator()
        .createFromName(ns, requestId, sha1, Poco::UUID::UUID_NAME_BASED_SHA1)
        .toString();
}

}  // namespace

int main(int argc, char** argv) {
    if (peers::answeredHelpOrVersion(argc, argv, "hub-approval-engine", usage)) return 0;
    auto args = peers::parseArgs(argc, argv);
    try {
        auto config = peers::loadConfig(args.count("config") ? args["config"] : "");
        auto get = [&](const std::string& arg, const std::string& key, const std::string& fallback) {
            return args.count(arg) ? args[arg] : config->getString(key, fallback);
        };
        std::string listen = get("listen", "engine.listen", "tcp://127.0.0.1:5602");
        std::string hub = get("hub", "engine.hub", "tcp://127.0.0.1:5600");
        std::string source = config->getString("engine.source", "/approval-engine");
        std::string amountField = config->getString("engine.rule.amountField", "amount");
        double maxAmount = config->getDouble("engine.rule.maxAmount", 10000);
        int resendMs = config->getInt("engine.resendMs", 1000);
        std::string publicKey = get("public-key", "engine.curve.publicKeyFile", "");
        std::string secretKey = get("secret-key", "engine.curve.secretKeyFile", "");
        std::string hubKey = get("hub-public-key", "engine.curve.hubPublicKeyFile", "");
        bool plaintext = args.count("plaintext") > 0 || config->getBool("engine.plaintext", false);
        peers::installSignalHandlers();

        ::zmq::context_t ctx;
        std::unique_ptr<hub::zmq::ZapAuthenticator> zap;
        ::zmq::socket_t requests(ctx, ::zmq::socket_type::router);
        ::zmq::socket_t decisions(ctx, ::zmq::socket_type::dealer);
        hub::zmq::applyDefaultOptions(requests);
        hub::zmq::applyDefaultOptions(decisions);
        requests.set(::zmq::sockopt::maxmsgsize, static_cast<int64_t>(CloudEvent::DefaultMaxBytes * 4));
        if (plaintext) {
            peers::warnPlaintext("hub-approval-engine");
        } else {
            auto keys = peers::loadPeerKeys("hub-approval-engine", publicKey, secretKey, hubKey);
            zap = std::make_unique<hub::zmq::ZapAuthenticator>(
                ctx, std::vector<hub::zmq::ZapPeer>{{keys.hubPublicKey, "hub", {}}}, false);
            hub::zmq::makeCurveServer(requests, keys.own, "approval-engine");
            hub::zmq::makeCurveClient(decisions, keys.own, keys.hubPublicKey);
        }
        try {
            requests.bind(listen);
        } catch (const ::zmq::error_t& e) {
            throw Poco::IOException("--listen " + listen + ": cannot bind: " + e.what());
        }
        try {
            decisions.connect(hub);
        } catch (const ::zmq::error_t& e) {
            throw Poco::IOException("--hub " + hub + ": cannot connect: " + e.what());
        }
        std::cout << "listening " << hub::zmq::boundEndpoint(requests) << std::endl;

        std::map<std::string, PendingDecision> pending;  // by decision id
        std::map<std::string, std::string> pendingByRequest;
        peers::RecentIds done;                            // requests whose decision the hub acked

        auto decide = [&](const CloudEvent& request) {
            Poco::JSON::Parser parser;
            auto data = parser.parse(request.data).extract<Poco::JSON::Object::Ptr>();
            double amount = 0;
            if (data->has(amountField)) {
                auto v = data->get(amountField);
                try {
                    amount = v.convert<double>();
                } catch (const Poco::Exception&) {
                    amount = 0;
                }
            }
            bool approved = !(amount > maxAmount);
            Poco::JSON::Object out(Poco::JSON_PRESERVE_KEY_ORDER);
            out.set("applicationId", data->optValue<std::string>("applicationId", request.subject));
            if (data->has("taskId")) out.set("taskId", data->get("taskId"));
            out.set("requestId", request.id);
            out.set("decision", approved ? "approved" : "rejected");
            out.set("reason", approved ? "within the approval limit"
                                       : amountField + " exceeds " + std::to_string(maxAmount));
            // Informational only: the hub records the peer its CURVE key names.
            out.set("decidedBy", "approval-engine");
            std::ostringstream json;
            out.stringify(json);
            CloudEvent decision = CloudEvent::create(EventType::ApprovalDecided, source, request.subject, json.str());
            decision.id = decisionIdFor(request.id);
            return std::make_pair(decision, approved);
        };

        // One round: requests in, the hub's answers, resends due. Throws only on
        // something unexpected, which the loop below survives.
        auto round = [&] {
            std::vector<::zmq::pollitem_t> poll{{requests.handle(), 0, ZMQ_POLLIN, 0},
                                                {decisions.handle(), 0, ZMQ_POLLIN, 0}};
            try {
                ::zmq::poll(poll, std::chrono::milliseconds(100));
            } catch (const ::zmq::error_t& e) {
                if (e.num() == EINTR) return;
                throw;
            }
            while (auto f = hub::zmq::receiveFrames(requests, true)) {
                if (f->size() != 3) continue;
                const std::string& peer = (*f)[0];
                const std::string& id = (*f)[1];
                if (done.contains(id)) {
                    hub::zmq::sendFrames(requests, {peer, id, "ack"}, true);
                    continue;
                }
                auto already = pendingByRequest.find(id);
                if (already != pendingByRequest.end()) {
                    pending[already->second].hubPeer = peer;  // ack on the live connection
                    continue;
                }
                CloudEvent request;
                try {
                    request = CloudEvent::fromJson((*f)[2]);
                } catch (const EventError& e) {
                    hub::zmq::sendFrames(requests, {peer, id, "nack", e.message()}, true);
                    continue;
                }
                if (request.type != EventType::ApprovalRequested) {
                    hub::zmq::sendFrames(requests, {peer, id, "ack"}, true);  // not for us
                    continue;
                }
                auto [decision, approved] = decide(request);
                PendingDecision p{request.id, peer, decision.id, decision.toJson(), nowMs() + resendMs, 0};
                hub::zmq::sendFrames(decisions, {p.decisionId, p.payload}, true);
                pendingByRequest[request.id] = decision.id;
                pending[decision.id] = std::move(p);
                std::cout << "decided " << request.id << ' ' << (approved ? "approved" : "rejected")
                          << std::endl;
            }
            while (auto f = hub::zmq::receiveFrames(decisions, true)) {
                if (f->size() < 2) continue;
                auto p = pending.find((*f)[0]);
                if (p == pending.end()) continue;
                PendingDecision& d = p->second;
                std::string reason = f->size() > 2 ? (*f)[2] : std::string();
                if ((*f)[1] == "ack") {
                    hub::zmq::sendFrames(requests, {d.hubPeer, d.requestId, "ack"}, true);
                    done.insert(d.requestId);
                    pendingByRequest.erase(d.requestId);
                    pending.erase(p);
                } else if (reason.rfind("unavailable:", 0) == 0) {
                    // The hub could not store it now: the same decision again, later.
                    d.pause = std::min(maxPauseMs, std::max<std::int64_t>(resendMs, d.pause * 2));
                    d.nextSend = nowMs() + d.pause;
                    std::cerr << "hub cannot take decision " << d.decisionId << " now, sending it again in "
                              << d.pause << " ms: " << reason << '\n';
                } else {
                    // Refused for good: hand the request back, the hub retries it
                    // and finally dead-letters it for an operator to see.
                    std::cerr << "hub refused decision " << d.decisionId << ": " << reason << '\n';
                    hub::zmq::sendFrames(requests,
                                         {d.hubPeer, d.requestId, "nack", "the hub refused the decision: " + reason},
                                         true);
                    pendingByRequest.erase(d.requestId);
                    pending.erase(p);
                }
            }
            std::int64_t t = nowMs();
            for (auto& [id, p] : pending) {
                if (t < p.nextSend) continue;
                hub::zmq::sendFrames(decisions, {p.decisionId, p.payload}, true);
                p.nextSend = t + std::max<std::int64_t>(resendMs, p.pause);
            }
        };

        int failures = 0;
        while (!peers::stopRequested) {
            try {
                round();
                failures = 0;
            } catch (const std::exception& e) {
                std::cerr << "hub-approval-engine: error (continuing): " << e.what() << '\n';
                std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 10 << std::min(failures++, 7))));
            } catch (...) {
                std::cerr << "hub-approval-engine: error (continuing): unknown exception\n";
                std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 10 << std::min(failures++, 7))));
            }
        }
        return 0;
    } catch (const Poco::Exception& e) {
        std::cerr << "hub-approval-engine: " << e.displayText() << '\n';
    } catch (const std::exception& e) {
        std::cerr << "hub-approval-engine: " << e.what() << '\n';
    }
    return 1;
}
