// "services": a test plugin that reaches every host service of ABI 1.0 beyond
// log and config (emit_event, kv_get/kv_put/kv_delete, soap_call) and records
// the events it receives, for the host's tests. Built twice: "services" (which
// subscribes to edu.campus.hub.test.*) and "services_b" (which provisions
// identities), so two plugin names share one database.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <campushub/plugin.hpp>

#include <sstream>
#include <mutex>
#include <stdexcept>
#include <vector>

#ifndef SERVICES_NAME
#define SERVICES_NAME "services"
#endif

namespace {

// This test plugin builds its JSON with Poco (linked into it; the SDK's
// json.hpp needs none).
Poco::JSON::Object::Ptr parseObject(std::string_view input) {
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var v = parser.parse(std::string(input));
        if (v.type() != typeid(Poco::JSON::Object::Ptr)) throw campushub::InvalidArgument("input must be a JSON object");
        return v.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        throw campushub::InvalidArgument("input is not valid JSON: " + e.message());
    }
}

std::string requireString(const Poco::JSON::Object::Ptr& o, const std::string& field) {
    if (!o->has(field) || !o->get(field).isString()) throw campushub::InvalidArgument("missing field: " + field);
    return o->getValue<std::string>(field);
}

std::string object(const Poco::JSON::Object& o) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(o, out);
    return out.str();
}

