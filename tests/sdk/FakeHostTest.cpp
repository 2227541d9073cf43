// The SDK's fake host (campushub/testing/fake_host.hpp): a plugin compiled into
// this test and the reference plugin loaded with dlopen, both driven through
// the ABI exactly as hubd drives them.
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>
#include <campushub/testing/fake_host.hpp>

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

using campushub::testing::CreateError;
using campushub::testing::FakeHost;
using campushub::testing::HttpReply;
using campushub::testing::HttpRequest;
using campushub::testing::PluginLibrary;

namespace {

// Reports what the host told it, so the tests can see the fake host's services.
class ProbePlugin : public campushub::Plugin {
public:
    ProbePlugin(campushub::Host& host, std::string_view config) : Plugin(host) {
        if (host.config("refuse")) throw campushub::Conflict("refused on request");
        configJson_ = std::string(config);
        operation("context", "deadline and caller", [](campushub::Call& call, std::string_view) {
            return "{\"remaining_ms\":" + std::to_string(call.remaining().count()) +
                   ",\"caller\":" + call.callerJson() + "}";
        });
        operation("config", "the config as create saw it", [this](campushub::Call&, std::string_view) {
            return configJson_;
        });
        operation("state", "key-value round trip", [this](campushub::Call&, std::string_view input) {
            auto in = campushub::json::parseObject(input);
            std::string key = campushub::json::requireString(in, "key");
            std::string before = this->host().kvGet(key).value_or("");
            this->host().kvPut(key, campushub::json::requireString(in, "value"));
            return "{\"before\":" + campushub::jsonString(before) + "}";
        });
        operation("emit", "emits an event", [this](campushub::Call&, std::string_view input) {
            return this->host().emitEvent(input) ? std::string("{}") : throw campushub::Unavailable("refused");
        });
        operation("fetch", "calls a URL through the host", [this](campushub::Call& call, std::string_view input) {
            auto in = campushub::json::parseObject(input);
            auto r = this->host().http(&call, "POST", campushub::json::requireString(in, "url"), "{\"q\":1}",
                                       "Content-Type: application/json\r\n");
            return "{\"status\":" + std::to_string(r.status) + ",\"body\":" + campushub::jsonString(r.body) + "}";
        });
        operation("context11", "key, trace and a config lookup (ABI 1.1)", [this](campushub::Call& call,
                                                                                 std::string_view) {
            std::string greeting = this->host().config("greeting").value_or("(absent)");  // throws when it failed
            return "{\"key\":" + campushub::jsonString(call.idempotencyKey()) +
                   ",\"trace\":" + campushub::jsonString(call.traceParent()) +
                   ",\"greeting\":" + campushub::jsonString(greeting) + "}";
        });
        operation("throw", "throws a std::exception", [](campushub::Call&, std::string_view) -> std::string {
            throw std::runtime_error("boom 爆炸");
        });
        host.warning("probe created");
    }

private:
    std::string configJson_;
};

}  // namespace

CAMPUSHUB_PLUGIN(ProbePlugin, "probe", "0.1.0")

TEST(FakeHost, PassesConfigAsMapAndAsJson) {
    FakeHost host;
    host.setConfig("base_url", "http://x.test").setConfig("名字", "张\"三");
    auto plugin = host.load(campushub_plugin_entry);
    auto r = plugin.invoke("config", "{}");
    ASSERT_TRUE(r.ok()) << r.body;
    std::string why;
    auto object = campushub::json::parseObject(r.body);  // the config JSON is valid, quotes escaped
    EXPECT_EQ(campushub::json::requireString(object, "名字"), "张\"三");
    EXPECT_EQ(campushub::json::requireString(object, "base_url"), "http://x.test");
}

