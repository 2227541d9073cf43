#include "PluginWiring.h"

#include "hub/events/CloudEvent.h"
#include "hub/events/Outbox.h"
#include "hub/identity/SourcedFields.h"
#include "hub/store/Database.h"

#include <campushub/plugin.h>

#include <Poco/Data/Session.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Logger.h>

#include <sstream>

namespace hub::app {

void PluginEventTypes::declare(const host::Manifest& manifest) {
    std::set<std::string> types;
    for (const auto& type : manifest.emits) {
        events::registerEventType(type);
        types.insert(type);
    }
    std::lock_guard lock(mutex_);
    declared_[manifest.name] = std::move(types);  // a reload's manifest replaces the old one's
}

bool PluginEventTypes::mayEmit(const std::string& plugin, const std::string& type) const {
    if (events::isBuiltInEventType(type)) return true;
    std::lock_guard lock(mutex_);
    auto it = declared_.find(plugin);
    return it != declared_.end() && it->second.count(type) > 0;
}

host::EmitEvent pluginEventsToOutbox(store::Database& db, const std::string& source, const PluginEventTypes& types) {
    return [&db, &types, source](const std::string& plugin, std::string_view json) -> int {
        try {
            Poco::JSON::Parser parser;
            auto o = parser.parse(std::string(json)).extract<Poco::JSON::Object::Ptr>();
            const std::string type = o->getValue<std::string>("type");
            if (!types.mayEmit(plugin, type)) {
                Poco::Logger::get("hub.plugin." + plugin)
                    .warning("event refused: type %s is neither the hub's nor declared in the plugin's <emits>",
                             type);
                return CH_ERR_INVALID_ARGUMENT;
            }
            std::ostringstream data;
            o->getObject("data")->stringify(data);
            Poco::Data::Session session = db.session();
            session.begin();
            events::Outbox::append(session, events::CloudEvent::create(type, source + "/plugins/" + plugin,
                                                                       o->getValue<std::string>("subject"),
                                                                       data.str()));
            session.commit();
            return CH_OK;
        } catch (const events::EventError&) {
            return CH_ERR_INVALID_ARGUMENT;
        } catch (const std::exception&) {
            return CH_ERR_UNAVAILABLE;
        }
    };
}

host::SubmitIdentity pluginRecordsToIdentity(identity::SourcedFields& fields) {
    return [&fields](const std::string& plugin, const std::vector<std::string>& owned, std::string_view records,
                     std::string& answer) -> int {
        try {
            answer = fields.submit(plugin, owned, records);
            return CH_OK;
        } catch (const identity::SourcedFields::InvalidRecords& e) {
            answer = e.what();
            return CH_ERR_INVALID_ARGUMENT;
        } catch (const std::exception& e) {
            Poco::Logger::get("hub.plugin." + plugin).error("identity records not stored: %s", std::string(e.what()));
            answer = std::string("the identity store did not take the records: ") + e.what();
            return CH_ERR_UNAVAILABLE;
        }
    };
}

}  // namespace hub::app
