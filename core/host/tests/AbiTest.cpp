// ABI 1.1 against real plugins: the growth rule (1.0 and 1.1 tables read each
// other), a plugin built for 1.0 (tests/abi10, frozen headers) loaded and called
// in process and in a worker, the look-up by capability (tests/plugins/future,
// in C), the call's idempotency key and trace context end to end (to a real
// HTTP and SOAP server on loopback), and lookups that tell absent from failed.
#include "abi10/Abi10Reader.h"
#include "HostTestSupport.h"

#include "SoapTestServer.h"
#include "hub/host/CallContext.h"
#include "hub/host/PluginHost.h"
#include "hub/http/Client.h"
#include "hub/soap/Client.h"
#include "hub/store/Database.h"
#include "hub/test/StoreOptions.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/TempDir.h"

#include <campushub/plugin.h>

#include <Poco/Data/Session.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <future>
#include <sstream>

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace hub::host;
using hub::soap::testing::SoapTestServer;

namespace {

using hub::host::test::kTestPlugins;
const std::string kTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
// A student, as the student affairs plugin's policy wants (own record only).
const Caller kStudent{"2023010001", {"student"}, "", {"student"}};

using hub::host::test::parse;

// ---- the growth rule ----

template <class F>
const void* address(F* f) {
    const void* p;
    std::memcpy(&p, &f, sizeof p);
    return p;
}

ch_status noCreate(const ch_host_api*, ch_host*, ch_buffer, ch_plugin**, ch_sink) {
    return CH_ERR_INTERNAL;
}
void noDestroy(ch_plugin*) {}
void noDescribe(ch_plugin*, ch_sink) {}
void noInvoke(ch_plugin*, ch_call*, ch_buffer, ch_buffer, ch_sink) {}
void noEvent(ch_plugin*, ch_buffer, ch_sink) {}

TEST(AbiLayout, TheOneZeroStructsKeepTheirSizeAndTheirPrefix) {
    EXPECT_EQ(abi10::pluginApiSize(), CH_PLUGIN_API_SIZE_1_0);
    EXPECT_EQ(abi10::hostApiSize(), CH_HOST_API_SIZE_1_0);
    EXPECT_EQ(offsetof(ch_plugin_api, required_services), abi10::pluginApiSize());
    EXPECT_EQ(offsetof(ch_host_api, call_idempotency_key), abi10::hostApiSize());
    // Explicit reserved members where 1.0 had padding: the same size.
    EXPECT_EQ(abi10::httpRequestSize(), sizeof(ch_http_request));
}

TEST(AbiLayout, AOneZeroPluginTableReadsWithItsNewMembersNull) {
    const auto* table = static_cast<const ch_plugin_api*>(abi10::table10());
    ASSERT_EQ(table->struct_size, CH_PLUGIN_API_SIZE_1_0);
    ch_plugin_api api{};  // the rule: a zeroed struct of the reader's ...
    std::memcpy(&api, table, std::min<std::size_t>(table->struct_size, sizeof api));  // ... and the known prefix
    EXPECT_EQ(api.abi_minor, 0);
    EXPECT_NE(api.invoke, nullptr);
    EXPECT_NE(api.on_event, nullptr);
    EXPECT_EQ(api.required_services, nullptr);
}

TEST(AbiLayout, AOneOnePluginTableReadsAsItsPrefixOnAOneZeroHost) {
    static const char* const required[] = {"http_request", nullptr};
    const ch_plugin_api table = {sizeof(ch_plugin_api), CH_ABI_VERSION_MAJOR, CH_ABI_VERSION_MINOR,
                                 &noCreate, &noDestroy, &noDescribe, &noInvoke, nullptr, &noEvent, required};
    abi10::PluginTable seen = abi10::readAsHost10(&table);
    EXPECT_EQ(seen.structSize, sizeof(ch_plugin_api));
    EXPECT_EQ(seen.major, 1);
    EXPECT_EQ(seen.minor, CH_ABI_VERSION_MINOR);
    EXPECT_EQ(seen.create, address(&noCreate));
    EXPECT_EQ(seen.invoke, address(&noInvoke));
    EXPECT_EQ(seen.health, nullptr);
    EXPECT_EQ(seen.onEvent, address(&noEvent));
}

TEST(AbiLayout, CHostHasLooksAtTheSizeBeforeTheMember) {
    ch_host_api api{};
    api.struct_size = CH_HOST_API_SIZE_1_0;  // a 1.0 host's table ...
    api.call_idempotency_key = [](ch_call*) { return ch_buffer{"", 0}; };  // ... and bytes past it
    EXPECT_FALSE(CH_HOST_HAS(&api, call_idempotency_key));
    api.struct_size = sizeof api;
    EXPECT_TRUE(CH_HOST_HAS(&api, call_idempotency_key));
    EXPECT_FALSE(CH_HOST_HAS(&api, kv_lookup));  // NULL
}

// ABI 1.2 appended sql_query and identity_submit after 1.1's last_error: a 1.1
// host's table (128 bytes) has neither, whatever lies past its end.
TEST(AbiLayout, A11HostTableHasNoneOfThe12Services) {
    ch_host_api api{};
    api.struct_size = CH_HOST_API_SIZE_1_1;
    api.sql_query = [](ch_host*, ch_call*, ch_buffer, ch_buffer, ch_buffer, ch_sink) {};
    api.identity_submit = [](ch_host*, ch_call*, ch_buffer, ch_sink) {};
    EXPECT_FALSE(CH_HOST_HAS(&api, sql_query));
    EXPECT_FALSE(CH_HOST_HAS(&api, identity_submit));
    api.struct_size = sizeof api;
    EXPECT_TRUE(CH_HOST_HAS(&api, sql_query));
    EXPECT_TRUE(CH_HOST_HAS(&api, identity_submit));
    EXPECT_EQ(offsetof(ch_host_api, sql_query), CH_HOST_API_SIZE_1_1);
    EXPECT_EQ(offsetof(ch_host_api, identity_submit), CH_HOST_API_SIZE_1_1 + 8);
}

// ---- CallContext ----

TEST(CallContext, PortalKeysAreScopedByTheCaller) {
    std::string a = CallContext::forPortal("2023010001", "", "k-1");
    EXPECT_TRUE(isValidIdempotencyKey(a)) << a;
    EXPECT_EQ(a, CallContext::forPortal("2023010001", "", "k-1"));
    EXPECT_NE(a, CallContext::forPortal("2023010002", "", "k-1"));
    EXPECT_NE(a, CallContext::forPortal("portal-backend", "2023010001", "k-1"));
    // Parts are length-prefixed: moving a character across the boundary is another key.
    EXPECT_NE(CallContext::forPortal("ab", "", "c"), CallContext::forPortal("a", "", "bc"));
    EXPECT_TRUE(isValidIdempotencyKey(CallContext::forPortal("张三", "", "键")));
}

TEST(CallContext, FlowStepKeysAreReadableWhenTheyCanBe) {
    EXPECT_EQ(CallContext::forFlowStep("inst-7", "Task_issue", 2), "flow:inst-7/Task_issue/2");
    std::string hashed = CallContext::forFlowStep("inst-7", "任务_签发", 2);
    EXPECT_TRUE(isValidIdempotencyKey(hashed)) << hashed;
    EXPECT_NE(hashed, CallContext::forFlowStep("inst-7", "任务_签发", 3));
    EXPECT_NE(CallContext::forFlowStep("a/b", "c", 1), CallContext::forFlowStep("a", "b/c", 1));
    EXPECT_TRUE(isValidIdempotencyKey(CallContext::forFlowStep(std::string(300, 'x'), "e", 1)));
}

TEST(CallContext, OnlyWellFormedValuesPass) {
    EXPECT_TRUE(isValidTraceparent(kTrace));
    EXPECT_FALSE(isValidTraceparent(""));
    EXPECT_FALSE(isValidTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));  // zero trace id
    EXPECT_FALSE(isValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));  // zero parent
    EXPECT_FALSE(isValidTraceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));  // upper case
    EXPECT_FALSE(isValidTraceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    EXPECT_FALSE(isValidTraceparent(kTrace + "\r\nX-Evil: 1"));
    EXPECT_FALSE(isValidIdempotencyKey("two words"));
    EXPECT_FALSE(isValidIdempotencyKey("line\r\nbreak"));
    EXPECT_FALSE(isValidIdempotencyKey(std::string(kMaxIdempotencyKeyBytes + 1, 'k')));
    std::string child = childTraceparent(kTrace);
    EXPECT_TRUE(isValidTraceparent(child)) << child;
    EXPECT_EQ(child.substr(0, 36), kTrace.substr(0, 36));  // the same trace
    EXPECT_NE(child.substr(36, 16), kTrace.substr(36, 16));  // a new parent
    EXPECT_EQ(child.substr(52), kTrace.substr(52));
}

