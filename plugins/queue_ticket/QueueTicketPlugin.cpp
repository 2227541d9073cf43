// Reference adapter for the counter hall's queue-ticket system (排队叫号): the model
// for vendors whose system calls back. Booking goes out through the hub's HTTP
// service; the hall's "now serving" and "done" calls come in through the hub's
// webhook route (signed by the vendor, checked by the hub) as invokes of the two
// operations the manifest marks webhook="true". Each ticket's state is kept in the
// hub's key-value store and every change is published as an event for the portal.
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <Poco/DigestEngine.h>
#include <Poco/FileStream.h>
#include <Poco/SHA1Engine.h>
#include <Poco/StreamCopier.h>

#include <cctype>
#include <string>

namespace {

using Object = Poco::JSON::Object::Ptr;

std::string sha1Hex(const std::string& text) {
    Poco::SHA1Engine sha1;
    sha1.update(text);
    return Poco::DigestEngine::digestToHex(sha1.digest());
}

/// A field made of letters, digits, '-' and '_' only (ids that go into URLs and keys).
std::string requireToken(const Object& input, const std::string& field, std::size_t maxLength = 64) {
    std::string value = campushub::json::requireString(input, field, maxLength);
    for (char c : value)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
            throw campushub::InvalidArgument(field + " may hold only letters, digits, '-' and '_'");
    return value;
}

std::string optionalToken(const Object& input, const std::string& field) {
    return input->has(field) ? requireToken(input, field) : std::string();
}

/// The vendor's answer as a JSON object; 502 when it is not one.
Object vendorObject(const std::string& body) {
    try {
        return campushub::json::parseObject(body);
    } catch (const campushub::Error&) {
        throw campushub::Error(CH_ERR_INTERNAL, "the queue-ticket system answered with something that is not a JSON "
                                                "object: " + body.substr(0, 200));
    }
}

std::string vendorString(const Object& o, const std::string& field) {
    if (!o->has(field) || !o->get(field).isString() || o->getValue<std::string>(field).empty())
        throw campushub::Error(CH_ERR_INTERNAL, "the queue-ticket system's answer lacks " + field);
    return o->getValue<std::string>(field);
}

class QueueTicketPlugin : public campushub::Plugin {
public:
    QueueTicketPlugin(campushub::Host& host, std::string_view /*config*/) : Plugin(host) {
        baseUrl_ = host.config("base_url").value_or("");
        while (!baseUrl_.empty() && baseUrl_.back() == '/') baseUrl_.pop_back();
        if (baseUrl_.rfind("http://", 0) != 0 && baseUrl_.rfind("https://", 0) != 0)
            throw campushub::InvalidArgument("config base_url must be an http:// or https:// URL");
        std::string key;
        if (auto file = host.config("api_key_file"); file && !file->empty()) {
            try {
                Poco::FileInputStream in(*file);
                Poco::StreamCopier::copyToString(in, key);
            } catch (const Poco::Exception& e) {
                throw campushub::InvalidArgument("config api_key_file cannot be read: " + e.displayText());
            }
            while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
        } else {
            key = host.config("api_key").value_or("");
        }
        if (key.empty() || key.find_first_of("\r\n") != std::string::npos)
            throw campushub::InvalidArgument("config api_key_file (or api_key) must hold one line");
        headers_ = "Content-Type: application/json\r\nX-Api-Key: " + key + "\r\n";

        operation("book_ticket", "Books a ticket for a counter item (取号)",
                  [this](campushub::Call& call, std::string_view input) { return book(call, input); });
        operation("ticket_status", "Tells where a booked ticket stands",
                  [this](campushub::Call&, std::string_view input) { return status(input); });
        operation("now_serving", "Callback: a ticket is called to its window (叫号)",
                  [this](campushub::Call&, std::string_view input) { return callback(input, "serving"); });
        operation("done", "Callback: a ticket's business is done (办结)",
                  [this](campushub::Call&, std::string_view input) { return callback(input, "done"); });
    }

private:
    // The vendor de-duplicates by client_ref: the same ref on every retry of one
    // request gets the same ticket. It is derived from the caller and their key, so
    // one caller's key never answers another's booking.
    // TODO(ABI 1.1): take the call's idempotency key from the host instead of the input.
    std::string book(campushub::Call& call, std::string_view input) {
        auto request = campushub::json::parseObject(input);
        const std::string applicant = requireToken(request, "applicant_id", 32);
        const std::string item = requireToken(request, "item_code", 16);
        const std::string application = optionalToken(request, "application_id");
        std::string body = "{\"item_code\":" + campushub::jsonString(item) +
                           ",\"applicant_id\":" + campushub::jsonString(applicant);
        if (request->has("idempotency_key")) {
            const std::string key = campushub::json::requireString(request, "idempotency_key", 255);
            for (char c : key)
                if (c < 0x21 || c > 0x7e) throw campushub::InvalidArgument("idempotency_key must be printable ASCII");
            auto caller = campushub::json::parseObject(call.callerJson());
            body += ",\"client_ref\":" + campushub::jsonString("hub-" + sha1Hex(caller->optValue<std::string>(
                                                                            "subject", "") + "\n" + key));
        }
        body += "}";
        auto r = host().http(&call, "POST", baseUrl_ + "/api/v1/tickets", body, headers_);
        if (r.status != 200 && r.status != 201) throw vendorError(r);
        Object ticket = vendorObject(r.body);
        const std::string id = vendorString(ticket, "ticket_id");
        const bool replayed = r.status == 200;
        // What the callbacks need to find their way back to the applicant and the
        // application. A replayed booking keeps the state the first one stored.
        if (!replayed || !host().kvGet("ticket:" + id)) {
            Poco::JSON::Object state;
            state.set("applicant_id", applicant);
            state.set("application_id", application);
            state.set("ticket_no", vendorString(ticket, "ticket_no"));
            state.set("window", vendorString(ticket, "window"));
            state.set("item_code", item);
            state.set("estimated_at", vendorString(ticket, "estimated_at"));
            state.set("state", "waiting");
            host().kvPut("ticket:" + id, campushub::json::stringify(state));
        }
        return "{\"ticket_id\":" + campushub::jsonString(id) +
               ",\"ticket_no\":" + campushub::jsonString(vendorString(ticket, "ticket_no")) +
               ",\"window\":" + campushub::jsonString(vendorString(ticket, "window")) +
               ",\"item_code\":" + campushub::jsonString(item) +
               ",\"estimated_at\":" + campushub::jsonString(vendorString(ticket, "estimated_at")) +
               ",\"replayed\":" + (replayed ? "true" : "false") + "}";
    }

