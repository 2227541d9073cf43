#include "hub/api/OwnedFields.h"

#include "hub/catalog/DataOwners.h"
#include "hub/catalog/ServiceItem.h"
#include "hub/host/CallContext.h"
#include "hub/host/PluginHost.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <future>
#include <sstream>

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

// One plugin operation called for the applicant, waited for: its answer as a
// JSON object, or an error text.
Poco::JSON::Object::Ptr callFor(host::PluginHost& plugins, const catalog::FieldOwner& owner, const Principal& p,
                                std::string& error) {
    if (!plugins.has(owner.plugin)) {
        error = "the system " + owner.plugin + " is not loaded";
        return nullptr;
    }
    Poco::JSON::Object input;
    input.set(owner.key, p.subject);
    std::ostringstream json;
    input.stringify(json);
    host::Caller caller{p.viaService.empty() ? p.subject : p.viaService, p.roles,
                        p.viaService.empty() ? std::string() : p.subject, p.audiences};
    const auto timeout = plugins.limits(owner.plugin).timeout;
    auto answer = std::make_shared<std::promise<host::CallResult>>();
    auto result = answer->get_future();
    std::string refusal;
    auto submitted = plugins.submit(
        owner.plugin, owner.operation, json.str(), caller, host::CallContext{}, host::Clock::now() + timeout,
        [answer](host::CallResult r) { answer->set_value(std::move(r)); }, &refusal);
    if (submitted != host::PluginHost::Submit::Accepted) {
        error = refusal.empty() ? "the plugin host refused the call" : refusal;
        return nullptr;
    }
    if (result.wait_for(timeout + std::chrono::milliseconds(200)) != std::future_status::ready) {
        error = "no answer in time";
        return nullptr;
    }
    host::CallResult r = result.get();
    if (r.status != CH_OK) {
        error = std::string(host::statusName(r.status));
        return nullptr;
    }
    try {
        Poco::JSON::Parser parser;
        auto parsed = parser.parse(r.body);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) return parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
    }
    error = "the answer is not a JSON object";
    return nullptr;
}

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

OwnedFields::Fetched OwnedFields::fetch(const catalog::ServiceItem& item, const Principal& caller) const {
    Fetched out;
    out.owners = owners();
    if (!out.owners) return out;
    std::optional<std::optional<PersonFacts>> person;  // looked up once, when a field needs it
    std::map<std::string, std::pair<Poco::JSON::Object::Ptr, std::string>> answers;  // by plugin.operation
    for (const auto& field : item.fields) {
        const catalog::FieldOwner* owner = out.owners->find(field.id);
        if (!owner) continue;
        Value v;
        v.owner = owner;
        if (owner->fromDirectory()) {
            if (!person) person = person_ ? person_(caller.subject) : std::nullopt;
            if (*person) {
                std::string value = directoryValue(**person, owner->attribute);
                if (!value.empty()) v.value = std::move(value);
            } else {
                v.error = "the directory does not know " + caller.subject;
            }
        } else if (!plugins_) {
            v.error = "no plugin host";
        } else {
            const std::string call = owner->plugin + "." + owner->operation;
            auto known = answers.find(call);
            if (known == answers.end()) {
                std::string error;
                auto object = callFor(*plugins_, *owner, caller, error);
                known = answers.emplace(call, std::make_pair(object, error)).first;
            }
            const auto& [object, error] = known->second;
            if (!object) {
                v.error = call + ": " + error;
            } else if (object->has(owner->result) && !object->isNull(owner->result)) {
                v.value = object->get(owner->result).convert<std::string>();
            }
        }
        out.fields.emplace(field.id, std::move(v));
    }
    return out;
}

}  // namespace hub::api