// ---- against the host ----

class AbiTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_.createDirectories();
        dir_ = root_.path() + "/plugins";
        fs::create_directories(dir_);
        database_ = std::make_unique<hub::store::Database>(hub::test::storeOptions(root_.path()));
    }

    void install(const std::string& from, const std::string& as) {
        fs::copy(from, dir_ + "/" + as, fs::copy_options::recursive);
    }

    std::unique_ptr<PluginHost> makeHost(const std::string& configXml = "<plugins/>") {
        std::istringstream in(configXml);
        config_ = new Poco::Util::XMLConfiguration(in);
        PluginHost::Options o;
        o.pluginsDir = dir_;
        o.config = config_;
        o.http = &http_;
        o.soap = &soap_;
        o.database = database_.get();
        o.process.workerExecutable = HUB_PLUGIN_WORKER;
        o.process.logLevel = "warning";
        auto host = std::make_unique<PluginHost>(o);
        host->loadAll();
        return host;
    }

    static std::string refusalFor(const PluginHost& host, const std::string& folder) {
        for (const auto& r : host.refusals())
            if (r.path.find("/" + folder + "/") != std::string::npos) return r.reason;
        return {};
    }

    static CallResult call(PluginHost& host, const std::string& system, const std::string& op, const std::string& in,
                           CallContext context = {}, const Caller& caller = kStudent) {
        std::promise<CallResult> promise;
        auto future = promise.get_future();
        auto submitted = host.submit(system, op, in, caller, std::move(context), Clock::now() + 10s,
                                     [&promise](CallResult r) { promise.set_value(std::move(r)); });
        EXPECT_EQ(submitted, PluginHost::Submit::Accepted);
        if (submitted != PluginHost::Submit::Accepted) return {};
        return future.get();
    }

    static Poco::JSON::Object::Ptr callOk(PluginHost& host, const std::string& system, const std::string& op,
                                          const std::string& in, CallContext context = {}) {
        CallResult r = call(host, system, op, in, std::move(context));
        EXPECT_EQ(r.status, CH_OK) << op << ": " << r.body;
        if (r.status != CH_OK) return new Poco::JSON::Object;
        return parse(r.body);
    }

    Poco::TemporaryFile root_;
    std::string dir_;
    Poco::AutoPtr<Poco::Util::XMLConfiguration> config_;
    std::unique_ptr<hub::store::Database> database_;
    hub::http::Client http_;
    hub::soap::Client soap_{http_};
};

