#include "Json.h"

#include "hub/common/JsonWriter.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace hub::identity::detail {

void assignJsonList(std::string& out, const std::vector<std::string>& values) {
    out.clear();
    json::appendStringArray(out, values);
}

std::string jsonList(const std::vector<std::string>& values) {
    std::string out;
    json::appendStringArray(out, values);
    return out;
}

std::vector<std::string> parseJsonList(const std::string& json) {
    std::vector<std::string> out;
    if (json.empty()) return out;
    Poco::JSON::Parser parser;
    auto array = parser.parse(json).extract<Poco::JSON::Array::Ptr>();
    for (std::size_t i = 0; i < array->size(); ++i) out.push_back(array->getElement<std::string>(static_cast<unsigned>(i)));
    return out;
}

std::vector<ldap::Attribute> parseJsonAttributes(const std::string& json) {
    std::vector<ldap::Attribute> out;
    if (json.empty()) return out;
    Poco::JSON::Parser parser;
    auto object = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
    for (const auto& [name, value] : *object) {
        ldap::Attribute& a = out.emplace_back();
        a.name = name;
        auto array = value.extract<Poco::JSON::Array::Ptr>();
        for (std::size_t i = 0; i < array->size(); ++i)
            a.values.push_back(array->getElement<std::string>(static_cast<unsigned>(i)));
    }
    return out;
}

std::string nowIso() {
    return Poco::DateTimeFormatter::format(Poco::DateTime(), "%Y-%m-%dT%H:%M:%S.%iZ");
}

}  // namespace hub::identity::detail
