// Reference adapter for the counter hall's queue-ticket system (排队叫号): the model
// for vendors whose system calls back. Booking goes out through the hub's HTTP
// service; the hall's "now serving" and "done" calls come in through the hub's
// webhook route (signed by the vendor, checked by the hub) as invokes of the two
// operations the manifest marks webhook="true". Each ticket's state is kept in the
// hub's key-value store and every change is published as an event for the portal;
// a ticket booked by a flow (config/flows/counter-ticket.bpmn) also moves that flow
// on, by a flow message, so the application's status follows the hall.
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <openssl/evp.h>

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace {

using campushub::json::Document;
using campushub::json::Value;

/// SHA-1 in hex, for the vendor's client_ref (libcrypto from the hub's own
/// Debian package: safe to share, docs/sdk/README.md "Libraries a plugin may link").
std::string sha1Hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    if (!EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr))
        throw campushub::Error(CH_ERR_INTERNAL, "SHA-1 failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned i = 0; i < length; ++i) {
        hex += kHex[digest[i] >> 4];
        hex += kHex[digest[i] & 0x0f];
    }
    return hex;
}

/// A string member, or empty when absent or not a string (for the vendor's and
/// the store's own JSON, which the plugin reads leniently).
std::string text(const Value& o, std::string_view field) {
    const Value* v = campushub::json::member(o, field);
    return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : std::string();
}

/// A field made of letters, digits, '-' and '_' only (ids that go into URLs and keys).
std::string requireToken(const Value& input, const std::string& field, std::size_t maxLength = 64) {
    std::string value = campushub::json::requireString(input, field, maxLength);
    for (char c : value)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
            throw campushub::InvalidArgument(field + " may hold only letters, digits, '-' and '_'");
    return value;
}

std::string optionalToken(const Value& input, const std::string& field) {
    return campushub::json::member(input, field) ? requireToken(input, field) : std::string();
}

/// The vendor's answer as a JSON object; 502 when it is not one.
Document vendorObject(const std::string& body) {
    try {
        return campushub::json::parseObject(body);
    } catch (const campushub::Error&) {
        throw campushub::Error(CH_ERR_INTERNAL, "the queue-ticket system answered with something that is not a JSON "
                                                "object: " + body.substr(0, 200));
    }
}