// A plugin built for 1.0 with the 1.0 SDK (tests/abi10: the student affairs
// plugin as released, against the headers as released) loads and serves on
// this host, in process and in a worker.
TEST_F(AbiTest, AOneZeroPluginLoadsAndServesInEitherIsolation) {
    hub::test::TempDir simDir("abi10-sim");
    hub::test::ChildProcess sim(HUB_SIM_STUDENT_AFFAIRS, {.args = {"--port", "0", "--port-file", simDir.file("port")},
                                                          .portFile = simDir.file("port")});
    install(HUB_ABI10_PLUGIN_DIR, "student_affairs");
    for (const char* isolation : {"inproc", "process"}) {
        SCOPED_TRACE(isolation);
        auto host = makeHost(std::string("<plugins><plugin name=\"student_affairs\"><isolation>") + isolation +
                             "</isolation><config><base_url>" + sim.url("") + "</base_url></config></plugin></plugins>");
        ASSERT_TRUE(host->refusals().empty()) << host->refusals().front().reason;
        ASSERT_EQ(host->list().size(), 1u);
        EXPECT_EQ(host->list()[0].isolation, isolation);
        auto record = callOk(*host, "student_affairs", "get_student", R"({"student_id":"2023010001"})",
                             {"portal:abc", kTrace});  // a context the 1.0 plugin cannot see, and need not
        EXPECT_EQ(record->getValue<std::string>("name"), "张三");
        auto certificate =
            callOk(*host, "student_affairs", "enrolment_certificate", R"({"student_id":"2023010001"})");
        EXPECT_FALSE(certificate->getValue<std::string>("certificate_no").empty());
        const Caller clerk{"clerk.xsc", {"dept:student-affairs:clerk"}, "", {"staff"}};
        CallResult bad = call(*host, "student_affairs", "get_student", R"({"student_id":"../etc"})", {}, clerk);
        EXPECT_EQ(bad.status, CH_ERR_INVALID_ARGUMENT) << bad.body;
        CallResult missing =
            call(*host, "student_affairs", "get_student", R"({"student_id":"2023999999"})", {}, clerk);
        EXPECT_EQ(missing.status, CH_ERR_NOT_FOUND) << missing.body;
    }
}

