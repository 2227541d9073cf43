// Plugin calls of execution "loop": submitted on an event loop thread (as hubd's
// I/O threads are), they run on fibers of that loop and park while the vendor
// system answers. Against the real "services" test plugin and a SOAP service
// on loopback, whose /slow answer takes 3 s.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Util/XMLConfiguration.h>
#include <campushub/plugin.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <filesystem>
#include <future>
#include <mutex>
#include <semaphore>
#include <sstream>
#include <thread>

#include "SoapTestServer.h"
#include "hub/host/PluginHost.h"
#include "hub/http/Client.h"
#include "hub/runtime/Loop.h"
#include "hub/soap/Client.h"
#include "hub/store/Database.h"

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using namespace hub::host;
using hub::soap::testing::SoapTestServer;

namespace {

/// An event loop thread with its hub::runtime::Loop, as each of hubd's I/O threads.
class LoopThread {
public:
    LoopThread() {
        thread_ = std::thread([this] {
            hub::runtime::Loop loop(io_);
            id_ = std::this_thread::get_id();
            ready_.release();
            io_.run();
        });
        ready_.acquire();
    }
    /// Stops the loop; calls still parked on it end there.
    ~LoopThread() { stop(); }
    void stop() {
        if (!thread_.joinable()) return;
        work_.reset();
        io_.stop();
        thread_.join();
    }

    /// Runs fn on the loop's thread and returns what it returned.
    template <class Fn>
    auto run(Fn fn) {
        std::packaged_task<decltype(fn())()> task(std::move(fn));
        auto result = task.get_future();
        asio::post(io_, [&task] { task(); });
        return result.get();
    }
    std::thread::id id() const { return id_; }

private:
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
    std::binary_semaphore ready_{0};
    std::thread::id id_;
    std::thread thread_;
};

class LoopExecutionTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_.createDirectories();
        dir_ = root_.path() + "/plugins";
        fs::create_directories(dir_);
        fs::copy(std::string(TEST_PLUGINS_DIR) + "/services", dir_ + "/services", fs::copy_options::recursive);
    }

    std::unique_ptr<PluginHost> makeHost(const std::string& pluginXml, hub::store::Database* database = nullptr) {
        std::istringstream in("<plugins><plugin name=\"services\">" + pluginXml + "</plugin></plugins>");
        config_ = new Poco::Util::XMLConfiguration(in);
        PluginHost::Options o;
        o.pluginsDir = dir_;
        o.config = config_;
        o.http = &http_;
        o.soap = &soap_;
        o.database = database;
        o.process.workerExecutable = HUB_PLUGIN_WORKER;
        o.process.logLevel = "warning";
        auto host = std::make_unique<PluginHost>(o);
        host->loadAll();
        return host;
    }

    std::string soapInput(const std::string& path) {
        const std::string envelope =
            SoapTestServer::envelope(SoapTestServer::kNs11, "<r:Echo><r:id>2023010001</r:id></r:Echo>");
        Poco::JSON::Object input;
        input.set("endpoint", server_.url(path));
        input.set("action", "urn:test:Echo");
        input.set("envelope", envelope);
        std::ostringstream out;
        input.stringify(out);
        return out.str();
    }

    /// A call's outcome, filled in by its completion.
    struct Outcome {
        std::promise<CallResult> result;
        std::thread::id thread;
        std::chrono::steady_clock::time_point at;
    };

    /// Submits operation op with input from the caller's thread.
    PluginHost::Submit submitOp(PluginHost& host, const std::string& op, const std::string& input, Outcome& out) {
        return host.submit("services", op, input, Caller{"2023010001", {"student"}, ""}, Clock::now() + 20s,
                           [&out](CallResult r) {
                               out.thread = std::this_thread::get_id();
                               out.at = std::chrono::steady_clock::now();
                               out.result.set_value(std::move(r));
                           });
    }

    /// Submits a SOAP call to path from the caller's thread.
    PluginHost::Submit submit(PluginHost& host, const std::string& path, Outcome& out,
                              std::chrono::milliseconds timeout = 10s) {
        return host.submit("services", "soap", soapInput(path), Caller{"2023010001", {"student"}, ""},
                           Clock::now() + timeout, [&out](CallResult r) {
                               out.thread = std::this_thread::get_id();
                               out.at = std::chrono::steady_clock::now();
                               out.result.set_value(std::move(r));
                           });
    }

    SoapTestServer server_;
    Poco::TemporaryFile root_;
    std::string dir_;
    Poco::AutoPtr<Poco::Util::XMLConfiguration> config_;
    hub::http::Client http_;
    hub::soap::Client soap_{http_};
};

}  // namespace

