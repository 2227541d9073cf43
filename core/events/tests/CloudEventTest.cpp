#include <hub/events/CloudEvent.h>
#include <hub/events/RelayConfig.h>
#include <hub/common/Utf8.h>

#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <sstream>

using namespace hub::events;
using hub::isValidUtf8;

namespace {

std::string errorOf(const std::string& json, std::size_t maxBytes = CloudEvent::DefaultMaxBytes) {
    try {
        CloudEvent::fromJson(json, maxBytes);
    } catch (const EventError& e) {
        return e.message();
    }
    return "";
}

const std::string good =
    R"({"specversion":"1.0","id":"6d3f0c1e-2a4b-4c5d-8e9f-0a1b2c3d4e5f","source":"/approval-engine",)"
    R"("type":"edu.campus.hub.approval.decided","subject":"APP-2024-0001","time":"2024-05-01T08:00:00.5+08:00",)"
    R"("datacontenttype":"application/json","data":{"applicationId":"APP-2024-0001","decision":"approved"}})";

}  // namespace

TEST(CloudEvent, CreateSerializeParseRoundTrip) {
    CloudEvent e = CloudEvent::create(EventType::ApplicationSubmitted, "/campus-hub", "APP-1",
                                      R"({"applicant":"张三","item":"居住证办理","amount":12.5})");
    EXPECT_EQ(e.id.size(), 36u);
    EXPECT_TRUE(isRfc3339(e.time)) << e.time;
    std::string json = e.toJson();
    EXPECT_NE(json.find("张三"), std::string::npos) << "UTF-8 stays readable: " << json;
    EXPECT_NE(json.find(R"("data":{"applicant")"), std::string::npos) << "data is embedded JSON";
    CloudEvent back = CloudEvent::fromJson(json);
    EXPECT_EQ(back.id, e.id);
    EXPECT_EQ(back.type, e.type);
    EXPECT_EQ(back.subject, "APP-1");
    EXPECT_EQ(back.time, e.time);
    EXPECT_EQ(back.data, R"({"applicant":"张三","item":"居住证办理","amount":12.5})");
    EXPECT_EQ(back.toJson(), json);
    EXPECT_NE(CloudEvent::create(EventType::ApplicationSubmitted, "/h", "s", "{}").id, e.id);
}

TEST(CloudEvent, EveryKnownTypeIsAccepted) {
    ASSERT_EQ(knownEventTypes().size(), 10u);
    for (const auto& t : knownEventTypes()) {
        EXPECT_EQ(t.rfind("edu.campus.hub.", 0), 0u);
        EXPECT_NO_THROW(CloudEvent::create(t, "/campus-hub", "x", "{}"));
    }
    EXPECT_TRUE(isKnownEventType("edu.campus.hub.approval.decided"));
    EXPECT_TRUE(isKnownEventType("edu.campus.hub.queue.now_serving"));  // a reference adapter's
    EXPECT_FALSE(isKnownEventType("edu.campus.hub.approval"));
    EXPECT_FALSE(isKnownEventType("com.example.other"));
}

// A type a plugin declares in its manifest (<emits>) becomes known when registered.
TEST(CloudEvent, ARegisteredPluginTypeBecomesKnown) {
    const std::string type = "edu.campus.hub.hrtest.file_processed";
    EXPECT_FALSE(isKnownEventType(type));
    EXPECT_THROW(CloudEvent::create(type, "/campus-hub/plugins/hr", "x", "{}"), EventError);
    registerEventType(type);
    registerEventType(type);  // twice is harmless
    EXPECT_TRUE(isKnownEventType(type));
    EXPECT_FALSE(isBuiltInEventType(type));
    EXPECT_NO_THROW(CloudEvent::create(type, "/campus-hub/plugins/hr", "x", "{}"));
    EXPECT_THROW(registerEventType("com.example.other"), EventError);
    EXPECT_THROW(registerEventType("edu.campus.hub."), EventError);
}

TEST(CloudEvent, ParsesAValidEvent) {
    CloudEvent e = CloudEvent::fromJson(good);
    EXPECT_EQ(e.source, "/approval-engine");
    EXPECT_EQ(e.data, R"({"applicationId":"APP-2024-0001","decision":"approved"})");
    // Optional attributes may be absent; data null means an empty object.
    CloudEvent minimal = CloudEvent::fromJson(
        R"({"specversion":"1.0","id":"x","source":"/s","type":"edu.campus.hub.identity.changed","data":null})");
    EXPECT_EQ(minimal.data, "{}");
    EXPECT_EQ(minimal.subject, "");
    // Unknown extension attributes are allowed by the spec.
    EXPECT_NO_THROW(CloudEvent::fromJson(
        R"({"specversion":"1.0","id":"x","source":"/s","type":"edu.campus.hub.identity.changed","traceparent":"00-abc"})"));
}