// Look-up by capability: a plugin of a newer minor is accepted when the
// services it names exist, refused naming the missing one otherwise.
TEST_F(AbiTest, ANewerMinorLoadsOnlyWhenTheServicesItNamesExist) {
    for (const char* p : {"future_ok", "future_missing", "future_silent"}) install(kTestPlugins + "/" + p, p);
    auto host = makeHost();
    EXPECT_TRUE(host->has("future_ok"));
    EXPECT_EQ(callOk(*host, "future_ok", "ping", "{}")->getValue<bool>("pong"), true);

    EXPECT_FALSE(host->has("future_missing"));
    std::string missing = refusalFor(*host, "future_missing");
    EXPECT_NE(missing.find("requires host service 'blob_store'"), std::string::npos) << missing;
    EXPECT_NE(missing.find("this hub speaks 1." + std::to_string(CH_ABI_VERSION_MINOR)), std::string::npos) << missing;

    EXPECT_FALSE(host->has("future_silent"));
    std::string silent = refusalFor(*host, "future_silent");
    EXPECT_NE(silent.find("names no required host services"), std::string::npos) << silent;
}

// The same check on the hub's own minor: a service the hub does not lend this
// plugin (a worker has no key-value state) refuses it with the reason.
TEST_F(AbiTest, ARequiredServiceMissingInAWorkerRefusesThePlugin) {
    install(kTestPlugins + "/needs_kv", "needs_kv");
    {
        auto host = makeHost();
        EXPECT_TRUE(host->has("needs_kv")) << refusalFor(*host, "needs_kv");
    }
    auto host = makeHost("<plugins><plugin name=\"needs_kv\"><isolation>process</isolation></plugin></plugins>");
    EXPECT_FALSE(host->has("needs_kv"));
    std::string why = refusalFor(*host, "needs_kv");
    EXPECT_NE(why.find("'kv_get', which this hub does not offer to it here"), std::string::npos) << why;
}

// The call's key and trace reach the plugin, in process and in a worker; the
// HTTP service sends the trace on (a new parent id) and the plugin the key.
TEST_F(AbiTest, KeyAndTraceReachThePluginAndTheVendor) {
    SoapTestServer server;
    install(kTestPlugins + "/testkit", "testkit");
    for (const char* isolation : {"inproc", "process"}) {
        SCOPED_TRACE(isolation);
        auto host = makeHost(std::string("<plugins><plugin name=\"testkit\"><isolation>") + isolation +
                             "</isolation></plugin></plugins>");
        ASSERT_TRUE(host->has("testkit"));
        auto seen = callOk(*host, "testkit", "context", "{}", {"flow:i-1/Task_1/1", kTrace});
        EXPECT_EQ(seen->getValue<std::string>("idempotency_key"), "flow:i-1/Task_1/1");
        EXPECT_EQ(seen->getValue<std::string>("traceparent"), kTrace);
        auto none = callOk(*host, "testkit", "context", "{}");
        EXPECT_EQ(none->getValue<std::string>("idempotency_key"), "");
        EXPECT_EQ(none->getValue<std::string>("traceparent"), "");

        auto fetched = callOk(*host, "testkit", "fetch", "{\"url\":\"" + server.url("/echo") + "\"}",
                              {"portal:k-42", kTrace});
        EXPECT_EQ(fetched->getValue<int>("status"), 200);
        auto at = server.seen();
        EXPECT_EQ(at.idempotencyKey, "portal:k-42");
        ASSERT_TRUE(isValidTraceparent(at.traceparent)) << at.traceparent;
        EXPECT_EQ(at.traceparent.substr(0, 36), kTrace.substr(0, 36));
        EXPECT_NE(at.traceparent, kTrace);

        // Without a context nothing is added.
        callOk(*host, "testkit", "fetch", "{\"url\":\"" + server.url("/echo") + "\"}");
        EXPECT_EQ(server.seen().traceparent, "");
        EXPECT_EQ(server.seen().idempotencyKey, "");
    }
}