TEST(FakeHost, SetsDeadlineAndCallerOfEachCall) {
    FakeHost host;
    host.setTimeout(std::chrono::milliseconds(90000)).setCaller("2023010001", {"student", "学生会"}, "t001");
    auto plugin = host.load(campushub_plugin_entry);
    auto r = plugin.invoke("context", "{}");
    ASSERT_TRUE(r.ok()) << r.body;
    auto object = campushub::json::parseObject(r.body);
    auto remaining = campushub::json::optionalInt(object, "remaining_ms", -1);
    EXPECT_GT(remaining, 60000);
    EXPECT_LE(remaining, 90000);
    const auto* caller = campushub::json::member(object, "caller");
    ASSERT_NE(caller, nullptr);
    EXPECT_EQ(campushub::json::requireString(*caller, "subject"), "2023010001");
    const auto* roles = campushub::json::member(*caller, "roles");
    ASSERT_TRUE(roles && roles->IsArray() && roles->Size() == 2);
    EXPECT_EQ(std::string((*roles)[1].GetString()), "学生会");
    EXPECT_EQ(campushub::json::requireString(*caller, "acting_for"), "t001");

    host.setTimeout(std::chrono::milliseconds(0));
    auto late = campushub::json::parseObject(plugin.invoke("context", "{}").body);
    EXPECT_EQ(campushub::json::optionalInt(late, "remaining_ms", -1), 0);
}

