#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <chrono>
#include <thread>

namespace {

class Testkit : public campushub::Plugin {
public:
    Testkit(campushub::Host& host, std::string_view) : Plugin(host) {
        operation("echo", "Returns its input", [](campushub::Call&, std::string_view in) { return std::string(in); });
        operation("caller", "Returns the caller", [](campushub::Call& call, std::string_view) { return call.callerJson(); });
        operation("sleep", "Sleeps", [](campushub::Call&, std::string_view in) {
            auto o = campushub::json::parseObject(in);
            std::this_thread::sleep_for(std::chrono::milliseconds(campushub::json::optionalInt(o, "ms")));
            return std::string(R"({"slept":true})");
        });
        operation("fail", "Throws", [](campushub::Call&, std::string_view in) -> std::string {
            auto o = campushub::json::parseObject(in);
            throw campushub::Error(static_cast<ch_status>(campushub::json::optionalInt(o, "status", CH_ERR_INTERNAL)),
                                   campushub::json::optionalString(o, "detail", "failed as asked"));
        });
        operation("throw_std", "Throws std", [](campushub::Call&, std::string_view) -> std::string {
            throw std::runtime_error("a std::runtime_error from the plugin");
        });
        operation("bad_json", "Not JSON", [](campushub::Call&, std::string_view) { return std::string("{not json"); });
        // ABI 1.1: what the call carries, and an HTTP request that passes the key
        // on as a vendor's Idempotency-Key header.
        operation("context", "The call's idempotency key and traceparent", [](campushub::Call& call, std::string_view) {
            return "{\"idempotency_key\":" + campushub::jsonString(call.idempotencyKey()) +
                   ",\"traceparent\":" + campushub::jsonString(call.traceParent()) + "}";
        });
        operation("fetch", "POSTs to {\"url\"} with the call's Idempotency-Key", [this](campushub::Call& call,
                                                                                     std::string_view in) {
            auto o = campushub::json::parseObject(in);
            std::string headers;
            if (!call.idempotencyKey().empty())
                headers = "Idempotency-Key: " + std::string(call.idempotencyKey()) + "\r\n";
            auto r = this->host().http(&call, "POST", campushub::json::requireString(o, "url"), "{}", headers);
            return "{\"status\":" + std::to_string(r.status) + "}";
        });
        operation("config", "Config value", [this](campushub::Call&, std::string_view in) {
            auto o = campushub::json::parseObject(in);
            auto v = this->host().config(campushub::json::requireString(o, "key"));
            if (!v) throw campushub::NotFound("no such config key");
            return "{\"value\":" + campushub::jsonString(*v) + "}";
        });
    }
};

}  // namespace

#ifndef TESTKIT_VERSION
#define TESTKIT_VERSION "0.1.0"
#endif
CAMPUSHUB_PLUGIN(Testkit, "testkit", TESTKIT_VERSION)
