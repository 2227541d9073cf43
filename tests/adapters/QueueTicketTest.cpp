// The queue-ticket adapter end to end: hub-sim-queue-ticket, hubd and the portal
// consumer as real processes. Bookings go through hubd's HTTP API; the hall's
// calls come back as signed webhooks through POST /api/v1/webhooks/queue_ticket/...
// and reach the portal as events.
#include "AdapterHub.h"

#include "hub/test/Eventually.h"

#include <Poco/DigestEngine.h>
#include <Poco/HMACEngine.h>
#include <Poco/SHA2Engine.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

using hub::test::ChildProcess;
using hub::test::HttpResponse;
using hub::test::httpRequest;
using hub::test::TempDir;
using hub::test::waitUntil;
using hub::test::adapters::AdapterHub;
using hub::test::adapters::parse;
using hub::test::adapters::PortalPeer;

namespace {

const std::string kWebhookSecret = "queue-webhook-secret-0123456789abcdef-XYZ";
const std::string kStudent = "2023010001";

class Sha256 : public Poco::SHA2Engine {
public:
    enum { BLOCK_SIZE = 64, DIGEST_SIZE = 32 };
    Sha256() : Poco::SHA2Engine(Poco::SHA2Engine::SHA_256) {}
};

std::string sign(const std::string& timestamp, const std::string& body, const std::string& secret = kWebhookSecret) {
    Poco::HMACEngine<Sha256> hmac(secret);
    hmac.update(timestamp + "." + body);
    return "sha256=" + Poco::DigestEngine::digestToHex(hmac.digest());
}

std::string now() {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

class QueueTicket : public ::testing::Test {
protected:
    void SetUp() override {
        dir_.write("queue.key", "hall-api-key\n");
        dir_.write("queue.webhook", kWebhookSecret + "\n");
        sim_ = std::make_unique<ChildProcess>(
            HUB_SIM_QUEUE_TICKET,
            ChildProcess::Options{.args = {"--port", "0", "--port-file", dir_.file("sim.port"), "--api-key",
                                           "hall-api-key", "--webhook-secret-file", dir_.file("queue.webhook")},
                                  .portFile = dir_.file("sim.port")});
        portal_ = std::make_unique<PortalPeer>(dir_);
        AdapterHub::Setup setup;
        setup.plugins = {"queue_ticket"};
        // 2 s: room for the retry storm's 20 calls on a loaded CI machine (1 s timed
        // out under the whole suite), still below the simulator's 3 s "slow" mode.
        setup.pluginsXml = "<plugin name=\"queue_ticket\"><timeoutMs>2000</timeoutMs><concurrency>32</concurrency>"
                           "<failureThreshold>100000</failureThreshold><webhook><secretFile>" +
                           dir_.file("queue.webhook") + "</secretFile></webhook><config><base_url>" + sim_->url("/") +
                           "</base_url><api_key_file>" + dir_.file("queue.key") + "</api_key_file></config></plugin>";
        setup.peopleXml = "<person id=\"2023010001\" name=\"张三\" audience=\"student\"/>"
                          "<person id=\"clerk.hall\" name=\"大厅\" audience=\"staff\" roles=\"dept:service-hall:clerk\"/>";
        setup.moreXml = portal_->eventsXml();
        hub_ = std::make_unique<AdapterHub>(dir_, setup);
    }

    HttpResponse book(const std::string& body, const std::string& as = kStudent,
                      const std::string& idempotencyKey = {}) {
        return hub_->call(as, "queue_ticket", "book_ticket", body, 20000, idempotencyKey);
    }

    /// The simulator calls the hub back; what the hub answered.
    Poco::JSON::Object::Ptr hallCalls(const std::string& ticket, const std::string& event, const std::string& more = "") {
        auto r = httpRequest("POST", sim_->url("/admin/callback"),
                             R"({"ticket_id":")" + ticket + R"(","event":")" + event + R"(","callback_url":")" +
                                 hub_->url("/api/v1/webhooks/queue_ticket") + "\"" + more + "}");
        EXPECT_EQ(r.status, 200) << r.body;
        return parse(r.body);
    }

    HttpResponse signedPost(const std::string& path, const std::string& body, const std::string& timestamp,
                            const std::string& signature) {
        return httpRequest("POST", hub_->url(path), body,
                           {{"X-Hub-Timestamp", timestamp}, {"X-Hub-Signature", signature}});
    }

    long stat(const std::string& name) {
        return parse(httpRequest("GET", sim_->url("/admin/stats")).body)->getValue<long>(name);
    }

    TempDir dir_{"queue-ticket-test"};
    std::unique_ptr<ChildProcess> sim_;
    std::unique_ptr<PortalPeer> portal_;
    std::unique_ptr<AdapterHub> hub_;
};

}  // namespace

