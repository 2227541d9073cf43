// hub-sim-queue-ticket: a stand-in for the counter hall's queue-ticket system
// (排队叫号). Online booking for a counter item over HTTP/JSON with an API key;
// the hall's "now serving" and "done" calls go back to the hub as signed
// webhooks, as the vendor's callback feature does.
//
//   hub-sim-queue-ticket [common options] [--api-key K] [--callback-url URL] [--webhook-secret-file F]
//                        [--slots 1000]   (tickets a day for SA-01 and JW-02; FIN-09 has none)
//
// Endpoints (X-Api-Key on /api/*):
//   POST /api/v1/tickets       {"item_code","applicant_id","applicant_name"?,"client_ref"?}
//                              201 {"ticket_id","ticket_no","window","item_code","estimated_at"};
//                              a client_ref seen before: 200 with the same ticket, "replayed":true
//                              400/401/404 ITEM_NOT_FOUND/409 NO_SLOTS {"code","message"}
//   GET  /api/v1/tickets/{id}  the ticket with its "state"
//   GET  /health, GET /admin/stats {"requests","tickets","replays","callbacks"}
//   POST /admin/mode           {"mode":"none|500|slow|hang|bad_json|truncated","delay_ms":N}
//   POST /admin/callback       {"ticket_id","event":"now_serving|done","event_id"?,"tamper"?,
//                               "timestamp_offset"?,"callback_url"?}: signs and sends the callback
//                              to <callback_url or --callback-url>/<event>; answers {"status","body","event_id"}
#include "SimServer.h"
#include "Webhook.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>

namespace {

using hub::sim::jsonString;
using hub::sim::send;

struct Item {
    std::string code, name, window;
    char prefix;
    int slots;
};

struct Ticket {
    std::string id, number, window, itemCode, applicantId, estimatedAt, state = "waiting";
};

enum class Mode { None, Error500, Slow, Hang, BadJson, Truncated };

std::string iso(Poco::Timestamp at) { return Poco::DateTimeFormatter::format(at, Poco::DateTimeFormat::ISO8601_FORMAT); }

std::string toJson(const Ticket& t, bool replayed) {
    return "{\"ticket_id\":" + jsonString(t.id) + ",\"ticket_no\":" + jsonString(t.number) +
           ",\"window\":" + jsonString(t.window) + ",\"item_code\":" + jsonString(t.itemCode) +
           ",\"applicant_id\":" + jsonString(t.applicantId) + ",\"estimated_at\":" + jsonString(t.estimatedAt) +
           ",\"state\":" + jsonString(t.state) + ",\"replayed\":" + (replayed ? "true" : "false") + "}";
}

class Simulator {
public:
    explicit Simulator(const hub::sim::Options& o)
        : apiKey_(o.ownString("api-key", "queue-key")), callbackUrl_(o.ownString("callback-url", "")) {
        const int slots = o.ownInt("slots", 1000, 0, 100000000);
        if (auto file = o.ownString("webhook-secret-file", ""); !file.empty()) {
            secret_ = hub::sim::readSecretFile(file);
            if (secret_.empty()) throw std::invalid_argument("--webhook-secret-file: cannot read " + file);
        }
        items_["SA-01"] = {"SA-01", "学生证补办", "3号窗口", 'A', slots};
        items_["JW-02"] = {"JW-02", "成绩单打印", "5号窗口", 'B', slots};
        items_["FIN-09"] = {"FIN-09", "财务报销", "8号窗口", 'F', 0};
    }

    const std::string& apiKey() const { return apiKey_; }