// One loop thread: a slow call parks, and the fast calls submitted after it run
// and finish on the same thread meanwhile. On a worker, or blocking the loop,
// they would finish after it.
TEST_F(LoopExecutionTest, ACallParksOnItsLoopWhileOthersRun) {
    auto host = makeHost("<execution>loop</execution><concurrency>32</concurrency>");
    ASSERT_TRUE(host->has("services"));
    EXPECT_TRUE(host->limits("services").onEventLoop);
    LoopThread loop;
    Outcome slow;
    std::vector<Outcome> fast(6);  // the SOAP service has 8 threads, one per kept-alive connection
    EXPECT_EQ(loop.run([&] { return submit(*host, "/slow", slow); }), PluginHost::Submit::Accepted);
    for (auto& f : fast) EXPECT_EQ(loop.run([&] { return submit(*host, "/echo", f); }), PluginHost::Submit::Accepted);

    auto slowFuture = slow.result.get_future();
    for (auto& f : fast) {
        CallResult r = f.result.get_future().get();
        EXPECT_EQ(r.status, CH_OK) << r.body;
        EXPECT_NE(r.body.find("张三"), std::string::npos) << r.body;
        EXPECT_EQ(f.thread, loop.id());  // on the loop, not a worker
    }
    EXPECT_EQ(slowFuture.wait_for(0s), std::future_status::timeout) << "the slow call held up the fast ones";
    EXPECT_EQ(slowFuture.get().status, CH_OK);
    EXPECT_EQ(slow.thread, loop.id());
    for (auto& f : fast) EXPECT_LT(f.at, slow.at);
}

// Off a loop (a flow, the blocking pool), the same plugin runs on its workers.
TEST_F(LoopExecutionTest, OffALoopTheCallGoesToTheWorkers) {
    auto host = makeHost("<execution>loop</execution>");
    Outcome out;
    ASSERT_EQ(submit(*host, "/echo", out), PluginHost::Submit::Accepted);
    EXPECT_EQ(out.result.get_future().get().status, CH_OK);
    EXPECT_NE(out.thread, std::this_thread::get_id());
}

// concurrency 1, queue 1: the first call runs, the second parks for its turn
// (submitted on another loop: the turn crosses threads), the third is refused.
TEST_F(LoopExecutionTest, TheBulkheadHoldsOnLoopsToo) {
    auto host = makeHost("<execution>loop</execution><concurrency>1</concurrency><queue>1</queue>");
    LoopThread first, second;
    Outcome slow, waiting, refused;
    ASSERT_EQ(first.run([&] { return submit(*host, "/slow", slow); }), PluginHost::Submit::Accepted);
    ASSERT_EQ(second.run([&] { return submit(*host, "/echo", waiting); }), PluginHost::Submit::Accepted);
    auto status = host->list().front();
    EXPECT_EQ(status.active, 1u);
    EXPECT_EQ(status.queued, 1u);
    EXPECT_EQ(second.run([&] { return submit(*host, "/echo", refused); }), PluginHost::Submit::Overloaded);

    EXPECT_EQ(slow.result.get_future().get().status, CH_OK);
    EXPECT_EQ(waiting.result.get_future().get().status, CH_OK);
    EXPECT_EQ(waiting.thread, second.id());
    EXPECT_LT(slow.at, waiting.at);
    second.run([] { return 0; });  // the call leaves the gate after its completion, on its loop
    status = host->list().front();
    EXPECT_EQ(status.active, 0u);
    EXPECT_EQ(status.queued, 0u);
}