TEST_F(QueueTicket, BookedTicketIsCalledAndDoneAndThePortalHearsOfIt) {
    auto r = book(R"({"applicant_id":"2023010001","item_code":"SA-01","application_id":"app-42"})");
    ASSERT_EQ(r.status, 200) << r.body;
    auto ticket = parse(r.body);
    const std::string id = ticket->getValue<std::string>("ticket_id");
    EXPECT_EQ(ticket->getValue<std::string>("ticket_no"), "A001");
    EXPECT_EQ(ticket->getValue<std::string>("window"), "3号窗口");
    EXPECT_FALSE(ticket->getValue<std::string>("estimated_at").empty());

    auto called = hallCalls(id, "now_serving", R"(,"event_id":"ev-1")");
    EXPECT_EQ(called->getValue<int>("status"), 200) << called->getValue<std::string>("body");
    auto status = parse(hub_->call(kStudent, "queue_ticket", "ticket_status",
                                   R"({"applicant_id":"2023010001","ticket_id":")" + id + "\"}")
                            .body);
    EXPECT_EQ(status->getValue<std::string>("state"), "serving");

    // The vendor redelivers: accepted, nothing published twice.
    auto again = hallCalls(id, "now_serving", R"(,"event_id":"ev-1")");
    EXPECT_EQ(again->getValue<int>("status"), 200);
    EXPECT_NE(again->getValue<std::string>("body").find("\"duplicate\":true"), std::string::npos);

    EXPECT_EQ(hallCalls(id, "done", R"(,"event_id":"ev-2")")->getValue<int>("status"), 200);
    ASSERT_TRUE(waitUntil([&] { return portal_->output().find("edu.campus.hub.queue.done") != std::string::npos; },
                          std::chrono::seconds(15)))
        << portal_->output();
    const std::string events = portal_->output();
    EXPECT_EQ(occurrences(events, "edu.campus.hub.queue.now_serving"), 1u) << events;
    EXPECT_NE(events.find("application/app-42"), std::string::npos) << events;
    EXPECT_NE(events.find(id), std::string::npos);
    EXPECT_EQ(parse(hub_->call(kStudent, "queue_ticket", "ticket_status",
                               R"({"applicant_id":"2023010001","ticket_id":")" + id + "\"}")
                        .body)
                  ->getValue<std::string>("state"),
              "done");
}