    void setMode(Mode m, int delayMs) {
        {
            std::lock_guard lock(mutex_);
            mode_ = m;
            delayMs_ = delayMs;
        }
        changed_.notify_all();
    }
    Mode mode(int& delayMs) const {
        std::lock_guard lock(mutex_);
        delayMs = delayMs_;
        return mode_;
    }
    void wait(int ms, bool untilChanged) {
        std::unique_lock lock(mutex_);
        Mode at = mode_;
        changed_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_ || (untilChanged && mode_ != at); });
    }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_all();
    }
    void count(long Simulator::*counter) {
        std::lock_guard lock(mutex_);
        ++(this->*counter);
    }
    std::string stats() const {
        std::lock_guard lock(mutex_);
        return "{\"requests\":" + std::to_string(requests_) + ",\"tickets\":" + std::to_string(tickets_.size()) +
               ",\"replays\":" + std::to_string(replays_) + ",\"callbacks\":" + std::to_string(callbacks_) + "}";
    }

    /// Books a ticket: {status, json}.
    std::pair<int, std::string> book(const std::string& itemCode, const std::string& applicantId,
                                     const std::string& clientRef) {
        std::lock_guard lock(mutex_);
        if (!clientRef.empty()) {
            if (auto it = byRef_.find(clientRef); it != byRef_.end()) {
                ++replays_;
                return {200, toJson(tickets_.at(it->second), true)};
            }
        }
        auto item = items_.find(itemCode);
        if (item == items_.end())
            return {404, R"({"code":"ITEM_NOT_FOUND","message":"无此办理事项: )" + itemCode + "\"}"};
        int& issued = issued_[itemCode];
        if (issued >= item->second.slots) return {409, R"({"code":"NO_SLOTS","message":"今日号源已满"})"};
        Ticket t;
        t.id = "T" + std::to_string(100000 + tickets_.size() + 1);
        char number[16];
        ++issued;
        std::snprintf(number, sizeof number, "%c%03d", item->second.prefix, issued);
        t.number = number;
        t.window = item->second.window;
        t.itemCode = itemCode;
        t.applicantId = applicantId;
        t.estimatedAt = iso(Poco::Timestamp() + Poco::Timespan(0, 0, 10 * issued, 0, 0));
        tickets_[t.id] = t;
        if (!clientRef.empty()) byRef_[clientRef] = t.id;
        return {201, toJson(t, false)};
    }

    std::pair<int, std::string> ticket(const std::string& id) const {
        std::lock_guard lock(mutex_);
        auto it = tickets_.find(id);
        if (it == tickets_.end()) return {404, R"({"code":"TICKET_NOT_FOUND","message":"无此号"})"};
        return {200, toJson(it->second, false)};
    }

    /// Moves the ticket to event's state and calls the hub back.
    std::string callback(const std::string& ticketId, const std::string& event, std::string eventId, bool tamper,
                         long offset, std::string url) {
        if (url.empty()) url = callbackUrl_;
        std::string body;
        {
            std::lock_guard lock(mutex_);
            auto it = tickets_.find(ticketId);
            if (it == tickets_.end()) return R"({"status":0,"body":"no such ticket"})";
            it->second.state = event == "done" ? "done" : "serving";
            if (eventId.empty()) eventId = "E" + std::to_string(++eventSeq_);
            const Ticket& t = it->second;
            body = "{\"event_id\":" + jsonString(eventId) + ",\"event\":" + jsonString(event) +
                   ",\"ticket_id\":" + jsonString(t.id) + ",\"ticket_no\":" + jsonString(t.number) +
                   ",\"window\":" + jsonString(t.window) + ",\"at\":" + jsonString(iso(Poco::Timestamp())) +
                   (event == "done" ? ",\"result\":\"completed\"" : "") + "}";
            ++callbacks_;
        }
        // Outside the lock: the hub may take its time.
        auto d = hub::sim::deliverWebhook(url + "/" + event, secret_, body, offset, tamper);
        return "{\"status\":" + std::to_string(d.status) + ",\"body\":" + jsonString(d.body) +
               ",\"event_id\":" + jsonString(eventId) + "}";
    }

    long requests_ = 0, replays_ = 0, callbacks_ = 0;

private:
    const std::string apiKey_, callbackUrl_;
    std::string secret_;
    std::map<std::string, Item> items_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    Mode mode_ = Mode::None;
    int delayMs_ = 2000;
    bool stopping_ = false;
    long eventSeq_ = 0;
    std::map<std::string, Ticket> tickets_;
    std::map<std::string, std::string> byRef_;
    std::map<std::string, int> issued_;
};

Poco::JSON::Object::Ptr parseObject(const std::string& body) {
    try {
        auto v = Poco::JSON::Parser().parse(body);
        if (v.type() == typeid(Poco::JSON::Object::Ptr)) return v.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
    }
    return nullptr;
}

class Handler : public Poco::Net::HTTPRequestHandler {
public:
    explicit Handler(Simulator& sim) : sim_(sim) {}

    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
        try {
            route(request, response);
        } catch (const std::exception& e) {
            if (!response.sent()) send(response, 500, "application/json", "{\"code\":\"ERROR\",\"message\":" + jsonString(e.what()) + "}");
        }
    }

