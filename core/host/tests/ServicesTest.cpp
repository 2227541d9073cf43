// Host services beyond log and config, against the real "services" test plugins
// (tests/plugins/services): emit_event, key-value state in a real SQLite file,
// soap_call to a simulated SOAP service on loopback, and event delivery, in
// process and in a hub-plugin-worker.
#include <Poco/JSON/Object.h>
#include "HostTestSupport.h"
#include <Poco/JSON/Parser.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Util/XMLConfiguration.h>
#include <campushub/plugin.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <sstream>
#include <thread>

#include "SoapTestServer.h"
#include "hub/host/Manifest.h"
#include "hub/host/PluginHost.h"
#include "hub/http/Client.h"
#include "hub/soap/Client.h"
#include "hub/store/Database.h"
#include "hub/test/StoreOptions.h"
#include "hub/test/Eventually.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace hub::host;
using hub::soap::testing::SoapTestServer;

namespace {

using hub::host::test::kTestPlugins;

using hub::host::test::parse;

std::string jsonString(const std::string& s) {
    Poco::JSON::Object o;
    o.set("s", s);
    std::ostringstream out;
    o.stringify(out);
    std::string text = out.str();
    return text.substr(5, text.size() - 6);  // {"s":...}
}

const std::string kEvent =
    R"({"specversion":"1.0","id":"e-1","source":"/plugins/services","type":"edu.campus.hub.test.ping",)"
    R"("subject":"2023010001","data":{"name":"张三"}})";

class ServicesTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_.createDirectories();
        dir_ = root_.path() + "/plugins";
        fs::create_directories(dir_);
        for (const char* p : {"services", "services_b"})
            fs::copy(kTestPlugins + "/" + p, dir_ + "/" + p, fs::copy_options::recursive);
        storeOptions_ = hub::test::storeOptions(root_.path());  // SQLite or PostgreSQL, as the run says
        database_ = std::make_unique<hub::store::Database>(storeOptions_);
    }

    std::unique_ptr<PluginHost> makeHost(const std::string& configXml = "<plugins/>", bool services = true) {
        std::istringstream in(configXml);
        config_ = new Poco::Util::XMLConfiguration(in);
        PluginHost::Options o;
        o.pluginsDir = dir_;
        o.config = config_;
        o.http = &http_;
        o.process.workerExecutable = HUB_PLUGIN_WORKER;
        o.process.logLevel = "warning";
        if (services) {
            o.database = database_.get();
            o.soap = &soap_;
            o.emitEvent = [this](const std::string& plugin, std::string_view json) {
                std::lock_guard lock(mutex_);
                emitted_.emplace_back(plugin, std::string(json));
                return emitStatus_;
            };
            o.submitIdentity = [this](const std::string& plugin, const std::vector<std::string>& owned,
                                      std::string_view records, std::string& answer) {
                std::lock_guard lock(mutex_);
                submitted_.push_back(plugin + " " + owned.at(0) + " " + std::string(records));
                if (records.find("refuse") != std::string_view::npos) {
                    answer = "records[0] refused";
                    return static_cast<int>(CH_ERR_INVALID_ARGUMENT);
                }
                answer = R"({"applied":1})";
                return static_cast<int>(CH_OK);
            };
        }
        o.onEventFailed = [this](const std::string& plugin, const std::string& type, const CallResult& r) {
            std::lock_guard lock(mutex_);
            failures_.push_back({plugin, type, r});
            failed_.notify_all();
        };
        auto host = std::make_unique<PluginHost>(o);
        host->loadAll();
        for (const auto& r : host->refusals()) ADD_FAILURE() << r.reason;
        return host;
    }

    CallResult call(PluginHost& host, const std::string& system, const std::string& op, const std::string& in) {
        std::promise<CallResult> promise;
        auto future = promise.get_future();
        auto submitted = host.submit(system, op, in, Caller{"2023010001", {"student"}, ""}, Clock::now() + 10s,
                                     [&promise](CallResult r) { promise.set_value(std::move(r)); });
        EXPECT_EQ(submitted, PluginHost::Submit::Accepted);
        if (submitted != PluginHost::Submit::Accepted) return {};
        return future.get();
    }

    Poco::JSON::Object::Ptr callOk(PluginHost& host, const std::string& system, const std::string& op,
                                   const std::string& in) {
        CallResult r = call(host, system, op, in);
        EXPECT_EQ(r.status, CH_OK) << op << ": " << r.body;
        if (r.status != CH_OK) return new Poco::JSON::Object;
        return parse(r.body);
    }

    int emit(PluginHost& host, const std::string& raw) {
        return callOk(host, "services", "emit", "{\"raw\":" + jsonString(raw) + "}")->getValue<int>("status");
    }

    int put(PluginHost& host, const std::string& system, const std::string& key, const std::string& value,
            int repeat = 1) {
        return callOk(host, system, "kv_put",
                      "{\"key\":" + jsonString(key) + ",\"value\":" + jsonString(value) +
                          ",\"repeat\":" + std::to_string(repeat) + "}")
            ->getValue<int>("status");
    }

    Poco::JSON::Object::Ptr get(PluginHost& host, const std::string& system, const std::string& key) {
        return callOk(host, system, "kv_get", "{\"key\":" + jsonString(key) + "}");
    }

    /// The event types a plugin has recorded, once it has at least `count` (or
    /// after 10 s, whatever it has).
    std::vector<std::string> eventsOf(PluginHost& host, const std::string& system, std::size_t count) {
        std::vector<std::string> types;
        hub::test::waitUntil(
            [&] {
                auto o = callOk(host, system, "events", "{}");
                types.clear();
                if (auto a = o->getArray("types"))
                    for (std::size_t i = 0; i < a->size(); ++i)
                        types.push_back(a->getElement<std::string>(static_cast<unsigned>(i)));
                return types.size() >= count;
            },
            10s, 10ms);
        return types;
    }

    struct Failure {
        std::string plugin, type;
        CallResult result;
    };

    Poco::TemporaryFile root_;
    std::string dir_;
    Poco::AutoPtr<Poco::Util::XMLConfiguration> config_;
    hub::store::Database::Options storeOptions_;
    std::unique_ptr<hub::store::Database> database_;
    hub::http::Client http_;
    hub::soap::Client soap_{http_};
    std::mutex mutex_;
    std::condition_variable failed_;
    std::vector<std::pair<std::string, std::string>> emitted_;
    std::vector<std::string> submitted_;  // plugin, first owned field, records
    std::vector<Failure> failures_;
    int emitStatus_ = CH_OK;
};

}  // namespace