TEST_F(AbiTest, SoapCallsSendTheTraceOn) {
    SoapTestServer server;
    install(kTestPlugins + "/services", "services");
    auto host = makeHost();
    std::ostringstream request;
    Poco::JSON::Object in;
    in.set("endpoint", server.url("/echo"));
    in.set("action", "urn:test:Echo");
    in.set("envelope", SoapTestServer::envelope(SoapTestServer::kNs11, "<r:Echo/>"));
    in.stringify(request);
    callOk(*host, "services", "soap", request.str(), {"", kTrace});
    EXPECT_EQ(server.seen().traceparent.substr(0, 36), kTrace.substr(0, 36));
    EXPECT_EQ(server.seen().soapAction, "\"urn:test:Echo\"");
}

TEST_F(AbiTest, ABadContextIsRefusedBeforeThePluginRuns) {
    install(kTestPlugins + "/testkit", "testkit");
    auto host = makeHost();
    auto submit = [&](CallContext context) {
        return host->submit("testkit", "context", "{}", kStudent, std::move(context), Clock::now() + 5s,
                            [](CallResult) { ADD_FAILURE() << "the plugin ran"; });
    };
    EXPECT_EQ(submit({"key with spaces", ""}), PluginHost::Submit::InvalidContext);
    EXPECT_EQ(submit({"", "00-xyz"}), PluginHost::Submit::InvalidContext);
    EXPECT_EQ(submit({"", kTrace + "\r\nX-Injected: 1"}), PluginHost::Submit::InvalidContext);
}

// config_lookup and kv_lookup tell absent (CH_ERR_NOT_FOUND, no answer) from
// failed (another status and a text); last_error explains a status-only service.
TEST_F(AbiTest, LookupsTellAbsentFromFailedAndServicesSayWhy) {
    install(kTestPlugins + "/services", "services");
    auto host = makeHost("<plugins><plugin name=\"services\"><config><greeting>你好</greeting></config>"
                         "</plugin></plugins>");
    auto lookup = [&](const std::string& in, const std::string& key) {
        return callOk(*host, "services", "lookup", "{\"in\":\"" + in + "\",\"key\":\"" + key + "\"}");
    };
    auto present = lookup("config", "greeting");
    EXPECT_EQ(present->getValue<int>("status"), CH_OK);
    EXPECT_EQ(present->getValue<std::string>("value"), "你好");
    auto absent = lookup("config", "nothing");
    EXPECT_EQ(absent->getValue<int>("status"), CH_ERR_NOT_FOUND);
    EXPECT_FALSE(absent->getValue<bool>("answered"));

    auto put = callOk(*host, "services", "put_and_explain", R"({"key":"k","value":"v"})");
    EXPECT_EQ(put->getValue<int>("status"), CH_OK);
    EXPECT_EQ(put->getValue<std::string>("error"), "");
    EXPECT_EQ(lookup("kv", "k")->getValue<std::string>("value"), "v");
    auto none = lookup("kv", "other");
    EXPECT_EQ(none->getValue<int>("status"), CH_ERR_NOT_FOUND);
    EXPECT_FALSE(none->getValue<bool>("answered"));

    auto badKey = callOk(*host, "services", "put_and_explain", R"({"key":"","value":"v"})");
    EXPECT_EQ(badKey->getValue<int>("status"), CH_ERR_INVALID_ARGUMENT);
    EXPECT_NE(badKey->getValue<std::string>("error").find("a key must be"), std::string::npos);

    // The store fails under the plugin: failed, with the reason, not "absent".
    {
        Poco::Data::Session session = database_->session();
        session << "DROP TABLE host_plugin_kv", Poco::Data::Keywords::now;
    }
    auto failed = lookup("kv", "k");
    EXPECT_EQ(failed->getValue<int>("status"), CH_ERR_UNAVAILABLE);
    EXPECT_TRUE(failed->getValue<bool>("answered"));
    EXPECT_NE(failed->getValue<std::string>("error").find("host_plugin_kv"), std::string::npos)
        << failed->getValue<std::string>("error");
    auto failedPut = callOk(*host, "services", "put_and_explain", R"({"key":"k","value":"v"})");
    EXPECT_NE(failedPut->getValue<int>("status"), CH_OK);
    EXPECT_NE(failedPut->getValue<std::string>("error").find("host_plugin_kv"), std::string::npos);
    // 1.0's kv_get keeps its meaning: 0, "not there", whatever the cause.
    EXPECT_FALSE(callOk(*host, "services", "kv_get", R"({"key":"k"})")->getValue<bool>("found"));
}

}  // namespace
