// Reference adapter for the self-service kiosks' vendor system (自助终端): the model
// for a vendor whose system does NOT de-duplicate. Every job it accepts prints, so a
// retried call must never reach it twice: the plugin remembers, per idempotency key
// of the call (ABI 1.1; the host scopes it by caller), what it submitted in the
// hub's key-value store, and tags each job with a reference it can look the job up
// by when a retry finds a submission whose answer was lost (a timeout, a crash).
// Status callbacks come in through the hub's webhook route as the webhook
// operation job_event.
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <openssl/evp.h>

#include <cctype>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>

namespace {

using campushub::json::Document;
using campushub::json::Value;

/// SHA-1 in hex, for the job's reference and the request's fingerprint (libcrypto
/// from the hub's own Debian package: safe to share, docs/sdk/README.md).
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

std::string requireToken(const Value& input, const std::string& field, std::size_t maxLength = 64) {
    std::string value = campushub::json::requireString(input, field, maxLength);
    for (char c : value)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
            throw campushub::InvalidArgument(field + " may hold only letters, digits, '-' and '_'");
    return value;
}

std::string readFileTrimmed(const std::string& path, const std::string& key) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw campushub::InvalidArgument("config " + key + " cannot be read: " + path);
    std::ostringstream content;
    content << in.rdbuf();
    std::string text = content.str();
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    return text;
}

Document vendorObject(const std::string& body) {
    try {
        return campushub::json::parseObject(body);
    } catch (const campushub::Error&) {
        throw campushub::Error(CH_ERR_INTERNAL,
                               "the kiosk system answered with something that is not a JSON object: " + body.substr(0, 200));
    }
}

std::string vendorString(const Value& o, const std::string& field) {
    std::string value = text(o, field);
    if (value.empty()) throw campushub::Error(CH_ERR_INTERNAL, "the kiosk system's answer lacks " + field);
    return value;
}

/// Holds one idempotency key for the calling thread: a second call with the same
/// key waits here until the first is done, then finds its answer in the store.
class KeyLock {
public:
    KeyLock(std::mutex& mutex, std::condition_variable& released, std::set<std::string>& held, std::string key)
        : mutex_(mutex), released_(released), held_(held), key_(std::move(key)) {
        std::unique_lock lock(mutex_);
        released_.wait(lock, [&] { return !held_.count(key_); });
        held_.insert(key_);
    }
    ~KeyLock() {
        {
            std::lock_guard lock(mutex_);
            held_.erase(key_);
        }
        released_.notify_all();
    }
    KeyLock(const KeyLock&) = delete;
    KeyLock& operator=(const KeyLock&) = delete;

private:
    std::mutex& mutex_;
    std::condition_variable& released_;
    std::set<std::string>& held_;
    std::string key_;
};

