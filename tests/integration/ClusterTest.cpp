// Several hubd nodes on one PostgreSQL database (issue 17): each node a real
// hubd process with its own folders and node id, all on one database.
// - The portal's Idempotency-Key holds across nodes (CallKeys): a retry on
//   another node answers from the stored result, 409 while the first is in
//   flight; the vendor is reached once.
// - A plugin's schedule runs on one node at a time (lease plugin.<name>.<op>).
// - A plugin reload, a department's catalogue upload and a SIGHUP made on one
//   node reach the other within seconds (hub_changes, hub_files); a node that
//   starts later catches up with the uploaded files.
// PostgreSQL only: SQLite is one node's store (the tests say so and skip).
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/Json.h"
#include "hub/test/StoreBackend.h"
#include "hub/test/TempDir.h"
#include "hub/test/Tokens.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::httpRequest;
using hub::test::HttpResponse;
using hub::test::hubdOptions;
using hub::test::parse;
using hub::test::TempDir;

namespace {

const std::string kClusterSecret = "cluster-test-secret-0123456789-abcdefgh";
const std::string kClusterIssuer = "cluster-test";

std::string clusterToken(const std::string& subject) {
    return hub::test::token(kClusterSecret, subject, {.issuer = kClusterIssuer});
}

// The vendor behind testkit's "fetch": counts the requests (and the distinct
// Idempotency-Keys), answering each after `delayMs`.
class CountingVendor {
public:
    CountingVendor() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
        auto* params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(32);
        server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket_, params);
        server_->start();
    }
    ~CountingVendor() { server_->stopAll(true); }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(socket_.address().port()) + "/do"; }
    int requests() const { return requests_.load(); }
    std::atomic<int> delayMs{0};

private:
    class Handler : public Poco::Net::HTTPRequestHandler {
    public:
        explicit Handler(CountingVendor& vendor) : vendor_(vendor) {}
        void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
            std::string ignored;
            request.stream() >> ignored;
            ++vendor_.requests_;
            std::this_thread::sleep_for(std::chrono::milliseconds(vendor_.delayMs.load()));
            response.setContentType("application/json");
            response.send() << "{}";
        }

    private:
        CountingVendor& vendor_;
    };
    class Factory : public Poco::Net::HTTPRequestHandlerFactory {
    public:
        explicit Factory(CountingVendor& vendor) : vendor_(vendor) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
            return new Handler(vendor_);
        }

    private:
        CountingVendor& vendor_;
    };

    Poco::Net::ServerSocket socket_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
    std::atomic<int> requests_{0};
};

// One hubd node: its own folder (plugins, catalogue copy, port file), the shared database.
class Node {
public:
    Node(const std::string& id, const hub::test::PostgresDatabase& database, const std::string& more = "")
        : dir_("cluster-" + id) {
        fs::create_directories(dir_.file("plugins"));
        fs::copy(std::string(TEST_PLUGINS_DIR) + "/testkit", dir_.file("plugins/testkit"), fs::copy_options::recursive);
        fs::copy(CATALOG_DIR, dir_.file("catalog"), fs::copy_options::recursive);
        fs::remove_all(dir_.file("catalog/departments"));
        fs::create_directories(dir_.file("var"));
        fs::create_directories(dir_.file("flows"));
        dir_.write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_.file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir_.file("var"), database, "<nodeId>" + id + "</nodeId>") + R"(
  <cluster><pollMs>200</pollMs></cluster>
  <plugins><dir>)" + dir_.file("plugins") + R"(</dir>
    <plugin name="testkit"><timeoutMs>5000</timeoutMs><concurrency>16</concurrency></plugin>
  </plugins>
  <auth><jwt><hs256Secret>)" + kClusterSecret + R"(</hs256Secret><issuer>)" + kClusterIssuer + R"(</issuer>
    <audience>campushub</audience></jwt></auth>
  <catalog><dir>)" + dir_.file("catalog") + R"(</dir></catalog>
  <flows><dir>)" + dir_.file("flows") + R"(</dir></flows>
  <calendar><file>)" + std::string(CALENDAR_FILE) + R"(</file></calendar>
  <identity><static>
    <person id="2023010001" name="张三" department="student-affairs" audience="student"/>
    <person id="clerk.lib" name="图书馆员" department="library" audience="staff" roles="dept:library:clerk"/>
    <person id="admin" name="Operator" audience="staff" roles="hub:admin"/>
    <person id="admin.lib" name="图书馆管理员" department="library" audience="staff" roles="dept:library:admin"/>
  </static></identity>
  )" + more + R"(
</hub>)");
        start();
    }

    void start() {
        fs::remove(dir_.file("hubd.port"));
        process_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(dir_));
    }
    void stop() { process_.reset(); }

    HttpResponse as(const std::string& who, const std::string& method, const std::string& target,
                    const std::string& body = "", std::map<std::string, std::string> headers = {}) const {
        auto all = bearer(clusterToken(who));
        all.insert(headers.begin(), headers.end());
        return httpRequest(method, process_->url(target), body, all, 15000);
    }
    ChildProcess& process() { return *process_; }
    const TempDir& dir() const { return dir_; }

