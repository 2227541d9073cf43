#include "hub/api/OwnedFields.h"

#include "hub/catalog/DataOwners.h"
#include "hub/catalog/ServiceItem.h"
#include "hub/host/CallContext.h"
#include "hub/host/PluginHost.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <future>
#include <map>
#include <mutex>
#include <sstream>
#include <vector>

namespace hub::api {

namespace {

std::string directoryValue(const PersonFacts& p, const std::string& attribute) {
    if (attribute == "id") return p.id;
    if (attribute == "name") return p.name;
    if (attribute == "department") return p.department;
    if (attribute == "email") return p.email;
    if (attribute == "phone") return p.phone;
    std::string joined;  // audience
    for (const auto& a : p.audience) joined += (joined.empty() ? "" : ",") + a;
    return joined;
}

using Answer = std::pair<Poco::JSON::Object::Ptr, std::string>;  // the object, or why there is none

Answer parsedAnswer(const host::CallResult& r) {
    if (r.status != CH_OK) return {nullptr, std::string(host::statusName(r.status))};
    try {
        Poco::JSON::Parser parser;
        auto parsed = parser.parse(r.body);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) return {parsed.extract<Poco::JSON::Object::Ptr>(), ""};
    } catch (const Poco::Exception&) {
    }
    return {nullptr, "the answer is not a JSON object"};
}

// The plugin-owned fields of one fetch while their calls are out. The count
// starts at one for the fetch itself, so answers that come back while calls
// are still being submitted cannot finish it early.
struct Gathering {
    std::mutex mutex;
    OwnedFields::Fetched out;
    std::vector<std::pair<std::string, const catalog::FieldOwner*>> fields;  // field id, owner
    std::map<std::string, Answer> answers;                                   // by plugin.operation
    std::size_t waiting = 1;
    bool finished = false;
    OwnedFields::Done done;

    void answer(const std::string& call, Answer answer) {
        std::unique_lock lock(mutex);
        if (finished) return;  // too late: already answered "no answer in time"
        answers[call] = std::move(answer);
        if (--waiting == 0) finish(lock);
    }
    void release() {
        std::unique_lock lock(mutex);
        if (!finished && --waiting == 0) finish(lock);
    }
    void expire() {
        std::unique_lock lock(mutex);
        if (!finished) finish(lock);
    }

private:
    void finish(std::unique_lock<std::mutex>& lock) {
        finished = true;
        for (const auto& [field, owner] : fields) {
            OwnedFields::Value v;
            v.owner = owner;
            const std::string call = owner->plugin + "." + owner->operation;
            auto known = answers.find(call);
            if (known == answers.end()) {
                v.error = call + ": no answer in time";
            } else if (const auto& [object, error] = known->second; !object) {
                v.error = call + ": " + error;
            } else if (object->has(owner->result) && !object->isNull(owner->result)) {
                v.value = object->get(owner->result).convert<std::string>();
            }
            out.fields.emplace(field, std::move(v));
        }
        auto fetched = std::move(out);
        auto callback = std::move(done);
        lock.unlock();
        callback(std::move(fetched));
    }
};

}  // namespace

OwnedFields::OwnedFields(std::shared_ptr<const catalog::DataOwners> owners, PersonLookup person,
                         host::PluginHost* plugins)
    : owners_(std::move(owners)), person_(std::move(person)), plugins_(plugins) {}

void OwnedFields::replace(std::shared_ptr<const catalog::DataOwners> owners) {
    std::lock_guard lock(mutex_);
    owners_ = std::move(owners);
}

std::shared_ptr<const catalog::DataOwners> OwnedFields::owners() const {
    std::lock_guard lock(mutex_);
    return owners_;
}

void OwnedFields::fetchAsync(const catalog::ServiceItem& item, const Principal& caller, Done done,
                             After after) const {
    auto gathering = std::make_shared<Gathering>();
    gathering->done = std::move(done);
    auto& out = gathering->out;
    out.owners = owners();
    std::map<std::string, const catalog::FieldOwner*> calls;  // plugin.operation -> an owner naming it
    if (out.owners) {
        std::optional<std::optional<PersonFacts>> person;  // looked up once, when a field needs it
        for (const auto& field : item.fields) {
            const catalog::FieldOwner* owner = out.owners->find(field.id);
            if (!owner) continue;
            if (!owner->fromDirectory()) {
                gathering->fields.emplace_back(field.id, owner);
                calls.emplace(owner->plugin + "." + owner->operation, owner);
                continue;
            }
            Value v;
            v.owner = owner;
            if (!person) person = person_ ? person_(caller.subject) : std::nullopt;
            if (*person) {
                std::string value = directoryValue(**person, owner->attribute);
                if (!value.empty()) v.value = std::move(value);
            } else {
                v.error = "the directory does not know " + caller.subject;
            }
            out.fields.emplace(field.id, std::move(v));
        }
    }

    std::chrono::milliseconds longest{0};
    host::Caller asked{caller.viaService.empty() ? caller.subject : caller.viaService, caller.roles,
                       caller.viaService.empty() ? std::string() : caller.subject, caller.audiences};
    for (const auto& [call, owner] : calls) {
        {
            std::lock_guard lock(gathering->mutex);
            ++gathering->waiting;  // each call answers once, whichever way
        }
        if (!plugins_) {
            gathering->answer(call, {nullptr, "no plugin host"});
            continue;
        }
        if (!plugins_->has(owner->plugin)) {
            gathering->answer(call, {nullptr, "the system " + owner->plugin + " is not loaded"});
            continue;
        }
        Poco::JSON::Object input;
        input.set(owner->key, caller.subject);
        std::ostringstream json;
        input.stringify(json);
        const auto timeout = plugins_->limits(owner->plugin).timeout;
        std::string refusal;
        auto submitted = plugins_->submit(
            owner->plugin, owner->operation, json.str(), asked, host::CallContext{}, host::Clock::now() + timeout,
            [gathering, call = call](host::CallResult r) { gathering->answer(call, parsedAnswer(r)); }, &refusal);
        if (submitted != host::PluginHost::Submit::Accepted) {
            // Not called back: this call's count goes with its refusal.
            gathering->answer(call, {nullptr, refusal.empty() ? "the plugin host refused the call" : refusal});
            continue;
        }
        longest = std::max(longest, std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
    }
    if (longest.count() > 0 && after) after(longest + std::chrono::milliseconds(200), [gathering] { gathering->expire(); });
    gathering->release();
}

OwnedFields::Fetched OwnedFields::fetch(const catalog::ServiceItem& item, const Principal& caller) const {
    auto result = std::make_shared<std::promise<Fetched>>();
    auto fetched = result->get_future();
    std::shared_ptr<std::function<void()>> expire;
    std::chrono::milliseconds wait{0};
    fetchAsync(
        item, caller, [result](Fetched f) { result->set_value(std::move(f)); },
        [&expire, &wait](std::chrono::milliseconds delay, std::function<void()> fn) {
            wait = delay;
            expire = std::make_shared<std::function<void()>>(std::move(fn));
        });
    if (expire && fetched.wait_for(wait) != std::future_status::ready) (*expire)();
    return fetched.get();
}

}  // namespace hub::api
