#include "hub/identity/ProvisioningForwarder.h"

#include "hub/events/CloudEvent.h"
#include "hub/events/Outbox.h"
#include "hub/store/Database.h"
#include "hub/test/StoreOptions.h"
#include "hub/test/TempDir.h"

#include <Poco/Data/Session.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace hub;
using namespace Poco::Data::Keywords;

namespace {

struct Fixture {
    test::TempDir dir;
    store::Database::Options options = test::storeOptions(dir.path());  // kept: open() reopens the same store
    std::unique_ptr<store::Database> db;
    std::vector<std::pair<std::string, std::string>> delivered;  // plugin, event JSON
    std::vector<std::string> plugins{"ecard"};
    std::map<std::string, std::string> refusing;  // plugin -> why it refuses everything

    Fixture() { open(); }
    void open() {
        db.reset();
        db = std::make_unique<store::Database>(options);
        events::Outbox::migrate(*db);
    }
    identity::ProvisioningForwarder::Subscribers subscribers() {
        return [this] { return plugins; };
    }
    identity::ProvisioningForwarder::Deliver deliver() {
        return [this](const std::string& plugin, const std::string& json) -> std::string {
            if (auto it = refusing.find(plugin); it != refusing.end()) return it->second;
            delivered.emplace_back(plugin, json);
            return {};
        };
    }
    std::unique_ptr<identity::ProvisioningForwarder> forwarder(int maxAttempts = 3) {
        identity::ProvisioningForwarder::Options o;
        o.maxAttempts = maxAttempts;
        o.backoffInitial = std::chrono::milliseconds(0);  // every forward() is a retry
        o.backoffMax = std::chrono::milliseconds(0);
        return std::make_unique<identity::ProvisioningForwarder>(*db, subscribers(), deliver(), o);
    }
    void append(std::string_view type, const std::string& subject, const std::string& data) {
        Poco::Data::Session s = db->session();
        s.begin();
        events::Outbox::append(s, events::CloudEvent::create(type, "/campus-hub", subject, data));
        s.commit();
    }
    std::size_t deliveredTo(const std::string& plugin) const {
        return static_cast<std::size_t>(
            std::count_if(delivered.begin(), delivered.end(), [&](const auto& d) { return d.first == plugin; }));
    }
    int deadLetters(const std::string& consumer) {
        Poco::Data::Session s = db->session();
        int n = 0;
        std::string c = consumer;
        s << store::sql(s, "SELECT COUNT(*) FROM events_dead_letters WHERE consumer = ?"), use(c), into(n), now;
        return n;
    }
};

}  // namespace

// Only identity.changed reaches the provisioning plugins, each event once, in
// outbox order; the cursor survives a restart.
TEST(ProvisioningForwarder, OffersEachCommittedIdentityChangeOnceAcrossRestarts) {
    Fixture f;
    f.append(events::EventType::IdentityChanged, "persons/t.wang", R"({"kind":"created","id":"t.wang"})");
    f.append(events::EventType::PluginHealthChanged, "plugins/x", R"({"plugin":"x"})");
    f.append(events::EventType::IdentityChanged, "persons/s.li", R"({"kind":"departed","id":"s.李"})");
    {
        auto forwarder = f.forwarder();
        forwarder->forward();
        ASSERT_EQ(f.delivered.size(), 2u);
        EXPECT_EQ(f.delivered[0].first, "ecard");
        EXPECT_NE(f.delivered[0].second.find("\"t.wang\""), std::string::npos);
        EXPECT_NE(f.delivered[1].second.find("s.李"), std::string::npos);
        forwarder->forward();  // nothing new
        EXPECT_EQ(f.delivered.size(), 2u);
    }
    f.open();  // a hub restart
    f.append(events::EventType::IdentityChanged, "persons/x.zhao", R"({"kind":"updated","id":"x.zhao"})");
    f.forwarder()->forward();
    ASSERT_EQ(f.delivered.size(), 3u);
    EXPECT_NE(f.delivered[2].second.find("x.zhao"), std::string::npos);
}

// A refused event holds that plugin's cursor (and order) and is offered again;
// after maxAttempts it goes to the dead letters and the plugin gets the next
// ones. Another plugin gets everything meanwhile. A replay offers it again.
TEST(ProvisioningForwarder, RetriesARefusedEventThenDeadLettersItWithoutHoldingOthers) {
    Fixture f;
    f.plugins = {"ecard", "library"};
    f.refusing["library"] = "status 6: the library system is down";
    f.append(events::EventType::IdentityChanged, "persons/t.wang", R"({"kind":"created","id":"t.wang"})");
    f.append(events::EventType::IdentityChanged, "persons/s.li", R"({"kind":"created","id":"s.li"})");
    auto forwarder = f.forwarder(3);
    forwarder->forward();  // attempt 1 for library
    EXPECT_EQ(f.deliveredTo("ecard"), 2u);
    EXPECT_EQ(f.deliveredTo("library"), 0u);
    forwarder->forward();  // attempt 2
    EXPECT_EQ(f.deadLetters("plugin:library"), 0);
    f.refusing.erase("library");  // the system is back before the last attempt
    forwarder->forward();
    ASSERT_EQ(f.deliveredTo("library"), 2u);  // in order, the refused one first
    EXPECT_NE(f.delivered[2].second.find("t.wang"), std::string::npos);
    EXPECT_EQ(f.deadLetters("plugin:library"), 0);

    // Down for good: three refusals of each event, then the dead letters.
    f.refusing["library"] = "status 8: bug";
    f.append(events::EventType::IdentityChanged, "persons/x.zhao", R"({"kind":"updated","id":"x.zhao"})");
    for (int i = 0; i < 3; ++i) forwarder->forward();
    EXPECT_EQ(f.deadLetters("plugin:library"), 1);
    EXPECT_EQ(f.deliveredTo("ecard"), 3u);
    f.refusing.erase("library");
    f.append(events::EventType::IdentityChanged, "persons/y.qian", R"({"kind":"updated","id":"y.qian"})");
    forwarder->forward();  // past the dead letter
    EXPECT_EQ(f.deliveredTo("library"), 3u);
    EXPECT_NE(f.delivered.back().second.find("y.qian"), std::string::npos);

    // The relay's admin replay writes attempts 0 at the dead letter's seq: offered again.
    {
        Poco::Data::Session s = f.db->session();
        s << "INSERT INTO events_delivery(consumer, seq, attempts, next_attempt_at, delivered_at) "
             "SELECT consumer, seq, 0, 0, NULL FROM events_dead_letters",
            now;
        s << "DELETE FROM events_dead_letters", now;
    }
    forwarder->forward();
    EXPECT_EQ(f.deliveredTo("library"), 4u);
    EXPECT_NE(f.delivered.back().second.find("x.zhao"), std::string::npos);
    EXPECT_EQ(f.deadLetters("plugin:library"), 0);
}

// A store without the outbox is a failure forward() logs, never throws.
TEST(ProvisioningForwarder, AStoreFailureIsLoggedNotThrown) {
    test::TempDir dir;
    store::Database db(test::storeOptions(dir.path()));
    std::size_t calls = 0;
    identity::ProvisioningForwarder forwarder(
        db, [] { return std::vector<std::string>{"ecard"}; },
        [&](const std::string&, const std::string&) {
            ++calls;
            return std::string();
        });
    EXPECT_NO_THROW(forwarder.forward());
    EXPECT_EQ(calls, 0u);
}
