// Reference adapter for the self-service kiosks' vendor system (自助终端): the model
// for a vendor whose system does NOT de-duplicate. Every job it accepts prints, so a
// retried call must never reach it twice: the plugin remembers, per caller and
// idempotency key, what it submitted in the hub's key-value store, and tags each job
// with a reference it can look the job up by when a retry finds a submission whose
// answer was lost (a timeout, a crash). Status callbacks come in through the hub's
// webhook route as the webhook operation job_event.
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <Poco/DigestEngine.h>
#include <Poco/FileStream.h>
#include <Poco/JSON/Array.h>
#include <Poco/SHA1Engine.h>
#include <Poco/StreamCopier.h>

#include <cctype>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>

namespace {

using Object = Poco::JSON::Object::Ptr;

std::string sha1Hex(const std::string& text) {
    Poco::SHA1Engine sha1;
    sha1.update(text);
    return Poco::DigestEngine::digestToHex(sha1.digest());
}

std::string requireToken(const Object& input, const std::string& field, std::size_t maxLength = 64) {
    std::string value = campushub::json::requireString(input, field, maxLength);
    for (char c : value)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
            throw campushub::InvalidArgument(field + " may hold only letters, digits, '-' and '_'");
    return value;
}

std::string readFileTrimmed(const std::string& path, const std::string& key) {
    std::string text;
    try {
        Poco::FileInputStream in(path);
        Poco::StreamCopier::copyToString(in, text);
    } catch (const Poco::Exception& e) {
        throw campushub::InvalidArgument("config " + key + " cannot be read: " + e.displayText());
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    return text;
}

Object vendorObject(const std::string& body) {
    try {
        return campushub::json::parseObject(body);
    } catch (const campushub::Error&) {
        throw campushub::Error(CH_ERR_INTERNAL,
                               "the kiosk system answered with something that is not a JSON object: " + body.substr(0, 200));
    }
}

std::string vendorString(const Object& o, const std::string& field) {
    if (!o->has(field) || !o->get(field).isString() || o->getValue<std::string>(field).empty())
        throw campushub::Error(CH_ERR_INTERNAL, "the kiosk system's answer lacks " + field);
    return o->getValue<std::string>(field);
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

        operation("print_certificate", "Prints an official certificate at a kiosk; once per idempotency_key",
                  [this](campushub::Call& call, std::string_view input) { return print(call, input); });
        operation("job_status", "Tells where a print job stands",
                  [this](campushub::Call&, std::string_view input) { return status(input); });
        operation("job_event", "Callback: a print job's status changed (printing, printed, failed)",
                  [this](campushub::Call&, std::string_view input) { return jobEvent(input); });
    }

private:
    // TODO(ABI 1.1): the key comes from the host (the portal's Idempotency-Key, scoped
    // by caller, or the flow engine's per-attempt key) instead of the input.
    std::string print(campushub::Call& call, std::string_view input) {
        auto request = campushub::json::parseObject(input);
        const std::string holder = requireToken(request, "holder_id", 32);
        const std::string kiosk = requireToken(request, "kiosk_id", 32);
        const std::string document = requireToken(request, "document_type", 32);
        int copies = 1;
        if (request->has("copies")) {
            if (!request->get("copies").isInteger()) throw campushub::InvalidArgument("copies must be an integer");
            copies = request->getValue<int>("copies");
            if (copies < 1 || copies > 5) throw campushub::InvalidArgument("copies must be 1 to 5");
        }
        const std::string job = "{\"kiosk_id\":" + campushub::jsonString(kiosk) +
                                ",\"document_type\":" + campushub::jsonString(document) +
                                ",\"holder_id\":" + campushub::jsonString(holder) +
                                ",\"copies\":" + std::to_string(copies);
        if (!request->has("idempotency_key")) return submit(call, job + "}", holder, false);

        const std::string key = campushub::json::requireString(request, "idempotency_key", 255);
        for (char c : key)
            if (c < 0x21 || c > 0x7e) throw campushub::InvalidArgument("idempotency_key must be printable ASCII");
        auto caller = campushub::json::parseObject(call.callerJson());
        const std::string scoped = sha1Hex(caller->optValue<std::string>("subject", "") + "\n" + key);
        const std::string reference = "hub-" + scoped.substr(0, 32);
        const std::string fingerprint = sha1Hex(job);
        const std::string slot = "idem:" + scoped;

        KeyLock held(mutex_, released_, inFlight_, scoped);
        if (auto stored = host().kvGet(slot)) {
            Object record = campushub::json::parseObject(*stored);
            if (record->optValue<std::string>("fingerprint", "") != fingerprint)
                throw campushub::Conflict("idempotency_key was already used for another print request");
            if (record->has("answer")) return replayed(record->getValue<std::string>("answer"));
            // Submitted before, answer lost: the vendor knows the job by its reference.
            auto found = host().http(&call, "GET", baseUrl_ + "/v2/print-jobs?reference=" + reference, {}, headers_);
            if (found.status != 200) throw vendorError(found);
            auto jobs = vendorObject(found.body)->getArray("jobs");
            if (jobs && jobs->size() > 0) {
                const std::string answer = remember(jobs->getObject(0), holder, slot, fingerprint);
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
        Object job = vendorObject(r.body);
        return keyed ? remember(job, holder, slot, fingerprint) : remember(job, holder, {}, {});
    }

    /// Stores the job (for job_status and the callbacks) and, with a slot, the answer
    /// every retry of the key gets.
    std::string remember(const Object& job, const std::string& holder, const std::string& slot,
                         const std::string& fingerprint) {
        const std::string id = vendorString(job, "job_id");
        const std::string answer = "{\"job_id\":" + campushub::jsonString(id) +
                                   ",\"kiosk_id\":" + campushub::jsonString(vendorString(job, "kiosk_id")) +
                                   ",\"document_type\":" + campushub::jsonString(vendorString(job, "document_type")) +
                                   ",\"status\":" + campushub::jsonString(vendorString(job, "status"));
        if (!host().kvGet("job:" + id)) {
            Poco::JSON::Object state;
            state.set("holder_id", holder);
            state.set("kiosk_id", vendorString(job, "kiosk_id"));
            state.set("document_type", vendorString(job, "document_type"));
            state.set("status", vendorString(job, "status"));
            host().kvPut("job:" + id, campushub::json::stringify(state));
        }
        if (!slot.empty()) {
            Poco::JSON::Object record;
            record.set("fingerprint", fingerprint);
            record.set("answer", answer + "}");
            host().kvPut(slot, campushub::json::stringify(record));
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
        Object state = campushub::json::parseObject(*stored);
        if (state->optValue<std::string>("holder_id", "") != holder) throw campushub::NotFound("no print job " + id);
        state->set("job_id", id);
        return campushub::json::stringify(state);
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
        Object state = campushub::json::parseObject(*stored);
        // Callbacks may come out of order (a redelivered "printing" after "printed"):
        // a job only moves forward.
        auto rank = [](const std::string& s) { return s == "queued" ? 0 : s == "printing" ? 1 : 2; };
        if (rank(status) <= rank(state->optValue<std::string>("status", "queued"))) {
            host().kvPut("event:" + eventId, status);
            return R"({"accepted":true,"duplicate":false,"stale":true})";
        }
        state->set("status", status);
        const std::string reason =
            request->has("reason") && request->get("reason").isString() ? request->getValue<std::string>("reason") : "";
        if (!reason.empty()) state->set("reason", reason);
        Poco::JSON::Object data;
        data.set("job_id", id);
        data.set("status", status);
        data.set("holder_id", state->optValue<std::string>("holder_id", ""));
        data.set("kiosk_id", state->optValue<std::string>("kiosk_id", ""));
        data.set("document_type", state->optValue<std::string>("document_type", ""));
        data.set("vendor_event_id", eventId);
        if (!reason.empty()) data.set("reason", reason);
        Poco::JSON::Object event;
        event.set("type", std::string("edu.campus.hub.kiosk.job_status_changed"));
        event.set("subject", "print-job/" + id);
        event.set("data", data);
        host().kvPut("job:" + id, campushub::json::stringify(state));
        if (!host().emitEvent(campushub::json::stringify(event)))
            throw campushub::Unavailable("the hub did not take the event; redeliver");
        host().kvPut("event:" + eventId, status);
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
        const std::string text =
            "kiosk system: HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code) + ": " + message;
        if (r.status == 404) return campushub::NotFound(text);
        if (r.status == 409) return campushub::Conflict(text);
        if (r.status == 400) return campushub::InvalidArgument(text);
        if (r.status == 401 || r.status == 403)
            return campushub::Error(CH_ERR_INTERNAL, text + " (check api_token_file in hub.xml)");
        if (r.status >= 500) return campushub::Unavailable(text);
        return campushub::Error(CH_ERR_INTERNAL, text);
    }

    std::string baseUrl_, headers_, callbackUrl_;
    std::mutex mutex_;
    std::condition_variable released_;
    std::set<std::string> inFlight_;
};

}  // namespace

CAMPUSHUB_PLUGIN(KioskPlugin, "kiosk", "1.0.0")