private:
    TempDir dir_;
    std::unique_ptr<ChildProcess> process_;
};

class ClusterTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!hub::test::storeOnPostgres())
            GTEST_SKIP() << "several hubs share one PostgreSQL database; SQLite is one node's store "
                            "(this file runs as pg:cluster_test)";
        database_ = hub::test::freshPostgresDatabase();
    }

    static std::string servedName(const Node& node, const std::string& id) {
        auto r = node.as("2023010001", "GET", "/api/v1/catalog/services/" + id);
        if (r.status != 200) return "(" + std::to_string(r.status) + ")";
        return parse(r.body)->getObject("name")->getValue<std::string>("zh");
    }

    hub::test::PostgresDatabase database_;
};

std::string libraryCatalog(const std::string& name) {
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<catalog version="1">
  <item id="book-repair" category="resources" department="library" channel="online" audience="student" timeLimit="5">
    <name zh=")" + name + R"(" en="Book repair"/>
    <handler><flow id="book-repair"/></handler>
    <form><field id="title" type="string" required="true" maxLength="200" zh="书名" en="Title"/></form>
  </item>
</catalog>
)";
}

// A department's flow: one review by its clerks.
std::string libraryFlow() {
    return R"(<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="book-repair" name="图书修补" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_Review" name="馆员审核">
      <bpmn:extensionElements><zeebe:assignmentDefinition candidateGroups="dept:library:clerk" /></bpmn:extensionElements>
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Review" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Review" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>
)";
}

}  // namespace