std::string vendorString(const Value& o, const std::string& field) {
    std::string value = text(o, field);
    if (value.empty()) throw campushub::Error(CH_ERR_INTERNAL, "the queue-ticket system's answer lacks " + field);
    return value;
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
            std::ifstream in(*file, std::ios::binary);
            std::ostringstream content;
            content << in.rdbuf();
            if (!in) throw campushub::InvalidArgument("config api_key_file cannot be read: " + *file);
            key = content.str();
            while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
        } else {
            key = host.config("api_key").value_or("");
        }
        if (key.empty() || key.find_first_of("\r\n") != std::string::npos)
            throw campushub::InvalidArgument("config api_key_file (or api_key) must hold one line");
        headers_ = "Content-Type: application/json\r\nX-Api-Key: " + key + "\r\n";
        // The hall system's own codes for the hub's catalogue items, for bookings
        // that name the item (a flow does): "student-card-replacement=SA-01,...".
        std::istringstream codes(host.config("item_codes").value_or(""));
        for (std::string pair; std::getline(codes, pair, ',');) {
            const auto eq = pair.find('=');
            auto trim = [](std::string t) {
                while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(0, 1);
                while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
                return t;
            };
            if (trim(pair).empty()) continue;
            if (eq == std::string::npos || trim(pair.substr(0, eq)).empty() || trim(pair.substr(eq + 1)).empty())
                throw campushub::InvalidArgument("config item_codes: '" + pair + "' is not item=CODE");
            itemCodes_[trim(pair.substr(0, eq))] = trim(pair.substr(eq + 1));
        }

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
    // request gets the same ticket. It is derived from the call's idempotency key
    // (ABI 1.1), which the host already scopes by caller (the portal's
    // Idempotency-Key) or makes unique per flow element and attempt, so one
    // caller's key never answers another's booking.
    std::string book(campushub::Call& call, std::string_view input) {
        auto request = campushub::json::parseObject(input);
        // The 1.0 adapter took the key as an input field; a caller still sending it
        // expects de-duplication it would silently lose, so it is told instead.
        if (campushub::json::member(request, "idempotency_key"))
            throw campushub::InvalidArgument(
                "idempotency_key is not an input field: send the Idempotency-Key header with the call");
        const std::string applicant = requireToken(request, "applicant_id", 32);
        std::string item;
        if (campushub::json::member(request, "item_code") || !campushub::json::member(request, "item_id")) {
            item = requireToken(request, "item_code", 16);
        } else {
            const std::string hubItem = requireToken(request, "item_id");
            auto code = itemCodes_.find(hubItem);
            if (code == itemCodes_.end())
                throw campushub::NotFound("the hall's queue system has no code for the item " + hubItem +
                                          " (config item_codes in hub.xml)");
            item = code->second;
        }
        const std::string application = optionalToken(request, "application_id");
        std::string body = "{\"item_code\":" + campushub::jsonString(item) +
                           ",\"applicant_id\":" + campushub::jsonString(applicant);
        if (const std::string_view key = call.idempotencyKey(); !key.empty())
            body += ",\"client_ref\":" + campushub::jsonString("hub-" + sha1Hex(key));
        body += "}";
        auto r = host().http(&call, "POST", baseUrl_ + "/api/v1/tickets", body, headers_);
        if (r.status != 200 && r.status != 201) throw vendorError(r);
        const Document ticket = vendorObject(r.body);
        const std::string id = vendorString(ticket, "ticket_id");
        const bool replayed = r.status == 200;
        // What the callbacks need to find their way back to the applicant and the
        // application. A replayed booking keeps the state the first one stored.
        if (!replayed || !host().kvGet("ticket:" + id)) {
            // The portal learns the ticket from this event when a flow booked it
            // (the flow keeps the answer). Published before the state is stored: a
            // failure makes the caller retry with its key, which replays the booking.
            campushub::json::Writer booked;
            booked.object()
                .key("type").string("edu.campus.hub.queue.booked")
                .key("subject").string(application.empty() ? "ticket/" + id : "application/" + application)
                .key("data").object()
                .key("ticket_id").string(id)
                .key("ticket_no").string(vendorString(ticket, "ticket_no"))
                .key("window").string(vendorString(ticket, "window"))
                .key("estimated_at").string(vendorString(ticket, "estimated_at"))
                .key("applicant_id").string(applicant)
                .key("application_id").string(application)
                .end()
                .end();
            if (!host().emitEvent(booked.str()))
                throw campushub::Unavailable("the hub did not take the booking's event; retry with the same key");
            campushub::json::Writer state;
            state.object()
                .key("applicant_id").string(applicant)
                .key("application_id").string(application)
                .key("ticket_no").string(vendorString(ticket, "ticket_no"))
                .key("window").string(vendorString(ticket, "window"))
                .key("item_code").string(item)
                .key("estimated_at").string(vendorString(ticket, "estimated_at"))
                .key("state").string("waiting")
                .end();
            host().kvPut("ticket:" + id, state.str());
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
        const Document state = campushub::json::parseObject(*stored);
        if (text(state, "applicant_id") != applicant) throw campushub::NotFound("no ticket " + id);
        campushub::json::Writer out;
        out.object().key("ticket_id").string(id);
        for (const char* field : {"applicant_id", "application_id", "ticket_no", "window", "item_code",
                                  "estimated_at", "state", "updated_at"})
            if (campushub::json::member(state, field)) out.key(field).string(text(state, field));
        out.end();
        return out.str();
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
        const Document old = campushub::json::parseObject(*stored);
        std::string window = text(request, "window");
        if (window.empty()) window = text(old, "window");
        const std::string application = text(old, "application_id");

        campushub::json::Writer state;
        state.object()
            .key("applicant_id").string(text(old, "applicant_id"))
            .key("application_id").string(application)
            .key("ticket_no").string(text(old, "ticket_no"))
            .key("window").string(window)
            .key("item_code").string(text(old, "item_code"))
            .key("estimated_at").string(text(old, "estimated_at"))
            .key("state").string(newState)
            .key("updated_at").string(text(request, "at"))
            .end();

        campushub::json::Writer event;
        event.object()
            .key("type").string(std::string("edu.campus.hub.queue.") + (newState == "done" ? "done" : "now_serving"))
            .key("subject").string(application.empty() ? "ticket/" + id : "application/" + application)
            .key("data").object()
            .key("ticket_id").string(id)
            .key("ticket_no").string(text(old, "ticket_no"))
            .key("window").string(window)
            .key("applicant_id").string(text(old, "applicant_id"))
            .key("application_id").string(application)
            .key("state").string(newState)
            .key("vendor_event_id").string(eventId);
        if (const Value* result = campushub::json::member(request, "result"); result && result->IsString())
            event.key("result").string(text(request, "result"));
        event.end().end();
        // Store first, publish second (the portal's event, then the flow's message),
        // mark last: a failure in between makes the vendor redeliver; the portal
        // de-duplicates by vendor_event_id, the flows by the message id.
        host().kvPut("ticket:" + id, state.str());
        if (!host().emitEvent(event.str())) throw campushub::Unavailable("the hub did not take the event; redeliver");
        if (!application.empty()) moveFlow(id, eventId, newState, window, text(old, "ticket_no"), text(request, "result"));
        host().kvPut(seen, newState);
        return R"({"accepted":true,"duplicate":false})";
    }

    // The flow that booked the ticket waits for queue_ticket.now_serving, then
    // queue_ticket.done, keyed by the ticket id (docs/flows/bpmn.md, "From a
    // plugin"). The message id is the vendor's event id, so a redelivery the hub
    // half-handled before moves nothing twice.
    void moveFlow(const std::string& ticket, const std::string& eventId, const std::string& newState,
                  const std::string& window, const std::string& number, const std::string& vendorResult) {
        campushub::json::Writer message;
        message.object()
            .key("type").string("edu.campus.hub.flow.message")
            .key("subject").string("ticket/" + ticket)
            .key("data").object()
            .key("name").string(newState == "done" ? "queue_ticket.done" : "queue_ticket.now_serving")
            .key("correlationKey").string(ticket)
            .key("messageId").string("queue_ticket:" + eventId)
            .key("variables").object()
            .key("window").string(window)
            .key("ticket_no").string(number)
            .key("vendor_result").string(vendorResult)
            .end()
            .end()
            .end();
        // The status tells "no flow waits" (a booking made outside a flow) and "came
        // before" apart from a failure, which emitEvent's bool does not.
        const ch_host_api* api = host().api();
        const ch_status s = api->emit_event(host().handle(), campushub::buffer(message.str()));
        if (s == CH_OK || s == CH_ERR_CONFLICT || s == CH_ERR_NOT_FOUND) return;
        const std::string why = host().lastError();
        if (s == CH_ERR_INVALID_ARGUMENT) {
            host().error("flow message for ticket " + ticket + " refused: " + why);
            return;
        }
        throw campushub::Unavailable("the hub's flows did not take the ticket's message; redeliver" +
                                     (why.empty() ? std::string() : ": " + why));
    }

    static campushub::Error vendorError(const campushub::HttpResponse& r) {
        std::string code, message = r.body.substr(0, 300);
        try {
            const Document o = campushub::json::parseObject(r.body);
            code = text(o, "code");
            if (std::string m = text(o, "message"); !m.empty()) message = m;
        } catch (const campushub::Error&) {
        }
        const std::string what = "queue-ticket system: HTTP " + std::to_string(r.status) +
                                 (code.empty() ? "" : " " + code) + ": " + message;
        if (r.status == 404) return campushub::NotFound(what);
        if (r.status == 409) return campushub::Conflict(what);
        if (r.status == 400) return campushub::InvalidArgument(what);
        if (r.status == 401 || r.status == 403)
            return campushub::Error(CH_ERR_INTERNAL, what + " (check api_key_file in hub.xml)");
        if (r.status >= 500) return campushub::Unavailable(what);
        return campushub::Error(CH_ERR_INTERNAL, what);
    }

    std::string baseUrl_, headers_;
    std::map<std::string, std::string> itemCodes_;  // hub item id -> the hall system's code
};

}  // namespace

// What it cannot work without: a hub lacking one (or a worker process, which has no
// kv_* or emit_event) refuses it, naming the service.
CAMPUSHUB_PLUGIN_REQUIRES(QueueTicketPlugin, "queue_ticket", "1.1.0", "http_request", "kv_lookup", "kv_put",
                          "emit_event", "call_idempotency_key")
