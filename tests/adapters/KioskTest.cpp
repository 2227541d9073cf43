// The kiosk adapter end to end: hub-sim-kiosk (which prints every job it accepts and
// calls back with signed webhooks) and hubd as real processes, every call through
// hubd's HTTP API. The simulator counts prints: a retried call never prints twice.
#include "AdapterHub.h"

#include "hub/test/Eventually.h"

#include <gtest/gtest.h>

#include <future>
#include <set>

using hub::test::ChildProcess;
using hub::test::HttpResponse;
using hub::test::httpRequest;
using hub::test::TempDir;
using hub::test::waitUntil;
using hub::test::adapters::AdapterHub;
using hub::test::adapters::parse;

namespace {

const std::string kStudent = "2023010001";

class Kiosk : public ::testing::Test {
protected:
    void SetUp() override {
        dir_.write("kiosk.token", "kiosk-api-token\n");
        dir_.write("kiosk.webhook", "kiosk-webhook-secret-0123456789-abcdefgh\n");
        sim_ = std::make_unique<ChildProcess>(
            HUB_SIM_KIOSK, ChildProcess::Options{.args = {"--port", "0", "--port-file", dir_.file("sim.port"),
                                                          "--api-token", "kiosk-api-token", "--webhook-secret-file",
                                                          dir_.file("kiosk.webhook"), "--print-ms", "50"},
                                                 .portFile = dir_.file("sim.port")});
        AdapterHub::Setup setup;
        setup.port = hub::test::freePort();  // the callback URL the vendor is given names it
        setup.plugins = {"kiosk"};
        // 2 s: room for the retry storm's 20 calls on a loaded CI machine (1 s timed
        // out under the whole suite), still below the simulator's 3 s "slow" mode.
        setup.pluginsXml = "<plugin name=\"kiosk\"><timeoutMs>2000</timeoutMs><concurrency>32</concurrency>"
                           "<failureThreshold>100000</failureThreshold><webhook><secretFile>" +
                           dir_.file("kiosk.webhook") + "</secretFile></webhook><config><base_url>" + sim_->url("/") +
                           "</base_url><api_token_file>" + dir_.file("kiosk.token") +
                           "</api_token_file><callback_url>http://127.0.0.1:" + std::to_string(setup.port) +
                           "/api/v1/webhooks/kiosk/job_event</callback_url></config></plugin>";
        setup.peopleXml = "<person id=\"2023010001\" name=\"张三\" audience=\"student\"/>";
        hub_ = std::make_unique<AdapterHub>(dir_, setup);
    }

    HttpResponse print(const std::string& body, const std::string& idempotencyKey = {}) {
        return hub_->call(kStudent, "kiosk", "print_certificate", body, 20000, idempotencyKey);
    }

    std::string jobStatus(const std::string& job) {
        auto r = hub_->call(kStudent, "kiosk", "job_status", R"({"holder_id":"2023010001","job_id":")" + job + "\"}");
        return r.status == 200 ? parse(r.body)->getValue<std::string>("status") : "HTTP " + std::to_string(r.status);
    }

    void mode(const std::string& json) { ASSERT_EQ(httpRequest("POST", sim_->url("/admin/mode"), json).status, 200); }

    long stat(const std::string& name) {
        return parse(httpRequest("GET", sim_->url("/admin/stats")).body)->getValue<long>(name);
    }

    TempDir dir_{"kiosk-test"};
    std::unique_ptr<ChildProcess> sim_;
    std::unique_ptr<AdapterHub> hub_;
};

const std::string kPrint =
    R"({"holder_id":"2023010001","kiosk_id":"K-LIB-01","document_type":"enrolment_certificate"})";

}  // namespace

// Printed once; the kiosk's callbacks (printing, then printed) come back through the
// signed webhook route and move the job along.
TEST_F(Kiosk, PrintsACertificateAndFollowsItsCallbacks) {
    auto r = print(kPrint, "p-1");
    ASSERT_EQ(r.status, 200) << r.body;
    auto job = parse(r.body);
    EXPECT_FALSE(job->getValue<bool>("replayed"));
    const std::string id = job->getValue<std::string>("job_id");
    EXPECT_TRUE(waitUntil([&] { return jobStatus(id) == "printed"; })) << jobStatus(id);
    EXPECT_EQ(stat("prints"), 1);
    // "printing" may come before the plugin has stored the job (the kiosk calls back
    // as it accepts): answered 404, redelivered, and never moves the job back.
    EXPECT_TRUE(waitUntil([&] { return stat("delivered") == 2; })) << stat("delivered");  // both taken, in the end
    EXPECT_EQ(jobStatus(id), "printed");
}