// A loop that stops under parked calls (hubd shutting down): the running one's
// request fails, the waiting one gets no turn; each completes exactly once.
TEST_F(LoopExecutionTest, AStoppingLoopEndsItsParkedCalls) {
    auto host = makeHost("<execution>loop</execution><concurrency>1</concurrency><queue>4</queue>");
    Outcome running, waiting;
    std::atomic<int> completions{0};
    {
        LoopThread loop;
        auto counted = [&](Outcome& out, const std::string& path) {
            return host->submit("services", "soap", soapInput(path), Caller{"2023010001", {"student"}, ""},
                                Clock::now() + 10s, [&out, &completions](CallResult r) {
                                    ++completions;
                                    out.result.set_value(std::move(r));
                                });
        };
        ASSERT_EQ(loop.run([&] { return counted(running, "/slow"); }), PluginHost::Submit::Accepted);
        ASSERT_EQ(loop.run([&] { return counted(waiting, "/echo"); }), PluginHost::Submit::Accepted);
    }
    EXPECT_EQ(running.result.get_future().get().status, CH_ERR_UNAVAILABLE);
    EXPECT_NE(waiting.result.get_future().get().status, CH_OK);
    EXPECT_EQ(completions, 2);
    auto status = host->list().front();
    EXPECT_EQ(status.active, 0u);
    EXPECT_EQ(status.queued, 0u);
}

TEST_F(LoopExecutionTest, BadExecutionSettingsAreRefused) {
    auto host = makeHost("<execution>threads</execution>");
    EXPECT_FALSE(host->has("services"));
    ASSERT_EQ(host->refusals().size(), 1u);
    EXPECT_NE(host->refusals()[0].reason.find("execution 'threads' must be workers or loop"), std::string::npos);

    host = makeHost("<execution>loop</execution><isolation>process</isolation>");
    EXPECT_FALSE(host->has("services"));
    ASSERT_EQ(host->refusals().size(), 1u);
    EXPECT_NE(host->refusals()[0].reason.find("in-process"), std::string::npos);

    host = makeHost("<execution>workers</execution>");
    EXPECT_TRUE(host->has("services"));
    EXPECT_FALSE(host->limits("services").onEventLoop);
}

// kv_put on a loop while another connection holds SQLite's write lock: the
// statement waits on the host's offload workers, the fiber is parked, and the
// loop goes on serving; once the lock is released the put completes.
TEST_F(LoopExecutionTest, KeyValueWorkWaitsOffTheLoop) {
    hub::store::Database database({root_.path() + "/hub.db"});
    auto host = makeHost("<execution>loop</execution>", &database);
    ASSERT_TRUE(host->has("services"));
    LoopThread loop;
    Poco::Data::Session lockHolder = database.session();
    lockHolder << "BEGIN IMMEDIATE", Poco::Data::Keywords::now;

    Outcome put, echo;
    ASSERT_EQ(loop.run([&] { return submitOp(*host, "kv_put", R"({"key":"学号","value":"2023010001"})", put); }),
              PluginHost::Submit::Accepted);
    ASSERT_EQ(loop.run([&] { return submit(*host, "/echo", echo); }), PluginHost::Submit::Accepted);
    auto putFuture = put.result.get_future();
    EXPECT_EQ(echo.result.get_future().get().status, CH_OK);
    EXPECT_EQ(putFuture.wait_for(0s), std::future_status::timeout) << "the put did not wait for the lock";

    lockHolder << "ROLLBACK", Poco::Data::Keywords::now;
    CallResult stored = putFuture.get();
    ASSERT_EQ(stored.status, CH_OK) << stored.body;
    EXPECT_NE(stored.body.find("\"status\":0"), std::string::npos) << stored.body;
    EXPECT_EQ(put.thread, loop.id());  // answered on the loop, not on the offload worker

    Outcome get;
    ASSERT_EQ(loop.run([&] { return submitOp(*host, "kv_get", R"({"key":"学号"})", get); }),
              PluginHost::Submit::Accepted);
    CallResult read = get.result.get_future().get();
    ASSERT_EQ(read.status, CH_OK) << read.body;
    EXPECT_NE(read.body.find("2023010001"), std::string::npos) << read.body;
}