TEST(FakeHost, CapturesLogsEventsStateAndHttp) {
    FakeHost host;
    host.onHttp([](const HttpRequest& r) {
        if (r.url == "http://down.test/") return HttpReply::failure(CH_ERR_TIMEOUT, "took too long");
        return HttpReply{201, "created " + r.body, "X-Test: 1\r\n"};
    });
    auto plugin = host.load(campushub_plugin_entry);
    EXPECT_TRUE(host.logged("probe created"));
    ASSERT_EQ(host.logs().size(), 1u);
    EXPECT_EQ(host.logs()[0].level, CH_LOG_WARNING);

    EXPECT_TRUE(plugin.invoke("emit", R"({"type":"edu.campus.hub.test"})").ok());
    ASSERT_EQ(host.events().size(), 1u);
    EXPECT_EQ(host.events()[0], R"({"type":"edu.campus.hub.test"})");

    EXPECT_EQ(plugin.invoke("state", R"({"key":"k","value":"一"})").body, R"({"before":""})");
    EXPECT_EQ(plugin.invoke("state", R"({"key":"k","value":"二"})").body, R"({"before":"一"})");
    EXPECT_EQ(host.state().at("k"), "二");

    auto fetched = plugin.invoke("fetch", R"({"url":"http://up.test/"})");
    ASSERT_TRUE(fetched.ok()) << fetched.body;
    EXPECT_EQ(fetched.body, R"({"status":201,"body":"created {\"q\":1}"})");
    ASSERT_EQ(host.httpRequests().size(), 1u);
    EXPECT_EQ(host.httpRequests()[0].method, "POST");
    EXPECT_EQ(host.httpRequests()[0].headers, "Content-Type: application/json\r\n");

    auto timedOut = plugin.invoke("fetch", R"({"url":"http://down.test/"})");
    EXPECT_EQ(timedOut.status, CH_ERR_TIMEOUT);
    EXPECT_EQ(timedOut.body, "took too long");
}

TEST(FakeHost, TurnsExceptionsAndRefusalsIntoStatuses) {
    FakeHost host;
    auto plugin = host.load(campushub_plugin_entry);
    auto thrown = plugin.invoke("throw", "{}");
    EXPECT_EQ(thrown.status, CH_ERR_INTERNAL);
    EXPECT_EQ(thrown.body, "boom 爆炸");
    EXPECT_EQ(thrown.answers, 1);
    EXPECT_EQ(plugin.invoke("nope", "{}").status, CH_ERR_UNKNOWN_OPERATION);

    FakeHost refusing;
    refusing.setConfig("refuse", "yes");
    try {
        refusing.load(campushub_plugin_entry);
        FAIL() << "create should have refused";
    } catch (const CreateError& e) {
        EXPECT_EQ(e.status(), CH_ERR_CONFLICT);
        EXPECT_EQ(e.detail(), "refused on request");
    }
}

TEST(FakeHost, CopesWithAHostLackingOptionalServices) {
    FakeHost host;
    host.table().kv_get = nullptr;
    host.table().kv_put = nullptr;
    host.table().http_request = nullptr;
    auto plugin = host.load(campushub_plugin_entry);
    EXPECT_EQ(plugin.invoke("state", R"({"key":"k","value":"v"})").status, CH_ERR_UNAVAILABLE);
    EXPECT_EQ(plugin.invoke("fetch", R"({"url":"http://up.test/"})").status, CH_ERR_UNAVAILABLE);
}

TEST(PluginLibrary, ExplainsWhatIsWrongWithALibrary) {
    try {
        PluginLibrary missing("/nonexistent/libnothing.so");
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/libnothing.so"), std::string::npos) << e.what();
    }
    try {
        PluginLibrary noEntry(NOENTRY_LIBRARY);
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("campushub_plugin_entry"), std::string::npos) << e.what();
    }
}

// The reference plugin, loaded like hubd loads it, against a fake student
// affairs system.
TEST(PluginLibrary, LoadsTheReferencePluginWithDlopen) {
    PluginLibrary library(std::string(REFERENCE_PLUGIN) + "/libstudent_affairs.so");
    FakeHost host;
    host.setConfig("base_url", "http://sa.test/");
    host.onHttp([](const HttpRequest& r) {
        if (r.url == "http://sa.test/students/2023010001")
            return HttpReply{200, R"({"student_id":"2023010001","name":"张三"})"};
        if (r.url == "http://sa.test/health") return HttpReply{200, "{}"};
        return HttpReply{404, "{}"};
    });
    auto plugin = host.load(library);
    auto found = plugin.invoke("get_student", R"({"student_id":"2023010001"})");
    ASSERT_TRUE(found.ok()) << found.body;
    EXPECT_NE(found.body.find("张三"), std::string::npos);
    EXPECT_EQ(plugin.invoke("get_student", R"({"student_id":"2023999999"})").status, CH_ERR_NOT_FOUND);
    EXPECT_EQ(plugin.invoke("get_student", R"({"student_id":"../admin"})").status, CH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(plugin.health().body, R"({"status":"up"})");
    // Every request went where the plugin's config said, nowhere else.
    for (const auto& r : host.httpRequests()) EXPECT_EQ(r.url.rfind("http://sa.test/", 0), 0u) << r.url;
}

// ABI 1.1 in the fake host: the call's key and trace, the trace sent on with
// outbound HTTP, and lookups that fail rather than answer "absent".
TEST(FakeHost, PassesKeyAndTraceAndTellsAbsentFromFailed) {
    const std::string trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    FakeHost host;
    host.setIdempotencyKey("flow:i-1/Task_1/1").setTraceParent(trace);
    auto plugin = host.load(campushub_plugin_entry);
    auto r = plugin.invoke("context11", "{}");
    ASSERT_TRUE(r.ok()) << r.body;
    auto o = campushub::json::parseObject(r.body);
    EXPECT_EQ(campushub::json::requireString(o, "key"), "flow:i-1/Task_1/1");
    EXPECT_EQ(campushub::json::requireString(o, "trace"), trace);
    EXPECT_EQ(campushub::json::requireString(o, "greeting"), "(absent)");

    plugin.invoke("fetch", R"({"url":"http://vendor.test/"})");
    ASSERT_EQ(host.httpRequests().size(), 1u);
    EXPECT_NE(host.httpRequests()[0].headers.find("traceparent: " + trace + "\r\n"), std::string::npos)
        << host.httpRequests()[0].headers;

    host.failLookups("the store is down");
    auto failed = plugin.invoke("context11", "{}");
    EXPECT_EQ(failed.status, CH_ERR_UNAVAILABLE) << failed.body;
    EXPECT_EQ(failed.body, "the store is down");
}