    std::string status(std::string_view input) {
        auto request = campushub::json::parseObject(input);
        const std::string applicant = requireToken(request, "applicant_id", 32);
        const std::string id = requireToken(request, "ticket_id");
        auto stored = host().kvGet("ticket:" + id);
        // Someone else's ticket is "not found" too: ids are not to be probed.
        if (!stored) throw campushub::NotFound("no ticket " + id);
        Object state = campushub::json::parseObject(*stored);
        if (state->optValue<std::string>("applicant_id", "") != applicant)
            throw campushub::NotFound("no ticket " + id);
        state->set("ticket_id", id);
        return campushub::json::stringify(state);
    }

    // A callback, delivered at least once (the vendor redelivers until it gets a 2xx):
    // the event id makes a redelivery answer "duplicate" and publish nothing again.
    std::string callback(std::string_view input, const std::string& newState) {
        auto request = campushub::json::parseObject(input);
        const std::string eventId = requireToken(request, "event_id");
        const std::string id = requireToken(request, "ticket_id");
        const std::string seen = "event:" + eventId;
        if (host().kvGet(seen)) return R"({"accepted":true,"duplicate":true})";
        auto stored = host().kvGet("ticket:" + id);
        if (!stored) throw campushub::NotFound("no ticket " + id + " was booked through the hub");
        Object state = campushub::json::parseObject(*stored);
        if (request->has("window") && request->get("window").isString())
            state->set("window", request->getValue<std::string>("window"));
        state->set("state", newState);
        state->set("updated_at", request->optValue<std::string>("at", ""));

        Poco::JSON::Object data;
        data.set("ticket_id", id);
        data.set("ticket_no", state->optValue<std::string>("ticket_no", ""));
        data.set("window", state->optValue<std::string>("window", ""));
        data.set("applicant_id", state->optValue<std::string>("applicant_id", ""));
        data.set("application_id", state->optValue<std::string>("application_id", ""));
        data.set("state", newState);
        data.set("vendor_event_id", eventId);
        if (request->has("result") && request->get("result").isString())
            data.set("result", request->getValue<std::string>("result"));
        const std::string application = state->optValue<std::string>("application_id", "");
        Poco::JSON::Object event;
        event.set("type", std::string("edu.campus.hub.queue.") + (newState == "done" ? "done" : "now_serving"));
        event.set("subject", application.empty() ? "ticket/" + id : "application/" + application);
        event.set("data", data);
        // Store first, publish second, mark last: a failure in between makes the
        // vendor redeliver, and the portal de-duplicates by vendor_event_id.
        host().kvPut("ticket:" + id, campushub::json::stringify(state));
        if (!host().emitEvent(campushub::json::stringify(event)))
            throw campushub::Unavailable("the hub did not take the event; redeliver");
        host().kvPut(seen, newState);
        return R"({"accepted":true,"duplicate":false})";
    }

    static campushub::Error vendorError(const campushub::HttpResponse& r) {
        std::string code, message = r.body.substr(0, 300);
        try {
            Object o = campushub::json::parseObject(r.body);
            code = o->optValue<std::string>("code", "");
            message = o->optValue<std::string>("message", message);
        } catch (const campushub::Error&) {
        }
        const std::string text = "queue-ticket system: HTTP " + std::to_string(r.status) +
                                 (code.empty() ? "" : " " + code) + ": " + message;
        if (r.status == 404) return campushub::NotFound(text);
        if (r.status == 409) return campushub::Conflict(text);
        if (r.status == 400) return campushub::InvalidArgument(text);
        if (r.status == 401 || r.status == 403)
            return campushub::Error(CH_ERR_INTERNAL, text + " (check api_key_file in hub.xml)");
        if (r.status >= 500) return campushub::Unavailable(text);
        return campushub::Error(CH_ERR_INTERNAL, text);
    }

    std::string baseUrl_, headers_;
};

}  // namespace

CAMPUSHUB_PLUGIN(QueueTicketPlugin, "queue_ticket", "1.0.0")
