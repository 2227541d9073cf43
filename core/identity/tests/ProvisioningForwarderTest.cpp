#include "hub/identity/ProvisioningForwarder.h"

#include "hub/events/CloudEvent.h"
#include "hub/events/Outbox.h"
#include "hub/store/Database.h"
#include "hub/test/TempDir.h"

#include <Poco/Data/Session.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace hub;
using namespace Poco::Data::Keywords;

namespace {

struct Fixture {
    test::TempDir dir;
    std::unique_ptr<store::Database> db;
    std::vector<std::pair<std::string, std::string>> delivered;

    Fixture() { open(); }
    void open() {
        db.reset();
        db = std::make_unique<store::Database>(store::Database::Options{dir.file("hub.db")});
        events::Outbox::migrate(*db);
    }
    identity::ProvisioningForwarder::Deliver deliver() {
        return [this](const std::string& type, const std::string& json) { delivered.emplace_back(type, json); };
    }
    void append(std::string_view type, const std::string& subject, const std::string& data) {
        Poco::Data::Session s = db->session();
        s.begin();
        events::Outbox::append(s, events::CloudEvent::create(type, "/campus-hub", subject, data));
        s.commit();
    }
};

}  // namespace

// Only identity.changed reaches the provisioning plugins, each event once, in
// outbox order; the cursor survives a restart.
TEST(ProvisioningForwarder, OffersEachCommittedIdentityChangeOnceAcrossRestarts) {
    Fixture f;
    const std::string changed(events::EventType::IdentityChanged);
    f.append(events::EventType::IdentityChanged, "persons/t.wang", R"({"kind":"created","id":"t.wang"})");
    f.append(events::EventType::PluginHealthChanged, "plugins/x", R"({"plugin":"x"})");
    f.append(events::EventType::IdentityChanged, "persons/s.li", R"({"kind":"departed","id":"s.李"})");
    {
        identity::ProvisioningForwarder forwarder(*f.db, f.deliver());
        forwarder.forward();
        ASSERT_EQ(f.delivered.size(), 2u);
        EXPECT_EQ(f.delivered[0].first, changed);
        EXPECT_NE(f.delivered[0].second.find("\"t.wang\""), std::string::npos);
        EXPECT_NE(f.delivered[1].second.find("s.李"), std::string::npos);
        forwarder.forward();  // nothing new
        EXPECT_EQ(f.delivered.size(), 2u);
    }
    f.open();  // a hub restart
    f.append(events::EventType::IdentityChanged, "persons/x.zhao", R"({"kind":"updated","id":"x.zhao"})");
    identity::ProvisioningForwarder forwarder(*f.db, f.deliver());
    forwarder.forward();
    ASSERT_EQ(f.delivered.size(), 3u);
    EXPECT_NE(f.delivered[2].second.find("x.zhao"), std::string::npos);
}

// A store without the outbox is a failure forward() logs, never throws.
TEST(ProvisioningForwarder, AStoreFailureIsLoggedNotThrown) {
    test::TempDir dir;
    store::Database db(store::Database::Options{dir.file("hub.db")});
    std::size_t calls = 0;
    identity::ProvisioningForwarder forwarder(db, [&](const std::string&, const std::string&) { ++calls; });
    EXPECT_NO_THROW(forwarder.forward());
    EXPECT_EQ(calls, 0u);
}
