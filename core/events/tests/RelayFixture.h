#pragma once
// What the relay tests share: a fixture with a hub database, the hub's key pair
// and a listed peer; a consumer config, numbered events, a DEALER to the inbound
// socket, a log channel that remembers. The relay runs on real ZeroMQ sockets
// over loopback, on the run's store (SQLite files in temp dirs, or a fresh
// PostgreSQL database: hub/test/StoreOptions.h). Test-only: the using-directives
// below are for the three test files that include it.

#include <hub/events/Outbox.h>
#include <hub/events/Relay.h>
#include <hub/zmq/Curve.h>
#include <hub/zmq/Frames.h>

#include "TestPeers.h"

#include <hub/test/StoreOptions.h>

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/Data/Session.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

using namespace hub::events;
using namespace hub::events::test;
using namespace Poco::Data::Keywords;

inline ConsumerConfig consumer(const std::string& name, const std::string& endpoint) {
    ConsumerConfig c;
    c.name = name;
    c.endpoint = endpoint;
    c.ackTimeoutMs = 3000;
    c.backoffInitialMs = 20;
    c.backoffMaxMs = 200;
    c.window = 100;
    return c;
}

inline std::string numbered(long n) { return "{\"n\":" + std::to_string(n) + ",\"note\":\"第" + std::to_string(n) + "号\"}"; }

inline long numberOf(const std::string& payload) {
    auto e = CloudEvent::fromJson(payload);
    Poco::JSON::Parser p;
    return p.parse(e.data).extract<Poco::JSON::Object::Ptr>()->getValue<long>("n");
}

inline std::string subjectOf(const std::string& payload) { return CloudEvent::fromJson(payload).subject; }

// A DEALER to the hub's inbound socket: a CURVE client with `keys`, or a NULL-
// mechanism one without. Replies wait up to `timeout`.
inline std::unique_ptr<::zmq::socket_t> dealerTo(::zmq::context_t& ctx, const std::string& endpoint,
                                          const hub::zmq::CurveKeyPair* keys, const std::string& hubPublicKey,
                                          std::chrono::milliseconds timeout = 10s) {
    auto dealer = std::make_unique<::zmq::socket_t>(ctx, ::zmq::socket_type::dealer);
    hub::zmq::applyDefaultOptions(*dealer);
    if (keys) hub::zmq::makeCurveClient(*dealer, *keys, hubPublicKey);
    dealer->set(::zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
    dealer->connect(endpoint);
    return dealer;
}

struct RelayFixture : ::testing::Test {
    TempDir tmp;
    // SQLite's tmp/hub.db, or a fresh PostgreSQL database (the run's backend).
    hub::store::Database::Options storeOptions = hub::test::storeOptions(tmp.dir.path());
    hub::store::Database db{storeOptions};
    std::atomic<int> applied{0};
    // The hub's key pair, made where a relay with this state folder makes it.
    hub::zmq::CurveKeyPair hubKeys =
        hub::zmq::loadOrCreateKeyPair(tmp.file("hub-curve.pub"), tmp.file("hub-curve.key"));
    // A peer the tests send decisions as.
    hub::zmq::CurveKeyPair testerKeys = hub::zmq::generateKeyPair();

    RelayFixture() {
        // Relay warnings (refusals, dead letters) show up in the test log.
        Poco::Logger::get("hub.events").setChannel(new Poco::ConsoleChannel);
        Poco::Logger::get("hub.zmq").setChannel(new Poco::ConsoleChannel);
        Outbox::migrate(db);
        Poco::Data::Session s = db.session();
        s << "CREATE TABLE app_state (id TEXT PRIMARY KEY, status TEXT NOT NULL, amount REAL NOT NULL, "
             "decisions INTEGER NOT NULL DEFAULT 0, last_decision TEXT, actor TEXT)",
            now;
    }

    // The default: CURVE with the hub's key pair above, and "tester" as a listed peer.
    RelayConfig relayConfig() {
        RelayConfig config;
        config.curve.publicKeyFile = tmp.file("hub-curve.pub");
        config.curve.secretKeyFile = tmp.file("hub-curve.key");
        config.peers.push_back({"tester", testerKeys.publicKey, "", {"inbound", "publish"}});
        return config;
    }

    TestConsumer::AdmitOnly hubOnly() const { return {hubKeys.publicKey}; }

    // A consumer entry for `c`, trusting its key.
    ConsumerConfig consumer(const std::string& name, const TestConsumer& c) {
        ConsumerConfig cc = ::consumer(name, c.endpoint());
        cc.serverPublicKey = c.publicKey();
        return cc;
    }

    std::unique_ptr<::zmq::socket_t> testerDealer(::zmq::context_t& ctx, const Relay& relay) {
        return dealerTo(ctx, relay.inboundEndpoint(), &testerKeys, hubKeys.publicKey);
    }

    // Appends `count` events in one transaction, subjects cycling over `subjects`.
    std::vector<std::string> appendEvents(long from, long count, int subjects = 5,
                                          std::string_view type = EventType::ApplicationStatusChanged) {
        Poco::Data::Session s = db.session();
        std::vector<std::string> ids;
        s.begin();
        for (long n = from; n < from + count; ++n) {
            auto e = CloudEvent::create(type, "/campus-hub", "APP-" + std::to_string(n % subjects), numbered(n));
            Outbox::append(s, e);
            ids.push_back(e.id);
        }
        s.commit();
        return ids;
    }

    // The hub's side of approval.decided: set the status, count the application,
    // and tell the portal, all in the relay's transaction.
    InboundHandler handler() {
        return [this](Poco::Data::Session& s, const CloudEvent& e, const InboundPeer& peer) {
            Poco::JSON::Parser p;
            auto data = p.parse(e.data).extract<Poco::JSON::Object::Ptr>();
            std::string app = data->getValue<std::string>("applicationId");
            std::string decision = data->getValue<std::string>("decision");
            if (app == "APP-FAIL") throw Poco::IllegalStateException("application is locked");
            if (app == "APP-THROWS") throw 42;  // not even a std::exception
            std::string payload = e.toJson();
            std::string actor = peer.authenticated ? peer.name : "unauthenticated";
            s << hub::store::sql(s, "UPDATE app_state SET status = ?, decisions = decisions + 1, "
                                    "last_decision = ?, actor = ? WHERE id = ?"),
                use(decision), use(payload), use(actor), use(app), now;
            Outbox::append(s, CloudEvent::create(EventType::ApplicationStatusChanged, "/campus-hub", app,
                                                 R"({"applicationId":")" + app + R"(","status":")" + decision +
                                                     "\"}"));
            ++applied;
        };
    }

    std::string scalar(const std::string& sql, const std::string& arg) { return scalarIn(db, sql, arg); }

    static std::string scalarIn(hub::store::Database& store, const std::string& sql, const std::string& arg) {
        Poco::Data::Session s = store.session();
        std::vector<std::string> out;
        std::string q = store.sql(sql), a = arg;
        s << q, use(a), into(out), now;
        return out.empty() ? "" : out[0];
    }
};