TEST(CloudEvent, MalformedInputNamesTheProblem) {
    EXPECT_NE(errorOf("").find("not JSON"), std::string::npos);
    EXPECT_NE(errorOf("{").find("not JSON"), std::string::npos);
    EXPECT_NE(errorOf("[1,2]").find("not a JSON object"), std::string::npos);
    EXPECT_NE(errorOf(R"({"id":"x","source":"/s","type":"edu.campus.hub.identity.changed"})").find("specversion"),
              std::string::npos);
    EXPECT_NE(errorOf(R"({"specversion":"0.3","id":"x","source":"/s","type":"edu.campus.hub.identity.changed"})")
                  .find("specversion must be '1.0'"),
              std::string::npos);
    EXPECT_NE(errorOf(R"({"specversion":"1.0","source":"/s","type":"edu.campus.hub.identity.changed"})")
                  .find("'id' is missing"),
              std::string::npos);
    EXPECT_NE(errorOf(R"({"specversion":"1.0","id":42,"source":"/s","type":"edu.campus.hub.identity.changed"})")
                  .find("'id' must be a string"),
              std::string::npos);
    EXPECT_NE(errorOf(R"({"specversion":"1.0","id":"","source":"/s","type":"edu.campus.hub.identity.changed"})")
                  .find("'id' is empty"),
              std::string::npos);
    EXPECT_NE(errorOf(R"({"specversion":"1.0","id":"x","source":"/s","type":"edu.campus.hub.identity.changed","time":"yesterday"})")
                  .find("RFC 3339"),
              std::string::npos);
    EXPECT_NE(errorOf(R"({"specversion":"1.0","id":"x","source":"/s","type":"edu.campus.hub.identity.changed","time":"2024-02-30T10:00:00Z"})")
                  .find("RFC 3339"),
              std::string::npos);
    EXPECT_NE(errorOf(R"({"specversion":"1.0","id":"x","source":"/s","type":"edu.campus.hub.identity.changed","datacontenttype":"text/xml"})")
                  .find("datacontenttype"),
              std::string::npos);
    EXPECT_NE(errorOf(R"({"specversion":"1.0","id":"x","source":"/s","type":"edu.campus.hub.identity.changed","data_base64":"AAAA"})")
                  .find("data_base64"),
              std::string::npos);
    EXPECT_NE(errorOf(R"({"specversion":"1.0","id":"x","source":"/s","type":"edu.campus.hub.identity.changed","data":"text"})")
                  .find("data must be a JSON object"),
              std::string::npos);
}

TEST(CloudEvent, UnknownTypeIsRefused) {
    std::string msg = errorOf(
        R"({"specversion":"1.0","id":"x","source":"/s","type":"edu.campus.hub.application.deleted"})");
    EXPECT_NE(msg.find("unknown event type 'edu.campus.hub.application.deleted'"), std::string::npos) << msg;
    EXPECT_THROW(CloudEvent::create("com.example.thing", "/s", "x", "{}"), EventError);
}

TEST(CloudEvent, OversizedHostileAndWronglyEncodedInputIsRefused) {
    std::string big = good;
    big.insert(big.size() - 2, ",\"pad\":\"" + std::string(300 * 1024, 'x') + "\"");
    EXPECT_NE(errorOf(big).find("more than the 262144 allowed"), std::string::npos);
    EXPECT_NE(errorOf(good, 100).find("more than the 100 allowed"), std::string::npos);
    // Deep nesting would blow the parser's stack; refused before parsing.
    std::string deep = R"({"specversion":"1.0","id":"x","source":"/s","type":"edu.campus.hub.identity.changed","data":)" +
                       std::string(100000, '[') + std::string(100000, ']') + "}";
    EXPECT_NE(errorOf(deep).find("nested deeper"), std::string::npos);
    // Latin-1 bytes, a lone continuation byte, an overlong '/', a UTF-16 surrogate.
    for (std::string bad : {std::string("\xE9t\xE9"), std::string("\x80"), std::string("\xC0\xAF"),
                            std::string("\xED\xA0\x80")}) {
        std::string json = R"({"specversion":"1.0","id":"x","source":"/s","type":"edu.campus.hub.identity.changed","subject":")" +
                           bad + "\"}";
        EXPECT_NE(errorOf(json).find("not valid UTF-8"), std::string::npos);
    }
    EXPECT_TRUE(isValidUtf8("申请人 Zoë 😀"));
    EXPECT_NE(errorOf(std::string("{\"specversion\":\"1.0\"\0}", 21)).find("not JSON"), std::string::npos);
}

TEST(CloudEvent, Rfc3339) {
    EXPECT_TRUE(isRfc3339("2024-05-01T08:00:00Z"));
    EXPECT_TRUE(isRfc3339("2024-05-01T08:00:00.123456Z"));
    EXPECT_TRUE(isRfc3339("2024-05-01T08:00:00-05:30"));
    EXPECT_FALSE(isRfc3339("2024-05-01 08:00:00Z"));
    EXPECT_FALSE(isRfc3339("2024-05-01T08:00:00"));
    EXPECT_FALSE(isRfc3339("2024-13-01T08:00:00Z"));
    EXPECT_FALSE(isRfc3339("2024-05-01T25:00:00Z"));
    EXPECT_FALSE(isRfc3339("2024-05-01T08:00:00.Z"));
    EXPECT_FALSE(isRfc3339(""));
}