// Only the vendor, signing with the secret, within the time window, reaches a
// webhook; and a webhook is reachable no other way.
TEST_F(QueueTicket, WebhooksNeedTheVendorsFreshSignature) {
    auto r = book(R"({"applicant_id":"2023010001","item_code":"JW-02"})");
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string id = parse(r.body)->getValue<std::string>("ticket_id");

    EXPECT_EQ(hallCalls(id, "now_serving", R"(,"tamper":true)")->getValue<int>("status"), 401);
    EXPECT_EQ(hallCalls(id, "now_serving", R"(,"timestamp_offset":-900)")->getValue<int>("status"), 401);
    EXPECT_EQ(hallCalls(id, "now_serving", R"(,"timestamp_offset":900)")->getValue<int>("status"), 401);

    const std::string body = R"({"event_id":"x1","ticket_id":")" + id + "\"}";
    const std::string path = "/api/v1/webhooks/queue_ticket/now_serving";
    EXPECT_EQ(httpRequest("POST", hub_->url(path), body).status, 401);
    EXPECT_EQ(signedPost(path, body, now(), sign(now(), body, "another-secret-0123456789-0123456789")).status, 401);
    EXPECT_EQ(signedPost(path, body, "yesterday", sign("yesterday", body)).status, 401);
    // Signed right, but not a webhook of the plugin, or no such plugin: 404.
    const std::string t = now();
    EXPECT_EQ(signedPost("/api/v1/webhooks/queue_ticket/book_ticket", body, t, sign(t, body)).status, 404);
    EXPECT_EQ(signedPost("/api/v1/webhooks/student_affairs/now_serving", body, t, sign(t, body)).status, 404);
    // Signed right, a body that is not a JSON object: 400; an unknown ticket: the plugin's 404.
    EXPECT_EQ(signedPost(path, "[1]", t, sign(t, "[1]")).status, 400);
    const std::string unknown = R"({"event_id":"x2","ticket_id":"T999999"})";
    EXPECT_EQ(signedPost(path, unknown, t, sign(t, unknown)).status, 404);
    // A clerk cannot call the webhook through the portal's route.
    auto viaPortal = hub_->call("clerk.hall", "queue_ticket", "now_serving", body);
    EXPECT_EQ(viaPortal.status, 403) << viaPortal.body;
    // None of it moved the ticket.
    EXPECT_EQ(parse(hub_->call(kStudent, "queue_ticket", "ticket_status",
                               R"({"applicant_id":"2023010001","ticket_id":")" + id + "\"}")
                        .body)
                  ->getValue<std::string>("state"),
              "waiting");
    // The good one does.
    EXPECT_EQ(signedPost(path, body, t, sign(t, body)).status, 200);
}

TEST_F(QueueTicket, VendorErrorsDownSlowAndMalformed) {
    auto expect = [&](const std::string& body, int status, const std::string& part) {
        auto r = book(body);
        EXPECT_EQ(r.status, status) << r.body;
        EXPECT_NE(r.body.find(part), std::string::npos) << r.body;
    };
    expect(R"({"applicant_id":"2023010001","item_code":"XX-99"})", 404, "ITEM_NOT_FOUND");
    expect(R"({"applicant_id":"2023010001","item_code":"FIN-09"})", 409, "NO_SLOTS");
    expect(R"({"applicant_id":"2023010001","item_code":"SA 01"})", 400, "item_code");
    EXPECT_EQ(book(R"({"applicant_id":"2023010002","item_code":"SA-01"})").status, 403);  // not their own id
    auto mode = [&](const std::string& json) { ASSERT_EQ(httpRequest("POST", sim_->url("/admin/mode"), json).status, 200); };
    mode(R"({"mode":"500"})");
    expect(R"({"applicant_id":"2023010001","item_code":"SA-01"})", 503, "HTTP 500");
    mode(R"({"mode":"bad_json"})");
    expect(R"({"applicant_id":"2023010001","item_code":"SA-01"})", 502, "not a JSON object");
    mode(R"({"mode":"truncated"})");
    auto truncated = book(R"({"applicant_id":"2023010001","item_code":"SA-01"})");
    EXPECT_TRUE(truncated.status == 502 || truncated.status == 503) << truncated.body;
    mode(R"({"mode":"slow","delay_ms":3000})");
    expect(R"({"applicant_id":"2023010001","item_code":"SA-01"})", 504, "");
    mode(R"({"mode":"none"})");
    EXPECT_EQ(book(R"({"applicant_id":"2023010001","item_code":"SA-01"})").status, 200);
    // The system goes away.
    sim_.reset();
    expect(R"({"applicant_id":"2023010001","item_code":"SA-01"})", 503, "");
}

