// hub-sim-kiosk: a stand-in for the self-service kiosks' vendor system (自助终端).
// A print job is submitted over HTTP/JSON (bearer API token); the kiosk prints it
// at once and reports "printing" then "printed" (or "failed") to the job's
// callback_url as signed webhooks, redelivering a callback the hub did not take.
// The vendor does NOT de-duplicate: every accepted job prints. It keeps a free-form
// "reference" per job and finds jobs by it, which is what the plugin builds on.
//
//   hub-sim-kiosk [common options] [--api-token T] [--webhook-secret-file F] [--print-ms 100]
//
// Endpoints (Authorization: Bearer T on /v2/*):
//   POST /v2/print-jobs        {"kiosk_id","document_type","holder_id","holder_name"?,"copies"?,
//                               "reference"?,"callback_url"?} -> 202 {"job_id","status":"queued",...}
//                              400 BAD_REQUEST, 404 KIOSK_NOT_FOUND, 409 KIOSK_OFFLINE {"code","message"}
//   GET  /v2/print-jobs?reference=R   {"jobs":[...]}
//   GET  /v2/print-jobs/{id}   the job
//   GET  /health, GET /admin/stats {"requests","jobs","prints","callbacks","redeliveries","delivered"}
//                              (delivered: callbacks the hub answered 2xx)
//   POST /admin/mode           {"mode":"none|500|slow|hang|bad_json|truncated|paper_out","delay_ms":N}
// In slow mode the job is accepted (and printed) after the delay, before answering:
// a caller that gave up meanwhile has still printed a page.
#include "SimServer.h"
#include "Webhook.h"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

namespace {

using hub::sim::jsonString;
using hub::sim::send;

enum class Mode { None, Error500, Slow, Hang, BadJson, Truncated, PaperOut };

struct Job {
    std::string id, kioskId, documentType, holderId, reference, status = "queued", reason;
    int copies = 1;
};

std::string toJson(const Job& j) {
    return "{\"job_id\":" + jsonString(j.id) + ",\"kiosk_id\":" + jsonString(j.kioskId) +
           ",\"document_type\":" + jsonString(j.documentType) + ",\"holder_id\":" + jsonString(j.holderId) +
           ",\"copies\":" + std::to_string(j.copies) + ",\"reference\":" + jsonString(j.reference) +
           ",\"status\":" + jsonString(j.status) + (j.reason.empty() ? "" : ",\"reason\":" + jsonString(j.reason)) + "}";
}

class Simulator {
public:
    explicit Simulator(const hub::sim::Options& o)
        : token_(o.ownString("api-token", "kiosk-token")), printMs_(o.ownInt("print-ms", 100, 0, 60000)) {
        if (auto file = o.ownString("webhook-secret-file", ""); !file.empty()) {
            secret_ = hub::sim::readSecretFile(file);
            if (secret_.empty()) throw std::invalid_argument("--webhook-secret-file: cannot read " + file);
        }
        dispatcher_ = std::thread([this] { dispatch(); });
    }
    ~Simulator() {
        stop();
        dispatcher_.join();
    }

    const std::string& token() const { return token_; }
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
    void countRequest() {
        std::lock_guard lock(mutex_);
        ++requests_;
    }
    std::string stats() const {
        std::lock_guard lock(mutex_);
        return "{\"requests\":" + std::to_string(requests_) + ",\"jobs\":" + std::to_string(jobs_.size()) +
               ",\"prints\":" + std::to_string(prints_) + ",\"callbacks\":" + std::to_string(callbacks_) +
               ",\"redeliveries\":" + std::to_string(redeliveries_) + ",\"delivered\":" + std::to_string(delivered_) + "}";
    }

    std::pair<int, std::string> submit(Job job, const std::string& callbackUrl, bool paperOut) {
        std::lock_guard lock(mutex_);
        if (job.kioskId == "K-ADM-02") return {409, R"({"code":"KIOSK_OFFLINE","message":"终端离线"})"};
        if (job.kioskId != "K-LIB-01" && job.kioskId != "K-DORM-03")
            return {404, R"({"code":"KIOSK_NOT_FOUND","message":"无此终端: )" + job.kioskId + "\"}"};
        job.id = "J" + std::to_string(700000 + jobs_.size() + 1);
        jobs_[job.id] = job;
        // The kiosk prints as the job arrives; with no paper it fails instead.
        if (!paperOut) prints_ += job.copies;
        if (!callbackUrl.empty()) {
            const auto now = std::chrono::steady_clock::now();
            queue_.push_back({callbackUrl, job.id, "printing", "", now, 0});
            queue_.push_back({callbackUrl, job.id, paperOut ? "failed" : "printed", paperOut ? "paper_out" : "",
                              now + std::chrono::milliseconds(printMs_), 0});
            changed_.notify_all();
        }
        return {202, toJson(job)};
    }