class Services : public campushub::Plugin {
public:
    Services(campushub::Host& host, std::string_view) : Plugin(host) {
        const ch_host_api* api = host.api();
        ch_host* handle = host.handle();
        operation("services", "Which optional host services are present", [api](campushub::Call&, std::string_view) {
            Poco::JSON::Object o;
            o.set("emit_event", api->emit_event != nullptr);
            o.set("kv", api->kv_get != nullptr && api->kv_put != nullptr && api->kv_delete != nullptr);
            o.set("soap_call", api->soap_call != nullptr);
            o.set("http_request", api->http_request != nullptr);
            o.set("identity_submit", CH_HOST_HAS(api, identity_submit));
            return object(o);
        });
        // ABI 1.2: the input goes to identity_submit as it is; the hub's summary comes back.
        operation("identity", "Hands its input to identity_submit and answers the hub's summary",
                  [&host](campushub::Call& call, std::string_view in) { return host.identitySubmit(&call, in); });
        operation("emit", "Emits {\"raw\": text} as an event; answers the status",
                  [api, handle](campushub::Call&, std::string_view in) {
                      auto o = parseObject(in);
                      if (!api->emit_event) throw campushub::Unavailable("no emit_event here");
                      std::string raw = o->optValue<std::string>("raw", "");
                      Poco::JSON::Object out;
                      out.set("status", static_cast<int>(api->emit_event(handle, campushub::buffer(raw))));
                      return object(out);
                  });
        operation("kv_put", "Stores {\"key\", \"value\"}; answers the status",
                  [api, handle](campushub::Call&, std::string_view in) {
                      auto o = parseObject(in);
                      if (!api->kv_put) throw campushub::Unavailable("no key-value state here");
                      std::string key = o->optValue<std::string>("key", ""),
                                  value = o->optValue<std::string>("value", "");
                      if (o->has("repeat")) {  // a large value without a large request
                          std::string unit = value;
                          for (int i = 1; i < o->getValue<int>("repeat"); ++i) value += unit;
                      }
                      Poco::JSON::Object out;
                      out.set("status",
                              static_cast<int>(api->kv_put(handle, campushub::buffer(key), campushub::buffer(value))));
                      return object(out);
                  });
        operation("kv_get", "Reads {\"key\"}", [api, handle](campushub::Call&, std::string_view in) {
            auto o = parseObject(in);
            if (!api->kv_get) throw campushub::Unavailable("no key-value state here");
            std::string key = o->optValue<std::string>("key", "");
            campushub::detail::Captured c;
            Poco::JSON::Object out;
            bool found = api->kv_get(handle, campushub::buffer(key), c.sink()) && c.called && c.status == CH_OK;
            out.set("found", found);
            if (found) {
                out.set("value", c.data);
                out.set("length", static_cast<Poco::UInt64>(c.data.size()));
            }
            return object(out);
        });
        operation("kv_delete", "Deletes {\"key\"}; answers the status",
                  [api, handle](campushub::Call&, std::string_view in) {
                      auto o = parseObject(in);
                      if (!api->kv_delete) throw campushub::Unavailable("no key-value state here");
                      std::string key = o->optValue<std::string>("key", "");
                      Poco::JSON::Object out;
                      out.set("status", static_cast<int>(api->kv_delete(handle, campushub::buffer(key))));
                      return object(out);
                  });
        operation("soap", "Calls {\"endpoint\", \"action\", \"envelope\"} through soap_call",
                  [api, handle](campushub::Call& call, std::string_view in) {
                      auto o = parseObject(in);
                      if (!api->soap_call) throw campushub::Unavailable("no soap_call here");
                      std::string endpoint = requireString(o, "endpoint");
                      std::string action = o->optValue<std::string>("action", "");
                      std::string envelope = requireString(o, "envelope");
                      campushub::detail::Captured c;
                      api->soap_call(handle, call.handle(), campushub::buffer(endpoint), campushub::buffer(action),
                                     campushub::buffer(envelope), c.sink());
                      if (!c.called) throw campushub::Error(CH_ERR_INTERNAL, "soap_call gave no answer");
                      if (c.status != CH_OK) throw campushub::Error(c.status, c.data);
                      Poco::JSON::Object out;
                      out.set("envelope", c.data);
                      return object(out);
                  });
        // Host services called with what a careless plugin may pass: bytes that
        // are not UTF-8, a NUL, huge texts, hostile config keys. Straight through
        // the C table, so the host sees exactly those bytes.
        operation("log", "Logs {\"message\", \"repeat\": N, \"raw\": true} at error level",
                  [api, handle](campushub::Call&, std::string_view in) {
                      auto o = parseObject(in);
                      std::string message = o->optValue<std::string>("message", "");
                      if (o->has("repeat")) {
                          std::string unit = message;
                          for (int i = 1; i < o->getValue<int>("repeat"); ++i) message += unit;
                      }
                      if (o->optValue<bool>("raw", false)) message += std::string("\xff\xfe\xc0\x80\0tail", 9);
                      api->log(handle, CH_LOG_ERROR, campushub::buffer(message));
                      Poco::JSON::Object out;
                      out.set("logged", static_cast<Poco::UInt64>(message.size()));
                      return object(out);
                  });
        operation("config", "Looks up {\"key\", \"raw\": true} with config_get",
                  [api, handle](campushub::Call&, std::string_view in) {
                      auto o = parseObject(in);
                      std::string key = o->optValue<std::string>("key", "");
                      if (o->optValue<bool>("raw", false)) key += std::string("\xff\0\xc3", 3);
                      campushub::detail::Captured c;
                      Poco::JSON::Object out;
                      bool found = api->config_get(handle, campushub::buffer(key), c.sink()) && c.called &&
                                   c.status == CH_OK;
                      out.set("found", found);
                      if (found) out.set("value", c.data);
                      return object(out);
                  });
        // ABI 1.1: config_lookup / kv_lookup (absent apart from failed) and
        // last_error, straight through the C table.
        operation("lookup", "Looks {\"key\"} up in {\"in\": \"config\"|\"kv\"}; answers status and value or error",
                  [api, handle](campushub::Call&, std::string_view in) {
                      auto o = parseObject(in);
                      std::string key = o->optValue<std::string>("key", "");
                      bool kv = o->optValue<std::string>("in", "") == "kv";
                      if (kv ? !CH_HOST_HAS(api, kv_lookup) : !CH_HOST_HAS(api, config_lookup))
                          throw campushub::Unavailable("no lookup service here");
                      campushub::detail::Captured c;
                      ch_status s = kv ? api->kv_lookup(handle, campushub::buffer(key), c.sink())
                                       : api->config_lookup(handle, campushub::buffer(key), c.sink());
                      Poco::JSON::Object out;
                      out.set("status", static_cast<int>(s));
                      out.set("answered", c.called);
                      out.set(s == CH_OK ? "value" : "error", c.data);
                      return object(out);
                  });
        operation("put_and_explain", "kv_put {\"key\", \"value\"}; answers the status and last_error",
                  [api, handle](campushub::Call&, std::string_view in) {
                      auto o = parseObject(in);
                      if (!api->kv_put || !CH_HOST_HAS(api, last_error)) throw campushub::Unavailable("not here");
                      std::string key = o->optValue<std::string>("key", ""), value = o->optValue<std::string>("value", "");
                      ch_status s = api->kv_put(handle, campushub::buffer(key), campushub::buffer(value));
                      Poco::JSON::Object out;
                      out.set("status", static_cast<int>(s));
                      out.set("error", std::string(campushub::view(api->last_error(handle))));
                      return object(out);
                  });
        operation("events", "The events received so far", [this](campushub::Call&, std::string_view) {
            std::lock_guard lock(mutex_);
            Poco::JSON::Array types;
            for (const auto& t : types_) types.add(t);
            Poco::JSON::Object out;
            out.set("types", types);
            out.set("last", last_);
            return object(out);
        });
    }

    void onEvent(std::string_view eventJson) override {
        auto o = parseObject(eventJson);
        std::string type = o->optValue<std::string>("type", "");
        if (type == "edu.campus.hub.test.throw")
            throw std::runtime_error("refusing edu.campus.hub.test.throw as asked");
        std::lock_guard lock(mutex_);
        types_.push_back(type);
        last_ = std::string(eventJson);
    }

private:
    std::mutex mutex_;
    std::vector<std::string> types_;
    std::string last_;
};

}  // namespace

CAMPUSHUB_PLUGIN(Services, SERVICES_NAME, "1.0.0")