// One booking however often it is retried with its key: 20 at once, then more
// after the first answer.
TEST_F(QueueTicket, RetryStormBooksOneTicket) {
    const std::string body = R"({"applicant_id":"2023010001","item_code":"SA-01"})";
    std::vector<std::future<HttpResponse>> calls;
    for (int i = 0; i < 20; ++i)
        calls.push_back(std::async(std::launch::async, [&] { return book(body, kStudent, "b-1"); }));
    // The hub keeps the key (CallKeys): one call reaches the plugin; a retry
    // while it is in flight gets 409 with Retry-After, one after it the stored answer.
    std::set<std::string> tickets;
    int inFlight = 0;
    for (auto& f : calls) {
        auto r = f.get();
        if (r.status == 409 && r.header("Retry-After") == "1") {
            ++inFlight;
            continue;
        }
        ASSERT_EQ(r.status, 200) << r.body;
        tickets.insert(parse(r.body)->getValue<std::string>("ticket_id"));
    }
    EXPECT_LT(inFlight, 20);
    auto again = book(body, kStudent, "b-1");
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(again.header("Idempotent-Replayed"), "true");
    tickets.insert(parse(again.body)->getValue<std::string>("ticket_id"));
    EXPECT_EQ(tickets.size(), 1u);
    EXPECT_EQ(stat("tickets"), 1);
    // Another key is another booking.
    ASSERT_EQ(book(body, kStudent, "b-2").status, 200);
    EXPECT_EQ(stat("tickets"), 2);
    // The 1.0 adapter's input field is refused, not ignored: its caller expects
    // de-duplication it would otherwise silently lose.
    auto old = book(R"({"applicant_id":"2023010001","item_code":"SA-01","idempotency_key":"b-3"})");
    EXPECT_EQ(old.status, 400) << old.body;
    EXPECT_NE(old.body.find("Idempotency-Key"), std::string::npos) << old.body;
    EXPECT_EQ(stat("tickets"), 2);
}

// The counter item booked through its flow (config/flows/counter-ticket.bpmn):
// the hall's signed calls move the application (submitted -> in_review ->
// completed), and the portal hears of both the ticket and the application.
namespace {

class QueueTicketFlow : public ::testing::Test {
protected:
    void start(const std::string& apiKey = "hall-api-key",
               const std::string& itemCodes = "student-card-replacement=SA-01, transcript=JW-02") {
        dir_.write("queue.key", apiKey + "\n");
        dir_.write("queue.webhook", kWebhookSecret + "\n");
        std::filesystem::create_directories(dir_.file("flows"));
        std::filesystem::copy_file(std::string(FLOWS_DIR) + "/counter-ticket.bpmn", dir_.file("flows/counter-ticket.bpmn"),
                                   std::filesystem::copy_options::overwrite_existing);
        sim_ = std::make_unique<ChildProcess>(
            HUB_SIM_QUEUE_TICKET,
            ChildProcess::Options{.args = {"--port", "0", "--port-file", dir_.file("sim.port"), "--api-key",
                                           "hall-api-key", "--webhook-secret-file", dir_.file("queue.webhook")},
                                  .portFile = dir_.file("sim.port")});
        portal_ = std::make_unique<PortalPeer>(dir_);
        AdapterHub::Setup setup;
        setup.plugins = {"queue_ticket"};
        setup.pluginsXml = "<plugin name=\"queue_ticket\"><timeoutMs>2000</timeoutMs><webhook><secretFile>" +
                           dir_.file("queue.webhook") + "</secretFile></webhook><config><base_url>" + sim_->url("/") +
                           "</base_url><api_key_file>" + dir_.file("queue.key") +
                           "</api_key_file><item_codes>" + itemCodes + "</item_codes></config></plugin>";
        setup.peopleXml =
            "<person id=\"2023010001\" name=\"张三\" department=\"physics\" audience=\"student\"/>"
            "<person id=\"clerk.jwc\" name=\"赵老师\" department=\"academic-affairs\" audience=\"staff\" "
            "roles=\"dept:academic-affairs:clerk\"/>"
            "<person id=\"admin\" name=\"Operator\" audience=\"staff\" roles=\"hub:admin\"/>";
        setup.moreXml = portal_->eventsXml() + "<flows><dir>" + dir_.file("flows") + "</dir></flows>\n";
        hub_ = std::make_unique<AdapterHub>(dir_, setup);
        ASSERT_TRUE(waitUntil([&] { return hub_->process().output().find("flow deployed: counter-ticket v1") !=
                                           std::string::npos; },
                              std::chrono::seconds(10)))
            << hub_->process().output();
    }