    std::string byReference(const std::string& reference) const {
        std::lock_guard lock(mutex_);
        std::string out = "{\"jobs\":[";
        bool first = true;
        for (const auto& [id, j] : jobs_)
            if (!reference.empty() && j.reference == reference) {
                out += (first ? "" : ",") + toJson(j);
                first = false;
            }
        return out + "]}";
    }

    std::pair<int, std::string> job(const std::string& id) const {
        std::lock_guard lock(mutex_);
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return {404, R"({"code":"JOB_NOT_FOUND","message":"无此任务"})"};
        return {200, toJson(it->second)};
    }

private:
    struct Callback {
        std::string url, jobId, status, reason;
        std::chrono::steady_clock::time_point due;
        int attempt;
    };

    // Delivers callbacks in order of due time; one the hub does not answer 2xx is
    // delivered again with the same event id (at most 5 times), as vendors do.
    void dispatch() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            if (queue_.empty()) {
                changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
                continue;
            }
            auto next = std::min_element(queue_.begin(), queue_.end(),
                                         [](const Callback& a, const Callback& b) { return a.due < b.due; });
            if (next->due > std::chrono::steady_clock::now()) {
                changed_.wait_until(lock, next->due);
                continue;
            }
            Callback c = *next;
            queue_.erase(next);
            auto j = jobs_.find(c.jobId);
            if (j == jobs_.end()) continue;
            j->second.status = c.status;
            j->second.reason = c.reason;
            const std::string eventId = c.jobId + "-" + c.status;
            const std::string body = "{\"event_id\":" + jsonString(eventId) + ",\"job_id\":" + jsonString(c.jobId) +
                                     ",\"status\":" + jsonString(c.status) +
                                     (c.reason.empty() ? "" : ",\"reason\":" + jsonString(c.reason)) + ",\"at\":" +
                                     jsonString(Poco::DateTimeFormatter::format(Poco::Timestamp(),
                                                                               Poco::DateTimeFormat::ISO8601_FORMAT)) +
                                     "}";
            ++callbacks_;
            if (c.attempt > 0) ++redeliveries_;
            lock.unlock();
            auto d = hub::sim::deliverWebhook(c.url, secret_, body);
            lock.lock();
            if (d.status >= 200 && d.status < 300) ++delivered_;
            if ((d.status < 200 || d.status >= 300) && c.attempt < 4) {
                c.attempt += 1;
                c.due = std::chrono::steady_clock::now() + std::chrono::milliseconds(100 << c.attempt);
                queue_.push_back(c);
            }
        }
    }

    const std::string token_;
    const int printMs_;
    std::string secret_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    Mode mode_ = Mode::None;
    int delayMs_ = 2000;
    bool stopping_ = false;
    long requests_ = 0, prints_ = 0, callbacks_ = 0, redeliveries_ = 0, delivered_ = 0;
    std::map<std::string, Job> jobs_;
    std::deque<Callback> queue_;
    std::thread dispatcher_;
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
            if (!response.sent())
                send(response, 500, "application/json", "{\"code\":\"ERROR\",\"message\":" + jsonString(e.what()) + "}");
        }
    }