// Collects what a logger writes.
class CapturingChannel : public Poco::Channel {
public:
    void log(const Poco::Message& msg) override {
        std::lock_guard lock(mutex_);
        messages_.push_back(msg);
    }
    bool contains(Poco::Message::Priority atMost, const std::string& text) const { return count(atMost, text) > 0; }
    std::size_t count(Poco::Message::Priority atMost, const std::string& text) const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& m : messages_)
            n += m.getPriority() <= atMost && m.getText().find(text) != std::string::npos;
        return n;
    }

private:
    mutable std::mutex mutex_;
    std::vector<Poco::Message> messages_;
};

// The consumer's cursor as the relay last reported it; -1 before the first report.
inline std::int64_t cursorOf(const Relay& relay) {
    auto m = relay.metrics();
    return m.consumers.empty() ? -1 : m.consumers.front().cursor;
}

inline bool received(const TestConsumer& consumer, const std::string& id) {
    auto receipts = consumer.receipts();
    return std::any_of(receipts.begin(), receipts.end(), [&](const auto& r) { return r.id == id; });
}

// Checks every subject's events arrived in outbox order, counting only each
// event's first arrival (repeats after a retry are allowed).
inline void expectOrderedPerSubject(const std::vector<TestConsumer::Receipt>& receipts) {
    std::map<std::string, long> last;
    std::set<std::string> seen;
    for (const auto& r : receipts) {
        if (!seen.insert(r.id).second) continue;
        long n = numberOf(r.payload);
        std::string subject = subjectOf(r.payload);
        auto it = last.find(subject);
        if (it != last.end()) {
            EXPECT_LT(it->second, n) << "subject " << subject << " out of order";
        }
        last[subject] = n;
    }
}