    HttpResponse as(const std::string& subject, const std::string& method, const std::string& path,
                    const std::string& body = "") {
        return httpRequest(method, hub_->url(path), body,
                           {{"Authorization", "Bearer " + hub::test::adapters::token(subject)}});
    }

    std::string submit() {
        auto r = as(kStudent, "POST", "/api/v1/applications",
                    R"({"item_id":"student-card-replacement","form":{},"materials":["id-card","photo"]})");
        EXPECT_EQ(r.status, 201) << r.body;
        return r.status == 201 ? parse(r.body)->getValue<std::string>("id") : std::string();
    }

    std::string statusOf(const std::string& application) {
        auto r = as(kStudent, "GET", "/api/v1/applications/" + application);
        return r.status == 200 ? parse(r.body)->getValue<std::string>("status") : "HTTP " + std::to_string(r.status);
    }

    bool becomes(const std::string& application, const std::string& status) {
        return waitUntil([&] { return statusOf(application) == status; }, std::chrono::seconds(20),
                         std::chrono::milliseconds(50));
    }

    /// The ticket the flow booked, as the portal hears of it (edu.campus.hub.queue.booked
    /// for the application; the flow keeps the booking's answer to itself).
    std::string ticketOf(const std::string& application) {
        std::string ticket;
        waitUntil(
            [&] {
                std::istringstream lines(portal_->output());
                for (std::string line; std::getline(lines, line);) {
                    if (line.find("edu.campus.hub.queue.booked") == std::string::npos ||
                        line.find("application/" + application) == std::string::npos)
                        continue;
                    const std::string field = "\"ticket_id\":\"";
                    if (auto at = line.find(field); at != std::string::npos)
                        ticket = line.substr(at + field.size(), line.find('"', at + field.size()) - at - field.size());
                }
                return !ticket.empty();
            },
            std::chrono::seconds(20), std::chrono::milliseconds(50));
        return ticket;
    }

    int hallCalls(const std::string& ticket, const std::string& event, const std::string& more = "") {
        auto r = httpRequest("POST", sim_->url("/admin/callback"),
                             R"({"ticket_id":")" + ticket + R"(","event":")" + event + R"(","callback_url":")" +
                                 hub_->url("/api/v1/webhooks/queue_ticket") + "\"" + more + "}");
        EXPECT_EQ(r.status, 200) << r.body;
        return r.status == 200 ? parse(r.body)->getValue<int>("status") : 0;
    }

    std::size_t openTasks(const std::string& application) {
        auto r = as("clerk.jwc", "GET", "/api/v1/tasks");
        EXPECT_EQ(r.status, 200) << r.body;
        return occurrences(r.body, application);
    }

    TempDir dir_{"queue-ticket-flow-test"};
    std::unique_ptr<ChildProcess> sim_;
    std::unique_ptr<PortalPeer> portal_;
    std::unique_ptr<AdapterHub> hub_;
};

}  // namespace

