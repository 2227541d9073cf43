// The parts of PluginServices.h that are not a service's code: the checks of
// what a plugin hands the host, and the host's own table.
#include "hub/host/PluginServices.h"

#include "hub/common/Utf8.h"
#include "hub/store/Database.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace hub::host {

std::vector<std::string> ownedPersonFields(const std::vector<std::string>& owns) {
    std::vector<std::string> fields;
    for (const auto& data : owns)
        if (data.size() > kOwnedPersonFieldPrefix.size() && data.rfind(kOwnedPersonFieldPrefix, 0) == 0)
            fields.push_back(data.substr(kOwnedPersonFieldPrefix.size()));
    return fields;
}

std::string checkEvent(std::string_view json) {
    if (json.size() > kMaxEventBytes)
        return "event of " + std::to_string(json.size()) + " bytes exceeds the limit of " +
               std::to_string(kMaxEventBytes);
    if (!hub::isValidUtf8(json)) return "event is not valid UTF-8";
    Poco::Dynamic::Var parsed;
    try {
        Poco::JSON::Parser parser;
        parsed = parser.parse(std::string(json));
    } catch (const std::exception& e) {
        return std::string("event is not valid JSON: ") + e.what();
    }
    if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return "event is not a JSON object";
    auto o = parsed.extract<Poco::JSON::Object::Ptr>();
    auto isString = [&](const char* k) { return o->has(k) && o->get(k).isString(); };
    if (!isString("type")) return "event has no \"type\" string";
    std::string type = o->getValue<std::string>("type");
    if (type.rfind("edu.campus.hub.", 0) != 0 || type.size() == 15)
        return "event type '" + type.substr(0, 200) + "' is not under edu.campus.hub.";
    if (!isString("subject")) return "event has no \"subject\" string";
    if (!o->isObject("data")) return "event has no \"data\" object";
    return {};
}

void migrateStore(store::Database& db) {
    db.migrate("host", {{1,
                         {"CREATE TABLE host_plugin_kv ("
                          " plugin VARCHAR(64) NOT NULL,"
                          " key VARCHAR(256) NOT NULL,"
                          // Nullable: Poco binds an empty BLOB as NULL; NULL reads back as "".
                          " value BLOB,"
                          " updated_at BIGINT NOT NULL,"
                          " PRIMARY KEY (plugin, key))"},
                         {"CREATE TABLE host_plugin_kv ("
                          " plugin VARCHAR(64) NOT NULL,"
                          " key VARCHAR(256) NOT NULL,"
                          " value BYTEA,"
                          " updated_at BIGINT NOT NULL,"
                          " PRIMARY KEY (plugin, key))"}}});
}

}  // namespace hub::host