// The portal retries a call on another node: answered from the stored result;
// a retry while the first is in flight is told so (409, Retry-After); a storm
// over both nodes reaches the vendor once.
TEST_F(ClusterTest, AnIdempotencyKeyHoldsAcrossNodes) {
    CountingVendor vendor;
    Node a("node-a", database_), b("node-b", database_);
    const std::string body = "{\"url\":\"" + vendor.url() + "\"}";
    auto call = [&](const Node& node, const std::string& key) {
        return node.as("clerk.lib", "POST", "/api/v1/systems/testkit/operations/fetch", body,
                       {{"Idempotency-Key", key}});
    };

    // The vendor answers at once: one call, one request.
    auto probe = call(a, "probe-1");
    ASSERT_EQ(probe.status, 200) << probe.body << a.process().output();
    ASSERT_EQ(vendor.requests(), 1);

    vendor.delayMs = 1500;
    auto first = std::async(std::launch::async, [&] { return call(a, "order-1"); });
    ASSERT_TRUE(hub::test::waitUntil([&] { return vendor.requests() == 2; }, std::chrono::seconds(10),
                                     std::chrono::milliseconds(10)));
    auto during = call(b, "order-1");
    EXPECT_EQ(during.status, 409) << during.body;
    EXPECT_EQ(during.header("Retry-After"), "1");
    auto answered = first.get();
    ASSERT_EQ(answered.status, 200) << answered.body;
    auto after = call(b, "order-1");
    ASSERT_EQ(after.status, 200) << after.body;
    EXPECT_EQ(after.header("Idempotent-Replayed"), "true");
    EXPECT_EQ(after.body, answered.body);
    EXPECT_EQ(vendor.requests(), 2);

    // 24 at once, half on each node: the vendor sees one; every answer is that
    // one's, or 409 while it ran.
    vendor.delayMs = 300;
    std::vector<std::future<HttpResponse>> storm;
    for (int i = 0; i < 24; ++i)
        storm.push_back(std::async(std::launch::async, [&, i] { return call(i % 2 ? a : b, "order-2"); }));
    int ok = 0;
    for (auto& f : storm) {
        auto r = f.get();
        if (r.status == 200) ++ok;
        else EXPECT_EQ(r.status, 409) << r.body;
    }
    EXPECT_GE(ok, 1);
    EXPECT_EQ(vendor.requests(), 3);
    EXPECT_EQ(call(a, "order-2").header("Idempotent-Replayed"), "true");
    EXPECT_EQ(call(b, "order-2").header("Idempotent-Replayed"), "true");
    EXPECT_EQ(vendor.requests(), 3);

    // The same key with another body, on the other node: refused.
    auto reused = a.as("clerk.lib", "POST", "/api/v1/systems/testkit/operations/fetch",
                       "{\"url\":\"" + vendor.url() + "?other\"}", {{"Idempotency-Key", "order-1"}});
    EXPECT_EQ(reused.status, 409) << reused.body;
    EXPECT_EQ(vendor.requests(), 3);
}

// A schedule on two nodes runs on one at a time: the vendor sees about one
// call a second, not two; /admin/cluster names the holder, the same on both.
TEST_F(ClusterTest, AScheduleRunsOnOneNodeAtATime) {
    CountingVendor vendor;
    const std::string schedules = "<schedules><schedule plugin=\"testkit\" operation=\"fetch\" everySeconds=\"1\" "
                                  "input=\"{&quot;url&quot;:&quot;" + vendor.url() + "&quot;}\"/></schedules>";
    Node a("node-a", database_, schedules), b("node-b", database_, schedules);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const int before = vendor.requests();
    std::this_thread::sleep_for(std::chrono::seconds(5));
    const int runs = vendor.requests() - before;
    EXPECT_GE(runs, 3);
    EXPECT_LE(runs, 6) << "both nodes ran the schedule";

    auto holder = [](const Node& node) {
        auto r = node.as("admin", "GET", "/admin/cluster");
        EXPECT_EQ(r.status, 200) << r.body;
        auto leases = parse(r.body)->getArray("leases");
        for (std::size_t i = 0; leases && i < leases->size(); ++i) {
            auto lease = leases->getObject(static_cast<unsigned>(i));
            if (lease->getValue<std::string>("name") == "plugin.testkit.fetch" && !lease->isNull("holder"))
                return lease->getValue<std::string>("holder");
        }
        return std::string("(none)");
    };
    const std::string held = holder(a);
    EXPECT_TRUE(held == "node-a" || held == "node-b") << held;
    EXPECT_EQ(holder(b), held);
    auto cluster = parse(a.as("admin", "GET", "/admin/cluster").body);
    EXPECT_EQ(cluster->getValue<std::string>("node"), "node-a");
    EXPECT_EQ(cluster->getValue<std::string>("backend"), "postgresql");

    // The holder stops cleanly: the other takes the schedule over at once.
    (held == "node-a" ? a : b).stop();
    const int atStop = vendor.requests();
    EXPECT_TRUE(hub::test::waitUntil([&] { return vendor.requests() >= atStop + 2; }, std::chrono::seconds(10),
                                     std::chrono::milliseconds(100)));
    EXPECT_EQ(holder(held == "node-a" ? b : a), held == "node-a" ? "node-b" : "node-a");
}