class KioskPlugin : public campushub::Plugin {
public:
    KioskPlugin(campushub::Host& host, std::string_view /*config*/) : Plugin(host) {
        baseUrl_ = host.config("base_url").value_or("");
        while (!baseUrl_.empty() && baseUrl_.back() == '/') baseUrl_.pop_back();
        if (baseUrl_.rfind("http://", 0) != 0 && baseUrl_.rfind("https://", 0) != 0)
            throw campushub::InvalidArgument("config base_url must be an http:// or https:// URL");
        std::string token;
        if (auto file = host.config("api_token_file"); file && !file->empty())
            token = readFileTrimmed(*file, "api_token_file");
        else
            token = host.config("api_token").value_or("");
        if (token.empty() || token.find_first_of("\r\n") != std::string::npos)
            throw campushub::InvalidArgument("config api_token_file (or api_token) must hold one line");
        headers_ = "Content-Type: application/json\r\nAuthorization: Bearer " + token + "\r\n";
        callbackUrl_ = host.config("callback_url").value_or("");

        operation("print_certificate", "Prints an official certificate at a kiosk; once per idempotency key",
                  [this](campushub::Call& call, std::string_view input) { return print(call, input); });
        operation("job_status", "Tells where a print job stands",
                  [this](campushub::Call&, std::string_view input) { return status(input); });
        operation("job_event", "Callback: a print job's status changed (printing, printed, failed)",
                  [this](campushub::Call&, std::string_view input) { return jobEvent(input); });
    }

private:
    // The key is the call's idempotency key (ABI 1.1): the host scopes the portal's
    // Idempotency-Key by caller and makes the flow engine's unique per element and
    // attempt, so one caller's key never answers another's print.
    std::string print(campushub::Call& call, std::string_view input) {
        auto request = campushub::json::parseObject(input);
        // The 1.0 adapter took the key as an input field; a caller still sending it
        // expects de-duplication it would silently lose, so it is told instead.
        if (campushub::json::member(request, "idempotency_key"))
            throw campushub::InvalidArgument(
                "idempotency_key is not an input field: send the Idempotency-Key header with the call");
        const std::string holder = requireToken(request, "holder_id", 32);
        const std::string kiosk = requireToken(request, "kiosk_id", 32);
        const std::string document = requireToken(request, "document_type", 32);
        const std::int64_t copies = campushub::json::optionalInt(request, "copies", 1);
        if (copies < 1 || copies > 5) throw campushub::InvalidArgument("copies must be 1 to 5");
        const std::string job = "{\"kiosk_id\":" + campushub::jsonString(kiosk) +
                                ",\"document_type\":" + campushub::jsonString(document) +
                                ",\"holder_id\":" + campushub::jsonString(holder) +
                                ",\"copies\":" + std::to_string(copies);
        const std::string_view key = call.idempotencyKey();
        if (key.empty()) return submit(call, job + "}", holder, false);

        const std::string scoped = sha1Hex(key);
        const std::string reference = "hub-" + scoped.substr(0, 32);
        const std::string fingerprint = sha1Hex(job);
        const std::string slot = "idem:" + scoped;

        KeyLock held(mutex_, released_, inFlight_, scoped);
        if (auto stored = host().kvGet(slot)) {
            const Document record = campushub::json::parseObject(*stored);
            if (text(record, "fingerprint") != fingerprint)
                throw campushub::Conflict("the Idempotency-Key was already used for another print request");
            if (campushub::json::member(record, "answer")) return replayed(text(record, "answer"));
            // Submitted before, answer lost: the vendor knows the job by its reference.
            auto found = host().http(&call, "GET", baseUrl_ + "/v2/print-jobs?reference=" + reference, {}, headers_);
            if (found.status != 200) throw vendorError(found);
            const Document list = vendorObject(found.body);
            const Value* jobs = campushub::json::member(list, "jobs");
            if (jobs && jobs->IsArray() && !jobs->Empty()) {
                const std::string answer = remember((*jobs)[0], holder, slot, fingerprint);
                return replayed(answer);
            }
        } else {
            // Written before the vendor sees the job, so a retry after a lost answer
            // asks the vendor instead of printing again.
            host().kvPut(slot, "{\"fingerprint\":\"" + fingerprint + "\"}");
        }
        std::string body = job + ",\"reference\":" + campushub::jsonString(reference);
        const std::string answer = submit(call, body + "}", holder, true, slot, fingerprint);
        return answer;
    }

    std::string submit(campushub::Call& call, std::string body, const std::string& holder, bool keyed,
                       const std::string& slot = {}, const std::string& fingerprint = {}) {
        if (!callbackUrl_.empty()) {
            body.pop_back();
            body += ",\"callback_url\":" + campushub::jsonString(callbackUrl_) + "}";
        }
        auto r = host().http(&call, "POST", baseUrl_ + "/v2/print-jobs", body, headers_);
        if (r.status != 202 && r.status != 200 && r.status != 201) {
            // Refused outright: nothing printed, so the key is free for a corrected retry.
            if (keyed && r.status >= 400 && r.status < 500) host().kvDelete(slot);
            throw vendorError(r);
        }
        const Document job = vendorObject(r.body);
        return keyed ? remember(job, holder, slot, fingerprint) : remember(job, holder, {}, {});
    }

    /// Stores the job (for job_status and the callbacks) and, with a slot, the answer
    /// every retry of the key gets.
    std::string remember(const Value& job, const std::string& holder, const std::string& slot,
                         const std::string& fingerprint) {
        const std::string id = vendorString(job, "job_id");
        const std::string answer = "{\"job_id\":" + campushub::jsonString(id) +
                                   ",\"kiosk_id\":" + campushub::jsonString(vendorString(job, "kiosk_id")) +
                                   ",\"document_type\":" + campushub::jsonString(vendorString(job, "document_type")) +
                                   ",\"status\":" + campushub::jsonString(vendorString(job, "status"));
        if (!host().kvGet("job:" + id)) {
            campushub::json::Writer state;
            state.object()
                .key("holder_id").string(holder)
                .key("kiosk_id").string(vendorString(job, "kiosk_id"))
                .key("document_type").string(vendorString(job, "document_type"))
                .key("status").string(vendorString(job, "status"))
                .end();
            host().kvPut("job:" + id, state.str());
        }
        if (!slot.empty()) {
            campushub::json::Writer record;
            record.object().key("fingerprint").string(fingerprint).key("answer").string(answer + "}").end();
            host().kvPut(slot, record.str());
        }
        return answer + ",\"replayed\":false}";
    }

    static std::string replayed(std::string answer) {
        answer.pop_back();
        return answer + ",\"replayed\":true}";
    }