private:
    void route(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
        const std::string path = Poco::URI(request.getURI()).getPath();
        std::string body;
        if (!hub::sim::readBody(request, body, 64 * 1024))
            return send(response, 413, "application/json", R"({"code":"TOO_LARGE"})");
        if (path == "/health") return send(response, 200, "application/json", R"({"status":"ok"})");
        if (path == "/admin/stats") return send(response, 200, "application/json", sim_.stats());
        if (path == "/admin/mode") return setMode(body, response);
        if (path == "/admin/callback") return callback(body, response);
        if (path.rfind("/api/", 0) != 0) return send(response, 404, "application/json", R"({"code":"NO_ROUTE"})");

        sim_.count(&Simulator::requests_);
        int delayMs = 0;
        switch (sim_.mode(delayMs)) {
        case Mode::None: break;
        case Mode::Error500: return send(response, 500, "text/html", "<html><body>Internal Server Error</body></html>");
        case Mode::Slow: sim_.wait(delayMs, false); break;
        case Mode::Hang:
            sim_.wait(600000, true);
            return send(response, 503, "text/plain", "hang ended");
        case Mode::BadJson: return send(response, 201, "application/json", R"({"ticket_id":"T1","ticket_no":)");
        case Mode::Truncated: {
            // Content-Length promises more than is sent: the connection ends early.
            response.setKeepAlive(false);
            response.setStatus(Poco::Net::HTTPResponse::HTTP_CREATED);
            response.setContentType("application/json");
            response.setContentLength(200);
            response.send() << R"({"ticket_id":"T1")";
            return;
        }
        }
        if (request.get("X-Api-Key", "") != sim_.apiKey())
            return send(response, 401, "application/json", R"({"code":"UNAUTHORIZED","message":"API key missing or wrong"})");
        if (path == "/api/v1/tickets" && request.getMethod() == "POST") {
            auto input = parseObject(body);
            if (!input) return send(response, 400, "application/json", R"({"code":"BAD_REQUEST","message":"body must be a JSON object"})");
            const std::string item = input->optValue<std::string>("item_code", "");
            const std::string applicant = input->optValue<std::string>("applicant_id", "");
            if (item.empty() || applicant.empty())
                return send(response, 400, "application/json", R"({"code":"BAD_REQUEST","message":"item_code and applicant_id are required"})");
            auto [status, json] = sim_.book(item, applicant, input->optValue<std::string>("client_ref", ""));
            return send(response, status, "application/json; charset=utf-8", json);
        }
        if (path.rfind("/api/v1/tickets/", 0) == 0 && request.getMethod() == "GET") {
            auto [status, json] = sim_.ticket(path.substr(16));
            return send(response, status, "application/json; charset=utf-8", json);
        }
        send(response, 404, "application/json", R"({"code":"NO_ROUTE"})");
    }

    void setMode(const std::string& body, Poco::Net::HTTPServerResponse& response) {
        static const std::map<std::string, Mode> modes = {{"none", Mode::None},         {"500", Mode::Error500},
                                                          {"slow", Mode::Slow},         {"hang", Mode::Hang},
                                                          {"bad_json", Mode::BadJson},  {"truncated", Mode::Truncated}};
        auto input = parseObject(body);
        auto it = input ? modes.find(input->optValue<std::string>("mode", "")) : modes.end();
        if (it == modes.end()) return send(response, 400, "text/plain", "mode: none, 500, slow, hang, bad_json, truncated");
        sim_.setMode(it->second, input->optValue<int>("delay_ms", 2000));
        send(response, 200, "application/json", "{}");
    }

    void callback(const std::string& body, Poco::Net::HTTPServerResponse& response) {
        auto input = parseObject(body);
        if (!input) return send(response, 400, "text/plain", "a JSON object");
        const std::string event = input->optValue<std::string>("event", "");
        if (event != "now_serving" && event != "done") return send(response, 400, "text/plain", "event: now_serving or done");
        send(response, 200, "application/json",
             sim_.callback(input->optValue<std::string>("ticket_id", ""), event, input->optValue<std::string>("event_id", ""),
                           input->optValue<bool>("tamper", false), input->optValue<long>("timestamp_offset", 0),
                           input->optValue<std::string>("callback_url", "")));
    }

    Simulator& sim_;
};

}  // namespace

int main(int argc, char** argv) {
    hub::sim::blockStopSignals();
    const std::string program = "hub-sim-queue-ticket";
    hub::sim::Options options;
    int exitCode = 0;
    if (!hub::sim::parseOptions(program, "[--api-key K] [--callback-url URL] [--webhook-secret-file F] [--slots 1000]",
                                argc, argv, {"api-key", "callback-url", "webhook-secret-file", "slots"}, options, exitCode))
        return exitCode;
    try {
        Simulator sim(options);
        return hub::sim::serve(program, options, [&sim] { return new Handler(sim); }, [&sim] { sim.stop(); });
    } catch (const std::exception& e) {
        std::cerr << program << ": " << e.what() << std::endl;
        return 2;
    }
}
