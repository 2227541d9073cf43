// Several hubs on one database (issue 17): identity changes reach the
// provisioning plugins from one node at a time, the holder of the lease
// identity.provisioning; when it dies or stops another resumes from the
// plugin's durable cursor. Each "node" is a Database of its own (own node id)
// with a ProvisioningForwarder, on one store, forwarding in a loop on a thread
// of its own while events keep arriving: every event must reach the plugin
// exactly once, in outbox order.

#include "hub/identity/ProvisioningForwarder.h"

#include "hub/events/CloudEvent.h"
#include "hub/events/Outbox.h"
#include "hub/store/Database.h"
#include "hub/store/Lease.h"
#include "hub/store/LeaseKeeper.h"
#include "hub/test/StoreOptions.h"
#include "hub/test/TempDir.h"

#include <Poco/Data/Session.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace hub;
using namespace std::chrono_literals;

namespace {

// What the plugin received, from every node, in the order it arrived, with
// the lease token the node held when it offered the event.
struct Received {
    std::string node, subject;
    std::int64_t token = 0;
};
struct PluginLog {
    std::mutex mutex;
    std::vector<Received> received;

    std::size_t size() {
        std::lock_guard lock(mutex);
        return received.size();
    }
    std::size_t from(const std::string& node) {
        std::lock_guard lock(mutex);
        std::size_t n = 0;
        for (const auto& r : received) n += r.node == node;
        return n;
    }
};

// The subject the event JSON carries ("persons/p<n>").
std::string subjectOf(const std::string& json) {
    const std::string key = "\"subject\":\"";
    const auto at = json.find(key);
    if (at == std::string::npos) return {};
    return json.substr(at + key.size(), json.find('"', at + key.size()) - at - key.size());
}

struct ForwardingNode {
    std::string name;
    std::unique_ptr<store::Database> db;
    std::unique_ptr<identity::ProvisioningForwarder> forwarder;
    std::atomic<bool> stopping{false};
    std::atomic<long> rounds{0};  // forward() calls returned
    std::thread loop;

    ForwardingNode(store::Database::Options options, std::string node, PluginLog& log) : name(std::move(node)) {
        options.nodeId = name;
        db = std::make_unique<store::Database>(options);
        forwarder = std::make_unique<identity::ProvisioningForwarder>(
            *db, [] { return std::vector<std::string>{"ecard"}; },
            [this, &log](const std::string&, const std::string& json) {
                std::lock_guard lock(log.mutex);
                log.received.push_back({name, subjectOf(json), forwarder->lease()->token()});
                return std::string();
            });
        forwarder->coordinate(1500ms);
        loop = std::thread([this] {
            while (!stopping) {
                forwarder->forward();
                ++rounds;
                std::this_thread::sleep_for(5ms);
            }
        });
    }
    // A clean stop: the loop ends, then the forwarder goes and hands the lease over.
    void stop() {
        stopping = true;
        if (loop.joinable()) loop.join();
        forwarder.reset();
    }
    ~ForwardingNode() { stop(); }
};

void appendChange(store::Database& db, int n) {
    Poco::Data::Session s = db.session();
    s.begin();
    events::Outbox::append(s, events::CloudEvent::create(events::EventType::IdentityChanged, "/campus-hub",
                                                         "persons/p" + std::to_string(n),
                                                         R"({"kind":"updated","id":"p)" + std::to_string(n) + "\"}"));
    s.commit();
}

template <typename Predicate>
bool waitFor(Predicate done, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

}  // namespace