TEST_F(QueueTicketFlow, TheHallsCallsMoveTheApplicationAndReachThePortal) {
    ASSERT_NO_FATAL_FAILURE(start());
    const std::string application = submit();
    ASSERT_FALSE(application.empty());
    const std::string ticket = ticketOf(application);
    ASSERT_FALSE(ticket.empty()) << portal_->output();
    EXPECT_EQ(httpRequest("GET", sim_->url("/admin/stats")).body.find("\"tickets\":1") != std::string::npos, true)
        << httpRequest("GET", sim_->url("/admin/stats")).body;
    // Booked, not yet called: the flow waits, the application stays submitted.
    EXPECT_EQ(statusOf(application), "submitted");
    EXPECT_EQ(openTasks(application), 0u);

    ASSERT_EQ(hallCalls(ticket, "now_serving", R"(,"event_id":"flow-ev-1")"), 200);
    ASSERT_TRUE(becomes(application, "in_review")) << statusOf(application);
    EXPECT_EQ(openTasks(application), 1u);  // on the window clerks' list
    // A redelivered call moves nothing twice.
    ASSERT_EQ(hallCalls(ticket, "now_serving", R"(,"event_id":"flow-ev-1")"), 200);

    ASSERT_EQ(hallCalls(ticket, "done", R"(,"event_id":"flow-ev-2")"), 200);
    ASSERT_TRUE(becomes(application, "completed")) << statusOf(application);
    EXPECT_EQ(openTasks(application), 0u);  // "done" closed the window's task
    auto done = parse(as(kStudent, "GET", "/api/v1/applications/" + application).body);
    EXPECT_NE(done->get("result").toString().find("3号窗口"), std::string::npos) << done->get("result").toString();

    // The portal hears of the ticket and of each move of the application.
    ASSERT_TRUE(waitUntil(
        [&] {
            const std::string out = portal_->output();
            return out.find("edu.campus.hub.queue.done") != std::string::npos &&
                   out.find("\"to\":\"completed\"") != std::string::npos;
        },
        std::chrono::seconds(15)))
        << portal_->output();
    const std::string events = portal_->output();
    EXPECT_EQ(occurrences(events, "edu.campus.hub.queue.now_serving"), 1u) << events;
    EXPECT_EQ(occurrences(events, "\"to\":\"in_review\""), 1u) << events;
    EXPECT_NE(events.find("application/" + application), std::string::npos) << events;
    // A late "now serving" for the closed ticket's flow moves nothing back.
    ASSERT_EQ(hallCalls(ticket, "now_serving", R"(,"event_id":"flow-ev-3")"), 200);
    EXPECT_EQ(statusOf(application), "completed");
}

// Only a callback signed with the webhook secret moves the application: a
// tampered body, another key, a stale timestamp, or none leave it where it is.
TEST_F(QueueTicketFlow, ForgedCallbacksMoveNothing) {
    ASSERT_NO_FATAL_FAILURE(start());
    const std::string application = submit();
    const std::string ticket = ticketOf(application);
    ASSERT_FALSE(ticket.empty());

    EXPECT_EQ(hallCalls(ticket, "now_serving", R"(,"tamper":true)"), 401);
    EXPECT_EQ(hallCalls(ticket, "now_serving", R"(,"timestamp_offset":-900)"), 401);
    const std::string body = R"({"event_id":"forged-1","event":"done","ticket_id":")" + ticket + "\"}";
    const std::string t = now();
    for (const std::string event : {"now_serving", "done"}) {
        const std::string path = "/api/v1/webhooks/queue_ticket/" + event;
        EXPECT_EQ(httpRequest("POST", hub_->url(path), body,
                              {{"X-Hub-Timestamp", t}, {"X-Hub-Signature", sign(t, body, "a-wrong-key-0123456789-abcdefghij")}})
                      .status,
                  401);
        EXPECT_EQ(httpRequest("POST", hub_->url(path), body).status, 401);
    }
    // Give a wrongly accepted message the time it would take to land.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(statusOf(application), "submitted");
    EXPECT_EQ(openTasks(application), 0u);
    for (const char* moved : {"edu.campus.hub.queue.now_serving", "edu.campus.hub.queue.done", "\"to\":\"in_review\""})
        EXPECT_EQ(portal_->output().find(moved), std::string::npos) << moved << "\n" << portal_->output();
    // The vendor's own call still works afterwards.
    ASSERT_EQ(hallCalls(ticket, "now_serving"), 200);
    EXPECT_TRUE(becomes(application, "in_review")) << statusOf(application);
}