    std::string status(std::string_view input) {
        auto request = campushub::json::parseObject(input);
        const std::string holder = requireToken(request, "holder_id", 32);
        const std::string id = requireToken(request, "job_id");
        auto stored = host().kvGet("job:" + id);
        if (!stored) throw campushub::NotFound("no print job " + id);
        const Document state = campushub::json::parseObject(*stored);
        if (text(state, "holder_id") != holder) throw campushub::NotFound("no print job " + id);
        campushub::json::Writer out;
        out.object().key("job_id").string(id);
        for (const char* field : {"holder_id", "kiosk_id", "document_type", "status", "reason"})
            if (campushub::json::member(state, field)) out.key(field).string(text(state, field));
        out.end();
        return out.str();
    }

    // At least once from the vendor; the event id makes a redelivery publish nothing.
    std::string jobEvent(std::string_view input) {
        auto request = campushub::json::parseObject(input);
        const std::string eventId = requireToken(request, "event_id", 96);
        const std::string id = requireToken(request, "job_id");
        const std::string status = requireToken(request, "status", 16);
        if (status != "printing" && status != "printed" && status != "failed")
            throw campushub::InvalidArgument("status must be printing, printed or failed");
        if (host().kvGet("event:" + eventId)) return R"({"accepted":true,"duplicate":true})";
        auto stored = host().kvGet("job:" + id);
        if (!stored) throw campushub::NotFound("no print job " + id + " was submitted through the hub");
        const Document old = campushub::json::parseObject(*stored);
        // Callbacks may come out of order (a redelivered "printing" after "printed"):
        // a job only moves forward.
        auto rank = [](const std::string& s) { return s == "queued" ? 0 : s == "printing" ? 1 : 2; };
        std::string current = text(old, "status");
        if (current.empty()) current = "queued";
        if (rank(status) <= rank(current)) {
            host().kvPut("event:" + eventId, status);
            return R"({"accepted":true,"duplicate":false,"stale":true})";
        }
        std::string reason = text(request, "reason");
        if (reason.empty()) reason = text(old, "reason");
        campushub::json::Writer state;
        state.object()
            .key("holder_id").string(text(old, "holder_id"))
            .key("kiosk_id").string(text(old, "kiosk_id"))
            .key("document_type").string(text(old, "document_type"))
            .key("status").string(status);
        if (!reason.empty()) state.key("reason").string(reason);
        state.end();
        campushub::json::Writer event;
        event.object()
            .key("type").string("edu.campus.hub.kiosk.job_status_changed")
            .key("subject").string("print-job/" + id)
            .key("data").object()
            .key("job_id").string(id)
            .key("status").string(status)
            .key("holder_id").string(text(old, "holder_id"))
            .key("kiosk_id").string(text(old, "kiosk_id"))
            .key("document_type").string(text(old, "document_type"))
            .key("vendor_event_id").string(eventId);
        if (!reason.empty()) event.key("reason").string(reason);
        event.end().end();
        host().kvPut("job:" + id, state.str());
        if (!host().emitEvent(event.str())) throw campushub::Unavailable("the hub did not take the event; redeliver");
        host().kvPut("event:" + eventId, status);
        return R"({"accepted":true,"duplicate":false})";
    }

    static campushub::Error vendorError(const campushub::HttpResponse& r) {
        std::string code, message = r.body.substr(0, 300);
        try {
            const Document o = campushub::json::parseObject(r.body);
            code = text(o, "code");
            if (std::string m = text(o, "message"); !m.empty()) message = m;
        } catch (const campushub::Error&) {
        }
        const std::string what =
            "kiosk system: HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code) + ": " + message;
        if (r.status == 404) return campushub::NotFound(what);
        if (r.status == 409) return campushub::Conflict(what);
        if (r.status == 400) return campushub::InvalidArgument(what);
        if (r.status == 401 || r.status == 403)
            return campushub::Error(CH_ERR_INTERNAL, what + " (check api_token_file in hub.xml)");
        if (r.status >= 500) return campushub::Unavailable(what);
        return campushub::Error(CH_ERR_INTERNAL, what);
    }

    std::string baseUrl_, headers_, callbackUrl_;
    std::mutex mutex_;
    std::condition_variable released_;
    std::set<std::string> inFlight_;
};

}  // namespace

// What it cannot work without: a hub lacking one (or a worker process, which has no
// kv_* or emit_event) refuses it, naming the service; without call_idempotency_key a
// retry would print twice.
CAMPUSHUB_PLUGIN_REQUIRES(KioskPlugin, "kiosk", "1.1.0", "http_request", "kv_lookup", "kv_put", "kv_delete",
                          "emit_event", "call_idempotency_key")