private:
    void route(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
        const Poco::URI uri(request.getURI());
        const std::string& path = uri.getPath();
        std::string body;
        if (!hub::sim::readBody(request, body, 64 * 1024))
            return send(response, 413, "application/json", R"({"code":"TOO_LARGE"})");
        if (path == "/health") return send(response, 200, "application/json", R"({"status":"ok"})");
        if (path == "/admin/stats") return send(response, 200, "application/json", sim_.stats());
        if (path == "/admin/mode") return setMode(body, response);
        if (path.rfind("/v2/", 0) != 0) return send(response, 404, "application/json", R"({"code":"NO_ROUTE"})");

        sim_.countRequest();
        if (request.get("Authorization", "") != "Bearer " + sim_.token())
            return send(response, 401, "application/json", R"({"code":"UNAUTHORIZED","message":"API token missing or wrong"})");
        int delayMs = 0;
        const Mode mode = sim_.mode(delayMs);
        switch (mode) {
        case Mode::None:
        case Mode::PaperOut:
        case Mode::Slow: break;
        case Mode::Error500: return send(response, 500, "text/plain", "Internal Server Error");
        case Mode::Hang:
            sim_.wait(600000, true);
            return send(response, 503, "text/plain", "hang ended");
        case Mode::BadJson: return send(response, 202, "application/json", "<html>not json</html>");
        case Mode::Truncated:  // Content-Length promises more than is sent, then the connection closes
            response.setKeepAlive(false);
            response.setStatus(Poco::Net::HTTPResponse::HTTP_ACCEPTED);
            response.setContentType("application/json");
            response.setContentLength(300);
            response.send() << R"({"job_id":"J)";
            return;
        }
        if (path == "/v2/print-jobs" && request.getMethod() == "POST") {
            auto input = parseObject(body);
            if (!input) return send(response, 400, "application/json", R"({"code":"BAD_REQUEST","message":"a JSON object"})");
            Job job;
            job.kioskId = input->optValue<std::string>("kiosk_id", "");
            job.documentType = input->optValue<std::string>("document_type", "");
            job.holderId = input->optValue<std::string>("holder_id", "");
            job.reference = input->optValue<std::string>("reference", "");
            job.copies = input->optValue<int>("copies", 1);
            if (job.kioskId.empty() || job.holderId.empty() || job.copies < 1 || job.copies > 5 ||
                (job.documentType != "enrolment_certificate" && job.documentType != "transcript"))
                return send(response, 400, "application/json",
                            R"({"code":"BAD_REQUEST","message":"kiosk_id, holder_id, document_type (enrolment_certificate|transcript), copies 1..5"})");
            // Slow: the job is taken (and printed) late, and answered later still.
            if (mode == Mode::Slow) sim_.wait(delayMs / 2, false);
            auto [status, json] = sim_.submit(job, input->optValue<std::string>("callback_url", ""), mode == Mode::PaperOut);
            if (mode == Mode::Slow) sim_.wait(delayMs / 2, false);
            return send(response, status, "application/json; charset=utf-8", json);
        }
        if (path == "/v2/print-jobs" && request.getMethod() == "GET") {
            std::string reference;
            for (const auto& [k, v] : uri.getQueryParameters())
                if (k == "reference") reference = v;
            return send(response, 200, "application/json; charset=utf-8", sim_.byReference(reference));
        }
        if (path.rfind("/v2/print-jobs/", 0) == 0 && request.getMethod() == "GET") {
            auto [status, json] = sim_.job(path.substr(15));
            return send(response, status, "application/json; charset=utf-8", json);
        }
        send(response, 404, "application/json", R"({"code":"NO_ROUTE"})");
    }

    void setMode(const std::string& body, Poco::Net::HTTPServerResponse& response) {
        static const std::map<std::string, Mode> modes = {
            {"none", Mode::None},        {"500", Mode::Error500},       {"slow", Mode::Slow},      {"hang", Mode::Hang},
            {"bad_json", Mode::BadJson}, {"truncated", Mode::Truncated}, {"paper_out", Mode::PaperOut}};
        auto input = parseObject(body);
        auto it = input ? modes.find(input->optValue<std::string>("mode", "")) : modes.end();
        if (it == modes.end()) return send(response, 400, "text/plain", "mode: none, 500, slow, hang, bad_json, truncated, paper_out");
        sim_.setMode(it->second, input->optValue<int>("delay_ms", 2000));
        send(response, 200, "application/json", "{}");
    }

    Simulator& sim_;
};

}  // namespace

int main(int argc, char** argv) {
    hub::sim::blockStopSignals();
    const std::string program = "hub-sim-kiosk";
    hub::sim::Options options;
    int exitCode = 0;
    if (!hub::sim::parseOptions(program, "[--api-token T] [--webhook-secret-file F] [--print-ms 100]", argc, argv,
                                {"api-token", "webhook-secret-file", "print-ms"}, options, exitCode))
        return exitCode;
    try {
        Simulator sim(options);
        return hub::sim::serve(program, options, [&sim] { return new Handler(sim); }, [&sim] { sim.stop(); });
    } catch (const std::exception& e) {
        std::cerr << program << ": " << e.what() << std::endl;
        return 2;
    }
}