TEST_F(Kiosk, RetryStormPrintsOnce) {
    std::vector<std::future<HttpResponse>> calls;
    for (int i = 0; i < 20; ++i) calls.push_back(std::async(std::launch::async, [&] { return print(kPrint, "p-1"); }));
    // The hub keeps the key (CallKeys): one call reaches the plugin; a retry
    // while it is in flight gets 409, one after it the stored answer.
    std::set<std::string> jobs;
    int inFlight = 0;
    for (auto& f : calls) {
        auto r = f.get();
        if (r.status == 409 && r.header("Retry-After") == "1") {
            ++inFlight;
            continue;
        }
        ASSERT_EQ(r.status, 200) << r.body;
        jobs.insert(parse(r.body)->getValue<std::string>("job_id"));
    }
    EXPECT_LT(inFlight, 20);
    auto again = print(kPrint, "p-1");
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    jobs.insert(parse(again.body)->getValue<std::string>("job_id"));
    EXPECT_EQ(jobs.size(), 1u);
    EXPECT_EQ(stat("prints"), 1);

    // The kiosk takes (and prints) the job after the hub gave up on the call: the
    // retry finds that job by its reference and prints nothing more.
    const std::string slow =
        R"({"holder_id":"2023010001","kiosk_id":"K-LIB-01","document_type":"transcript"})";
    mode(R"({"mode":"slow","delay_ms":3000})");
    EXPECT_EQ(print(slow, "p-2").status, 504);
    ASSERT_TRUE(waitUntil([&] { return stat("prints") == 2; }));
    mode(R"({"mode":"none"})");
    for (int i = 0; i < 3; ++i) {
        auto r = print(slow, "p-2");
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_TRUE(parse(r.body)->getValue<bool>("replayed"));
    }
    EXPECT_EQ(stat("prints"), 2);
    EXPECT_EQ(stat("jobs"), 2);
    // The key belongs to its request: another document under it is refused.
    auto other = print(R"({"holder_id":"2023010001","kiosk_id":"K-DORM-03","document_type":"transcript"})", "p-2");
    EXPECT_EQ(other.status, 409) << other.body;
    EXPECT_EQ(stat("prints"), 2);
    // The 1.0 adapter's input field is refused, not ignored: its caller expects
    // de-duplication it would otherwise silently lose.
    auto old = print(
        R"({"holder_id":"2023010001","kiosk_id":"K-LIB-01","document_type":"transcript","idempotency_key":"p-3"})");
    EXPECT_EQ(old.status, 400) << old.body;
    EXPECT_NE(old.body.find("Idempotency-Key"), std::string::npos) << old.body;
    EXPECT_EQ(stat("prints"), 2);
}

TEST_F(Kiosk, VendorErrorsDownSlowAndMalformed) {
    auto expect = [&](const std::string& kiosk, int status, const std::string& part) {
        auto r = print(R"({"holder_id":"2023010001","kiosk_id":")" + kiosk +
                       R"(","document_type":"enrolment_certificate"})");
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_NE(r.body.find(part), std::string::npos) << r.body;
        return r;
    };
    expect("K-NOPE-99", 404, "KIOSK_NOT_FOUND");
    expect("K-ADM-02", 409, "KIOSK_OFFLINE");
    EXPECT_EQ(print(R"({"holder_id":"2023010001","kiosk_id":"K-LIB-01","document_type":"diploma"})").status, 400);
    EXPECT_EQ(print(R"({"holder_id":"2023010001","kiosk_id":"K-LIB-01","document_type":"transcript","copies":9})").status,
              400);
    mode(R"({"mode":"500"})");
    expect("K-LIB-01", 503, "HTTP 500");
    mode(R"({"mode":"bad_json"})");
    expect("K-LIB-01", 502, "not a JSON object");
    mode(R"({"mode":"truncated"})");
    auto truncated = print(R"({"holder_id":"2023010001","kiosk_id":"K-LIB-01","document_type":"transcript"})");
    EXPECT_TRUE(truncated.status == 502 || truncated.status == 503) << truncated.body;
    mode(R"({"mode":"hang"})");
    expect("K-LIB-01", 504, "");
    // No paper: accepted, then the failure arrives as a callback.
    mode(R"({"mode":"paper_out"})");
    auto r = expect("K-LIB-01", 200, "queued");
    const std::string id = parse(r.body)->getValue<std::string>("job_id");
    EXPECT_TRUE(waitUntil([&] { return jobStatus(id) == "failed"; })) << jobStatus(id);
    mode(R"({"mode":"none"})");
    EXPECT_EQ(stat("prints"), 0);
    sim_.reset();
    expect("K-LIB-01", 503, "");
}

// The token file is read when the plugin is created: a hub started with a token the
// vendor does not know gets 401s, which the portal sees as a gateway error.
TEST_F(Kiosk, AWrongApiTokenIsAGatewayError) {
    hub_.reset();
    dir_.write("kiosk.token", "not-the-token\n");
    AdapterHub::Setup setup;
    setup.plugins = {"kiosk"};
    setup.pluginsXml = "<plugin name=\"kiosk\"><config><base_url>" + sim_->url("/") + "</base_url><api_token_file>" +
                       dir_.file("kiosk.token") + "</api_token_file></config></plugin>";
    setup.peopleXml = "<person id=\"2023010001\" name=\"张三\" audience=\"student\"/>";
    hub_ = std::make_unique<AdapterHub>(dir_, setup);
    auto r = print(R"({"holder_id":"2023010001","kiosk_id":"K-LIB-01","document_type":"transcript"})");
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_NE(r.body.find("api_token_file"), std::string::npos) << r.body;
    EXPECT_EQ(stat("prints"), 0);
}