// Changes made on one node reach the other within seconds: a department
// admin's catalogue upload (and its deletion), a plugin reload, a SIGHUP; a
// node started afterwards serves the uploaded file too.
TEST_F(ClusterTest, ChangesOnOneNodeReachEveryNode) {
    Node a("node-a", database_), b("node-b", database_);
    ASSERT_EQ(servedName(b, "book-repair"), "(404)");

    auto put = a.as("admin.lib", "PUT", "/admin/catalog/departments/library", libraryCatalog("图书修补"));
    ASSERT_EQ(put.status, 200) << put.body;
    const auto uploaded = std::chrono::steady_clock::now();
    EXPECT_EQ(servedName(a, "book-repair"), "图书修补");
    ASSERT_TRUE(hub::test::waitUntil([&] { return servedName(b, "book-repair") == "图书修补"; },
                                     std::chrono::seconds(5), std::chrono::milliseconds(20)))
        << servedName(b, "book-repair");
    const auto reachedMs =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - uploaded).count();
    std::cout << "catalogue upload reached the other node in " << reachedMs << " ms (poll every 200 ms)\n";
    EXPECT_TRUE(fs::exists(b.dir().file("catalog/departments/library.xml"))) << "written into b's own folder";

    // A plugin reloaded on b: a's copy is reloaded too (its generation grows).
    auto generation = [](const Node& node) {
        auto systems = parse(node.as("admin", "GET", "/api/v1/systems").body)->getArray("systems");
        return systems->getObject(0)->getValue<int>("generation");
    };
    const int before = generation(a);
    ASSERT_EQ(b.as("admin", "POST", "/admin/plugins/testkit/reload").status, 200);
    EXPECT_TRUE(hub::test::waitUntil([&] { return generation(a) > before; }, std::chrono::seconds(5),
                                     std::chrono::milliseconds(20)));

    // A department's flow deployed on a: b deploys the same file.
    auto deployed = [](const Node& node) {
        return node.as("admin", "GET", "/admin/flows").body.find("departments/library/book-repair.bpmn") !=
               std::string::npos;
    };
    auto flow = a.as("admin.lib", "PUT", "/admin/flows/departments/library/book-repair.bpmn", libraryFlow());
    ASSERT_EQ(flow.status, 200) << flow.body;
    EXPECT_TRUE(hub::test::waitUntil([&] { return deployed(b); }, std::chrono::seconds(5),
                                     std::chrono::milliseconds(20)))
        << b.as("admin", "GET", "/admin/flows").body << b.process().output();
    EXPECT_TRUE(hub::test::waitUntil(
        [&] { return fs::exists(b.dir().file("flows/departments/library/book-repair.bpmn")); }))
        << "written into b's own folder";

    // A node that was not there catches up at its start.
    Node c("node-c", database_);
    EXPECT_EQ(servedName(c, "book-repair"), "图书修补") << c.process().output();
    EXPECT_TRUE(deployed(c)) << c.process().output();
    EXPECT_TRUE(fs::exists(c.dir().file("flows/departments/library/book-repair.bpmn"))) << c.process().output();

    // Deleted on b: gone on a and c.
    ASSERT_EQ(b.as("admin.lib", "DELETE", "/admin/catalog/departments/library").status, 200);
    EXPECT_TRUE(hub::test::waitUntil(
        [&] { return servedName(a, "book-repair") == "(404)" && servedName(c, "book-repair") == "(404)"; },
        std::chrono::seconds(5), std::chrono::milliseconds(20)))
        << a.process().output() << b.process().output();

    // SIGHUP on a: b reloads as well (its log says whose change it applied).
    ::kill(a.process().pid(), SIGHUP);
    EXPECT_TRUE(hub::test::waitUntil(
        [&] { return b.process().output().find("applied reload  from node node-a") != std::string::npos; },
        std::chrono::seconds(5), std::chrono::milliseconds(50)))
        << b.process().output();

    auto cluster = parse(b.as("admin", "GET", "/admin/cluster").body);
    EXPECT_GT(cluster->getValue<long>("changes_generation"), 0);
}