TEST(RelayConfig, ReadsXmlSubtree) {
    std::istringstream xml(R"(<hub><events>
        <consumers>
          <consumer><name>portal</name><endpoint>tcp://127.0.0.1:5601</endpoint><window>50</window></consumer>
          <consumer><name>approval</name><endpoint>tcp://127.0.0.1:5602</endpoint>
            <types>edu.campus.hub.approval.requested</types><maxAttempts>3</maxAttempts></consumer>
        </consumers>
        <publish><endpoint>tcp://127.0.0.1:5610</endpoint></publish>
        <inbound><endpoint>tcp://127.0.0.1:5600</endpoint></inbound>
        <relay><batchSize>200</batchSize></relay>
        <peers>
          <peer name="portal"><publicKeyFile>/etc/campushub/peers/portal.pub</publicKeyFile><sockets/></peer>
          <peer name="approval"><publicKeyFile>/etc/campushub/peers/approval.pub</publicKeyFile>
            <sockets>inbound</sockets></peer>
        </peers>
      </events></hub>)");
    Poco::AutoPtr<Poco::Util::XMLConfiguration> config = new Poco::Util::XMLConfiguration(xml);
    Poco::AutoPtr<Poco::Util::AbstractConfiguration> view = config->createView("events");
    RelayConfig r = RelayConfig::fromConfiguration(*view, "/var/lib/campushub");
    EXPECT_TRUE(r.curve.enabled);
    EXPECT_EQ(r.curve.secretKeyFile, "/var/lib/campushub/hub-curve.key");
    ASSERT_EQ(r.peers.size(), 2u);
    EXPECT_EQ(r.peers[1].name, "approval");
    EXPECT_EQ(r.peers[1].publicKeyFile, "/etc/campushub/peers/approval.pub");
    EXPECT_EQ(r.peers[1].sockets, std::vector<std::string>{"inbound"});
    EXPECT_TRUE(r.peers[0].sockets.empty());
    ASSERT_EQ(r.consumers.size(), 2u);
    EXPECT_EQ(r.consumers[0].name, "portal");
    EXPECT_EQ(r.consumers[0].window, 50u);
    EXPECT_TRUE(r.consumers[0].wants("edu.campus.hub.identity.changed"));
    EXPECT_EQ(r.consumers[1].maxAttempts, 3);
    EXPECT_TRUE(r.consumers[1].wants("edu.campus.hub.approval.requested"));
    EXPECT_FALSE(r.consumers[1].wants("edu.campus.hub.approval.decided"));
    EXPECT_EQ(r.publishEndpoint, "tcp://127.0.0.1:5610");
    EXPECT_EQ(r.inboundEndpoint, "tcp://127.0.0.1:5600");
    EXPECT_EQ(r.batchSize, 200u);
    ASSERT_EQ(r.inboundTypes.size(), 1u);
}

TEST(RelayConfig, BadValuesNameTheKey) {
    auto errorFor = [](const std::map<std::string, std::string>& keys) {
        Poco::AutoPtr<Poco::Util::MapConfiguration> c = new Poco::Util::MapConfiguration;
        for (const auto& [k, v] : keys) c->setString(k, v);
        try {
            RelayConfig::fromConfiguration(*c);
        } catch (const Poco::InvalidArgumentException& e) {
            return e.message();
        }
        return std::string();
    };
    EXPECT_NE(errorFor({{"consumers.consumer[0].name", "p"}}).find("endpoint is empty"), std::string::npos);
    EXPECT_NE(errorFor({{"consumers.consumer[0].name", "p"},
                        {"consumers.consumer[0].endpoint", "tcp://x:1"},
                        {"consumers.consumer[1].name", "p"},
                        {"consumers.consumer[1].endpoint", "tcp://x:2"}})
                  .find("used twice"),
              std::string::npos);
    EXPECT_NE(errorFor({{"consumers.consumer[0].name", "p"},
                        {"consumers.consumer[0].endpoint", "tcp://x:1"},
                        {"consumers.consumer[0].window", "lots"}})
                  .find("consumer[0].window is not a number"),
              std::string::npos);
    EXPECT_NE(errorFor({{"consumers.consumer[0].name", "p"},
                        {"consumers.consumer[0].endpoint", "tcp://x:1"},
                        {"consumers.consumer[0].maxAttempts", "0"}})
                  .find("maxAttempts = 0 is out of range"),
              std::string::npos);
    EXPECT_NE(errorFor({{"inbound.types", "edu.campus.hub.nope"}}).find("unknown event type"), std::string::npos);
    EXPECT_NE(errorFor({{"curve.enabled", "true"}, {"inbound.endpoint", "tcp://x:1"}}).find("publicKeyFile"),
              std::string::npos);
    EXPECT_NE(errorFor({{"curve.enabled", "maybe"}}).find("not a boolean"), std::string::npos);
    EXPECT_NE(errorFor({{"curve.enabled", "false"}, {"relay.leaseTtlMs", "200"}}).find("relay.leaseTtlMs = 200 is out of range"),
              std::string::npos);
    EXPECT_EQ(errorFor({}), "");
}