// The hub holds a key the hall system does not know: the vendor's 401 reaches
// the caller as 502 naming the setting to fix, a flow's booking ends in an
// incident that says the same, and no ticket is issued.
TEST_F(QueueTicketFlow, AWrongApiKeyBooksNothingAndSaysWhatToFix) {
    ASSERT_NO_FATAL_FAILURE(start("an-old-revoked-key"));
    auto direct = hub_->call(kStudent, "queue_ticket", "book_ticket", R"({"applicant_id":"2023010001","item_code":"SA-01"})");
    EXPECT_EQ(direct.status, 502) << direct.body;
    EXPECT_NE(direct.body.find("HTTP 401"), std::string::npos) << direct.body;
    EXPECT_NE(direct.body.find("api_key_file"), std::string::npos) << direct.body;
    EXPECT_EQ(direct.body.find("an-old-revoked-key"), std::string::npos) << "the key is not echoed: " << direct.body;

    const std::string application = submit();
    ASSERT_FALSE(application.empty());
    std::string incidents;
    EXPECT_TRUE(waitUntil(
        [&] {
            incidents = as("admin", "GET", "/admin/flows/incidents").body;
            return incidents.find("Task_BookTicket") != std::string::npos;  // after its 3 attempts
        },
        std::chrono::seconds(30), std::chrono::milliseconds(200)))
        << incidents;
    EXPECT_NE(incidents.find("api_key_file"), std::string::npos) << incidents;
    EXPECT_EQ(statusOf(application), "submitted");
    EXPECT_NE(httpRequest("GET", sim_->url("/admin/stats")).body.find("\"tickets\":0"), std::string::npos)
        << httpRequest("GET", sim_->url("/admin/stats")).body;
    EXPECT_EQ(portal_->output().find("edu.campus.hub.queue.booked"), std::string::npos) << portal_->output();
}

// A booking that names a catalogue item needs the hall's code for it; the
// setting that maps them is checked when the plugin loads.
TEST_F(QueueTicketFlow, ACatalogueItemIsBookedOnlyByItsConfiguredCode) {
    ASSERT_NO_FATAL_FAILURE(start());
    auto book = [&](const std::string& body) { return hub_->call(kStudent, "queue_ticket", "book_ticket", body); };
    auto mapped = book(R"({"applicant_id":"2023010001","item_id":"transcript"})");
    ASSERT_EQ(mapped.status, 200) << mapped.body;
    EXPECT_EQ(parse(mapped.body)->getValue<std::string>("item_code"), "JW-02");
    auto unmapped = book(R"({"applicant_id":"2023010001","item_id":"dorm-repair"})");
    EXPECT_EQ(unmapped.status, 404) << unmapped.body;
    EXPECT_NE(unmapped.body.find("item_codes"), std::string::npos) << unmapped.body;
    for (const std::string& hostile : std::vector<std::string>{R"("../SA-01")", R"("SA-01\"}")", R"(42)", R"("")", "\"" + std::string(65, 'a') + "\""}) {
        auto r = book(R"({"applicant_id":"2023010001","item_id":)" + hostile + "}");
        EXPECT_EQ(r.status, 400) << hostile << " " << r.body;
    }
    EXPECT_NE(httpRequest("GET", sim_->url("/admin/stats")).body.find("\"tickets\":1"), std::string::npos);
}

TEST_F(QueueTicketFlow, AMalformedItemCodesSettingRefusesThePlugin) {
    ASSERT_NO_FATAL_FAILURE(start("hall-api-key", "student-card-replacement SA-01"));
    auto plugins = as("admin", "GET", "/admin/plugins");
    EXPECT_EQ(plugins.status, 200) << plugins.body;
    EXPECT_NE(plugins.body.find("is not item=CODE"), std::string::npos) << plugins.body;
    EXPECT_EQ(hub_->call(kStudent, "queue_ticket", "book_ticket", R"({"applicant_id":"2023010001","item_code":"SA-01"})")
                  .status,
              404);
}