TEST(ManifestSubscriptions, ReadsSubscribesAndImpliesIdentityChanged) {
    Manifest a = readManifest(kTestPlugins + "/services/plugin.xml");
    EXPECT_EQ(a.subscribes, (std::vector<std::string>{"edu.campus.hub.test.ping", "edu.campus.hub.test.throw"}));
    EXPECT_FALSE(a.subscribesTo("edu.campus.hub.identity.changed"));
    Manifest b = readManifest(kTestPlugins + "/services_b/plugin.xml");
    EXPECT_TRUE(b.provisionsIdentities);
    EXPECT_TRUE(b.subscribesTo("edu.campus.hub.identity.changed"));
    EXPECT_FALSE(b.subscribesTo("edu.campus.hub.test.ping"));
}

TEST(EventCheck, RefusesWhatIsNotAnAcceptableEvent) {
    EXPECT_EQ(checkEvent(kEvent), "");
    EXPECT_NE(checkEvent("{not json"), "");
    EXPECT_NE(checkEvent("[1,2]"), "");
    EXPECT_NE(checkEvent(R"({"type":"com.example.x","subject":"s","data":{}})").find("edu.campus.hub."),
              std::string::npos);
    EXPECT_NE(checkEvent(R"({"type":"edu.campus.hub.","subject":"s","data":{}})"), "");
    EXPECT_NE(checkEvent(R"({"type":"edu.campus.hub.x","data":{}})").find("subject"), std::string::npos);
    EXPECT_NE(checkEvent(R"({"type":"edu.campus.hub.x","subject":7,"data":{}})").find("subject"), std::string::npos);
    EXPECT_NE(checkEvent(R"({"type":"edu.campus.hub.x","subject":"s","data":"text"})").find("data"), std::string::npos);
    EXPECT_NE(checkEvent("{\"type\":\"edu.campus.hub.x\",\"subject\":\"\xff\xfe\",\"data\":{}}").find("UTF-8"),
              std::string::npos);
    EXPECT_NE(checkEvent("{\"type\":\"edu.campus.hub.x\",\"subject\":\"\xed\xa0\x80\",\"data\":{}}"), "");  // surrogate
    std::string huge =
        R"({"type":"edu.campus.hub.x","subject":"s","data":{"pad":")" + std::string(kMaxEventBytes, 'x') + "\"}}";
    EXPECT_NE(checkEvent(huge).find("exceeds"), std::string::npos);
}

