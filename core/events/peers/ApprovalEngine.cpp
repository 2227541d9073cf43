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
//   hub-approval-engine --config engine.properties [--listen EP] [--hub EP]
//
// Config keys (defaults):
//   engine.listen = tcp://127.0.0.1:5602      where the hub delivers requests
//   engine.hub = tcp://127.0.0.1:5600         the hub's events.inbound.endpoint
//   engine.source = /approval-engine
//   engine.rule.amountField = amount          a number in the request's data
//   engine.rule.maxAmount = 10000             approve unless amount > maxAmount
//   engine.resendMs = 1000                    resend an unacknowledged decision
//   engine.curve.publicKeyFile / secretKeyFile   the engine's keys (enables CURVE)
//   engine.curve.hubPublicKeyFile              the hub's public key
//   engine.curve.authorizedKeysFile            hub keys allowed to deliver requests
//
// stdout: "listening <endpoint>", then "decided <request id> <approved|rejected>".

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
    std::int64_t lastSent = 0;
};

std::string decisionIdFor(const std::string& requestId) {
    static const Poco::UUID ns("6f1c8a52-3d2e-4c1b-9d4e-0a7b5c3e2f10");
    Poco::SHA1Engine sha1;
    return Poco::UUIDGenerator::defaultGenerator()
        .createFromName(ns, requestId, sha1, Poco::UUID::UUID_NAME_BASED_SHA1)
        .toString();
}

}  // namespace

int main(int argc, char** argv) {
    auto args = peers::parseArgs(argc, argv);
    try {
        auto config = peers::loadConfig(args.count("config") ? args["config"] : "");
        std::string listen = args.count("listen") ? args["listen"]
                                                  : config->getString("engine.listen", "tcp://127.0.0.1:5602");
        std::string hub = args.count("hub") ? args["hub"] : config->getString("engine.hub", "tcp://127.0.0.1:5600");
        std::string source = config->getString("engine.source", "/approval-engine");
        std::string amountField = config->getString("engine.rule.amountField", "amount");
        double maxAmount = config->getDouble("engine.rule.maxAmount", 10000);
        int resendMs = config->getInt("engine.resendMs", 1000);
        std::string publicKey = config->getString("engine.curve.publicKeyFile", "");
        peers::installSignalHandlers();

        ::zmq::context_t ctx;
        std::unique_ptr<hub::zmq::ZapAuthenticator> zap;
        ::zmq::socket_t requests(ctx, ::zmq::socket_type::router);
        ::zmq::socket_t decisions(ctx, ::zmq::socket_type::dealer);
        hub::zmq::applyDefaultOptions(requests);
        hub::zmq::applyDefaultOptions(decisions);
        requests.set(::zmq::sockopt::maxmsgsize, static_cast<int64_t>(CloudEvent::DefaultMaxBytes * 4));
        if (!publicKey.empty()) {
            auto keys = hub::zmq::loadKeyPair(publicKey, config->getString("engine.curve.secretKeyFile"));
            std::set<std::string> allowed;
            for (auto& k : hub::zmq::readKeyList(config->getString("engine.curve.authorizedKeysFile")))
                allowed.insert(k);
            zap = std::make_unique<hub::zmq::ZapAuthenticator>(ctx, allowed, false);
            hub::zmq::makeCurveServer(requests, keys, "approval-engine");
            hub::zmq::makeCurveClient(decisions, keys,
                                      hub::zmq::readKeyFile(config->getString("engine.curve.hubPublicKeyFile")));
        }
        requests.bind(listen);
        decisions.connect(hub);
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
            out.set("decidedBy", "approval-engine");
            std::ostringstream json;
            out.stringify(json);
            CloudEvent decision = CloudEvent::create(EventType::ApprovalDecided, source, request.subject, json.str());
            decision.id = decisionIdFor(request.id);
            return std::make_pair(decision, approved);
        };

        std::vector<::zmq::pollitem_t> poll{{requests.handle(), 0, ZMQ_POLLIN, 0},
                                            {decisions.handle(), 0, ZMQ_POLLIN, 0}};
        while (!peers::stopRequested) {
            try {
                ::zmq::poll(poll, std::chrono::milliseconds(100));
            } catch (const ::zmq::error_t&) {
                continue;
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
                PendingDecision p{request.id, peer, decision.id, decision.toJson(), nowMs()};
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
                if ((*f)[1] == "ack") {
                    hub::zmq::sendFrames(requests, {p->second.hubPeer, p->second.requestId, "ack"}, true);
                    done.insert(p->second.requestId);
                    pendingByRequest.erase(p->second.requestId);
                    pending.erase(p);
                } else {
                    std::cerr << "hub refused decision " << (*f)[0] << ": "
                              << (f->size() > 2 ? (*f)[2] : std::string()) << '\n';
                }
            }
            std::int64_t t = nowMs();
            for (auto& [id, p] : pending) {
                if (t - p.lastSent < resendMs) continue;
                hub::zmq::sendFrames(decisions, {p.decisionId, p.payload}, true);
                p.lastSent = t;
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