TEST(ProvisioningLease, OneNodeForwardsAndTheNextResumesWhereItStopped) {
    test::TempDir dir;
    const auto options = test::storeOptions(dir.path());  // one store for every node
    store::Database setup(options);
    events::Outbox::migrate(setup);
    constexpr int total = 600;
    int appended = 0;
    for (; appended < 200; ++appended) appendChange(setup, appended);

    PluginLog log;
    auto a = std::make_unique<ForwardingNode>(options, "node-a", log);
    // coordinate() waits 3 s at most for its first try: longer on a loaded machine.
    ASSERT_TRUE(waitFor([&] { return a->forwarder->lease()->held(); }, 20s)) << "node-a never took the lease";
    const std::int64_t firstToken = a->forwarder->lease()->token();
    auto b = std::make_unique<ForwardingNode>(options, "node-b", log);
    ASSERT_FALSE(b->forwarder->lease()->held());

    // Events keep arriving while node-a forwards.
    std::thread producer([&] {
        for (; appended < 400; ++appended) {
            appendChange(setup, appended);
            if (appended % 20 == 0) std::this_thread::sleep_for(15ms);
        }
    });
    struct Join {
        std::thread& t;
        ~Join() {
            if (t.joinable()) t.join();  // an ASSERT below returned early
        }
    } joinProducer{producer};

    ASSERT_TRUE(waitFor([&] { return log.size() >= 250; }, 20s)) << log.size();
    // node-b forwarded nothing while the lease stayed with node-a. A 1.5 s lease
    // may change hands when a loaded machine keeps node-a from renewing it in
    // time; then node-b forwards as the holder (the tokens below say whether
    // two nodes ever forwarded at once).
    const std::size_t byB = log.from("node-b");
    const auto holder = store::Lease::current(setup, "identity.provisioning");
    if (holder && holder->token == firstToken) {
        EXPECT_EQ(byB, 0u) << "node-b forwarded while node-a held the lease";
    } else {
        std::cout << "the lease left node-a before it died (token " << firstToken << ", now "
                  << (holder ? std::to_string(holder->token) : "none") << ")\n";
    }

    // node-a dies (stops renewing; its loop goes on, and must forward nothing).
    // An event it was offering as the lease went may still arrive: it checked
    // the lease before that offer. So count once the forward() it was in has
    // returned (a round ends after abandon() did).
    a->forwarder->lease()->abandon();
    const long roundAtDeath = a->rounds;
    ASSERT_TRUE(waitFor([&] { return a->rounds > roundAtDeath; }, 10s)) << "node-a's forward() did not return";
    const std::size_t byA = log.from("node-a");
    const std::size_t byBAtDeath = log.from("node-b");
    // More events while the nodes change over: whatever node-a left, node-b has these.
    producer.join();
    for (; appended < 450; ++appended) appendChange(setup, appended);
    ASSERT_TRUE(waitFor([&] { return log.from("node-b") > byBAtDeath; }, 10s)) << "node-b never took over";
    EXPECT_EQ(log.from("node-a"), byA) << "the dead node forwarded on";

    // node-c joins; node-b stops cleanly and hands over at once.
    auto c = std::make_unique<ForwardingNode>(options, "node-c", log);
    ASSERT_TRUE(waitFor([&] { return log.size() >= 450; }, 20s)) << log.size();
    b->stop();
    for (; appended < total; ++appended) appendChange(setup, appended);
    ASSERT_TRUE(waitFor([&] { return log.size() >= static_cast<std::size_t>(total); }, 20s))
        << "only " << log.size() << " of " << total << " delivered";
    std::this_thread::sleep_for(300ms);  // anything delivered twice shows up now
    c->stop();
    a->stop();
    EXPECT_EQ(log.from("node-a"), byA) << "the dead node forwarded later on";

    EXPECT_GT(log.from("node-a"), 0u);
    EXPECT_GT(log.from("node-b"), 0u);
    EXPECT_GT(log.from("node-c"), 0u);
    ASSERT_EQ(log.size(), static_cast<std::size_t>(total)) << "an event was delivered twice";
    std::map<std::int64_t, std::string> tenures;  // token -> the one node that forwarded under it
    for (int i = 0; i < total; ++i) {
        const Received& r = log.received[static_cast<std::size_t>(i)];
        ASSERT_EQ(r.subject, "persons/p" + std::to_string(i)) << "out of order or lost at " << i << " (node " << r.node << ")";
        // One node at a time: tenures follow each other, each one node's.
        ASSERT_GT(r.token, 0) << r.node << " forwarded event " << i << " without ever holding the lease";
        if (i > 0) {
            ASSERT_GE(r.token, log.received[static_cast<std::size_t>(i - 1)].token)
                << r.node << " forwarded event " << i << " under an older tenure than the event before";
        }
        ASSERT_EQ(tenures.emplace(r.token, r.node).first->second, r.node) << "two nodes forwarded under token " << r.token;
    }
}