TEST_F(ServicesTest, EmitEventIsCheckedThenHandedToTheOutbox) {
    auto host = makeHost();
    EXPECT_EQ(emit(*host, kEvent), CH_OK);
    EXPECT_EQ(emit(*host, R"({"type":"com.example.x","subject":"s","data":{}})"), CH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(emit(*host, "{not json"), CH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(emit(*host, R"({"type":"edu.campus.hub.x","subject":"s"})"), CH_ERR_INVALID_ARGUMENT);
    {
        std::lock_guard lock(mutex_);
        ASSERT_EQ(emitted_.size(), 1u);
        EXPECT_EQ(emitted_[0].first, "services");
        EXPECT_EQ(emitted_[0].second, kEvent);
    }
    // The outbox's answer reaches the plugin.
    emitStatus_ = CH_ERR_UNAVAILABLE;
    EXPECT_EQ(emit(*host, kEvent), CH_ERR_UNAVAILABLE);
}

TEST_F(ServicesTest, ServicesNotGivenAreNull) {
    auto host = makeHost("<plugins/>", false);
    auto o = callOk(*host, "services", "services", "{}");
    EXPECT_FALSE(o->getValue<bool>("emit_event"));
    EXPECT_FALSE(o->getValue<bool>("kv"));
    EXPECT_FALSE(o->getValue<bool>("soap_call"));
    EXPECT_TRUE(o->getValue<bool>("http_request"));
    o = callOk(*makeHost(), "services", "services", "{}");
    EXPECT_TRUE(o->getValue<bool>("emit_event"));
    EXPECT_TRUE(o->getValue<bool>("kv"));
    EXPECT_TRUE(o->getValue<bool>("soap_call"));
}

TEST_F(ServicesTest, KeyValueStateIsPrivatePerPluginAndSurvivesARestart) {
    {
        auto host = makeHost();
        EXPECT_EQ(put(*host, "services", "账号/2023010001", "张三，计算机学院"), CH_OK);
        EXPECT_EQ(put(*host, "services_b", "账号/2023010001", "李四"), CH_OK);
        auto a = get(*host, "services", "账号/2023010001");
        ASSERT_TRUE(a->getValue<bool>("found"));
        EXPECT_EQ(a->getValue<std::string>("value"), "张三，计算机学院");
        EXPECT_EQ(get(*host, "services_b", "账号/2023010001")->getValue<std::string>("value"), "李四");
        // Overwrite, then a key only one plugin has is invisible to the other.
        EXPECT_EQ(put(*host, "services", "账号/2023010001", "张三，软件学院"), CH_OK);
        EXPECT_EQ(put(*host, "services", "only-a", "x"), CH_OK);
        EXPECT_FALSE(get(*host, "services_b", "only-a")->getValue<bool>("found"));
        // Deleting in one leaves the other's row alone.
        EXPECT_EQ(callOk(*host, "services_b", "kv_delete", R"({"key":"账号/2023010001"})")->getValue<int>("status"),
                  CH_OK);
        EXPECT_FALSE(get(*host, "services_b", "账号/2023010001")->getValue<bool>("found"));
        EXPECT_TRUE(get(*host, "services", "账号/2023010001")->getValue<bool>("found"));
        EXPECT_EQ(callOk(*host, "services_b", "kv_delete", R"({"key":"never-there"})")->getValue<int>("status"), CH_OK);
    }
    // A new host and a new Database on the same store: the state is still there.
    database_.reset();
    database_ = std::make_unique<hub::store::Database>(storeOptions_);
    auto host = makeHost();
    auto a = get(*host, "services", "账号/2023010001");
    ASSERT_TRUE(a->getValue<bool>("found"));
    EXPECT_EQ(a->getValue<std::string>("value"), "张三，软件学院");
    EXPECT_TRUE(get(*host, "services", "only-a")->getValue<bool>("found"));
    EXPECT_FALSE(get(*host, "services_b", "账号/2023010001")->getValue<bool>("found"));
}

TEST_F(ServicesTest, KeyValueLimitsAreEnforced) {
    auto host = makeHost();
    EXPECT_EQ(put(*host, "services", std::string(256, 'k'), "v"), CH_OK);
    EXPECT_EQ(put(*host, "services", std::string(257, 'k'), "v"), CH_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(put(*host, "services", "", "v"), CH_ERR_INVALID_ARGUMENT);
    EXPECT_FALSE(get(*host, "services", std::string(257, 'k'))->getValue<bool>("found"));
    // 1 MiB exactly is fine, a byte more is not (and leaves the old value).
    EXPECT_EQ(put(*host, "services", "big", std::string(1024, 'a'), 1024), CH_OK);
    EXPECT_EQ(get(*host, "services", "big")->getValue<std::size_t>("length"), kMaxKvValueBytes);
    EXPECT_EQ(put(*host, "services", "big", std::string(1024, 'b'), 1024), CH_OK);
    EXPECT_EQ(put(*host, "services", "big", std::string(1025, 'c'), 1024), CH_ERR_INVALID_ARGUMENT);
    auto big = get(*host, "services", "big");
    EXPECT_EQ(big->getValue<std::size_t>("length"), kMaxKvValueBytes);
    EXPECT_EQ(big->getValue<std::string>("value")[0], 'b');
    // An empty value is a value.
    EXPECT_EQ(put(*host, "services", "empty", ""), CH_OK);
    auto empty = get(*host, "services", "empty");
    EXPECT_TRUE(empty->getValue<bool>("found"));
    EXPECT_EQ(empty->getValue<std::string>("value"), "");
}

TEST_F(ServicesTest, SoapCallReachesTheServiceAndReportsFaults) {
    SoapTestServer server;
    auto host = makeHost();
    const std::string envelope =
        SoapTestServer::envelope(SoapTestServer::kNs11, "<r:Echo><r:id>2023010001</r:id></r:Echo>");
    auto request = [&](const std::string& path) {
        return "{\"endpoint\":" + jsonString(server.url(path)) +
               ",\"action\":\"urn:test:Echo\",\"envelope\":" + jsonString(envelope) + "}";
    };
    auto ok = callOk(*host, "services", "soap", request("/echo"));
    EXPECT_NE(ok->getValue<std::string>("envelope").find("<r:name>张三</r:name>"), std::string::npos);
    EXPECT_EQ(server.seen().soapAction, "\"urn:test:Echo\"");

    CallResult fault = call(*host, "services", "soap", request("/fault"));
    EXPECT_EQ(fault.status, CH_ERR_INVALID_ARGUMENT) << fault.body;  // soap:Client blames the request
    auto detail = parse(fault.body);
    EXPECT_EQ(detail->getObject("fault")->getValue<std::string>("code"), "soap:Client");
    EXPECT_EQ(detail->getObject("fault")->getValue<std::string>("reason"), "学号不存在: 2023999999");

    EXPECT_EQ(call(*host, "services", "soap", request("/fault200")).status, CH_ERR_UNAVAILABLE);
    EXPECT_EQ(call(*host, "services", "soap", request("/xxe")).status, CH_ERR_UNAVAILABLE);
    EXPECT_EQ(call(*host, "services", "soap", request("/html")).status, CH_ERR_UNAVAILABLE);
    CallResult bad = call(*host, "services", "soap",
                          "{\"endpoint\":" + jsonString(server.url("/echo")) + ",\"envelope\":\"<not-soap/>\"}");
    EXPECT_EQ(bad.status, CH_ERR_INVALID_ARGUMENT) << bad.body;
}

TEST_F(ServicesTest, EventsReachOnlySubscribedPlugins) {
    auto host = makeHost();
    EXPECT_EQ(host->deliverEvent("edu.campus.hub.test.ping", kEvent), std::vector<std::string>{"services"});
    std::string identity =
        R"({"type":"edu.campus.hub.identity.changed","subject":"2023010001","data":{"name":"张三"}})";
    EXPECT_EQ(host->deliverEvent("edu.campus.hub.identity.changed", identity), std::vector<std::string>{"services_b"});
    EXPECT_TRUE(host->deliverEvent("edu.campus.hub.application.submitted", kEvent).empty());

    EXPECT_EQ(eventsOf(*host, "services", 1), std::vector<std::string>{"edu.campus.hub.test.ping"});
    EXPECT_EQ(eventsOf(*host, "services_b", 1), std::vector<std::string>{"edu.campus.hub.identity.changed"});
    auto last = callOk(*host, "services_b", "events", "{}")->getValue<std::string>("last");
    EXPECT_EQ(last, identity);
    std::lock_guard lock(mutex_);
    EXPECT_TRUE(failures_.empty());
}

TEST_F(ServicesTest, ARefusedEventIsReportedNotFatal) {
    auto host = makeHost();
    EXPECT_EQ(host->deliverEvent("edu.campus.hub.test.throw",
                                 R"({"type":"edu.campus.hub.test.throw","subject":"x","data":{}})")
                  .size(),
              1u);
    {
        std::unique_lock lock(mutex_);
        ASSERT_TRUE(failed_.wait_for(lock, 10s, [&] { return !failures_.empty(); }));
        EXPECT_EQ(failures_[0].plugin, "services");
        EXPECT_EQ(failures_[0].type, "edu.campus.hub.test.throw");
        EXPECT_EQ(failures_[0].result.status, CH_ERR_INTERNAL);
        EXPECT_NE(failures_[0].result.body.find("refusing"), std::string::npos) << failures_[0].result.body;
    }
    // The plugin and the host carry on.
    host->deliverEvent("edu.campus.hub.test.ping", kEvent);
    EXPECT_EQ(eventsOf(*host, "services", 1), std::vector<std::string>{"edu.campus.hub.test.ping"});
    EXPECT_EQ(callOk(*host, "services", "services", "{}")->getValue<bool>("kv"), true);
}

// ABI 1.2: identity_submit reaches the hub's identity store with the person
// fields the manifest owns, from a plugin in process and from one in a worker
// (which asks hubd over the call's channel); a plugin owning none has no such service.
TEST_F(ServicesTest, IdentitySubmitReachesTheHubInProcessAndFromAWorker) {
    for (const std::string isolation : {"inproc", "process"}) {
        SCOPED_TRACE(isolation);
        submitted_.clear();
        auto host = makeHost(R"(<plugins><plugin name="services"><isolation>)" + isolation +
                             "</isolation></plugin></plugins>");
        EXPECT_TRUE(callOk(*host, "services", "services", "{}")->getValue<bool>("identity_submit"));
        EXPECT_FALSE(callOk(*host, "services_b", "services", "{}")->getValue<bool>("identity_submit"));
        const std::string records = R"({"records":[{"id":"T1","fields":{"test_badge":"金卡"}}]})";
        auto answer = callOk(*host, "services", "identity", records);
        EXPECT_EQ(answer->getValue<int>("applied"), 1);
        auto refused = call(*host, "services", "identity", R"({"refuse":true})");
        EXPECT_EQ(refused.status, CH_ERR_INVALID_ARGUMENT);
        EXPECT_NE(refused.body.find("records[0] refused"), std::string::npos) << refused.body;
        std::lock_guard lock(mutex_);
        ASSERT_EQ(submitted_.size(), 2u);
        EXPECT_EQ(submitted_[0], "services test_badge " + records);
    }
}

TEST_F(ServicesTest, InAWorkerSoapAndEventsWorkWhileEmitAndKvAreNull) {
    SoapTestServer server;
    auto host = makeHost(R"(<plugins><plugin name="services"><isolation>process</isolation></plugin></plugins>)");
    ASSERT_EQ(host->list().size(), 2u);
    for (const auto& s : host->list()) EXPECT_EQ(s.isolation, s.name == "services" ? "process" : "inproc");
    auto o = callOk(*host, "services", "services", "{}");
    EXPECT_FALSE(o->getValue<bool>("emit_event"));
    EXPECT_FALSE(o->getValue<bool>("kv"));
    EXPECT_TRUE(o->getValue<bool>("soap_call"));
    EXPECT_EQ(call(*host, "services", "kv_put", R"({"key":"k","value":"v"})").status, CH_ERR_UNAVAILABLE);

    const std::string envelope = SoapTestServer::envelope(SoapTestServer::kNs12, "<r:Echo/>");
    auto ok = callOk(*host, "services", "soap",
                     "{\"endpoint\":" + jsonString(server.url("/echo")) +
                         ",\"action\":\"urn:test:Echo\",\"envelope\":" + jsonString(envelope) + "}");
    EXPECT_NE(ok->getValue<std::string>("envelope").find("<r:action>urn:test:Echo</r:action>"), std::string::npos);

    EXPECT_EQ(host->deliverEvent("edu.campus.hub.test.ping", kEvent), std::vector<std::string>{"services"});
    EXPECT_EQ(eventsOf(*host, "services", 1), std::vector<std::string>{"edu.campus.hub.test.ping"});
    host->deliverEvent("edu.campus.hub.test.throw", R"({"type":"edu.campus.hub.test.throw","subject":"x","data":{}})");
    std::unique_lock lock(mutex_);
    ASSERT_TRUE(failed_.wait_for(lock, 10s, [&] { return !failures_.empty(); }));
    EXPECT_EQ(failures_[0].result.status, CH_ERR_INTERNAL);
}
