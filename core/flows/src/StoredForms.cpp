#include "StoredForms.h"

#include "hub/common/JsonWriter.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <sstream>

namespace hub::flows::detail {

std::string formatTimestamp(const Poco::Timestamp& ts) {
    return Poco::DateTimeFormatter::format(ts, "%Y-%m-%dT%H:%M:%S.%iZ");
}

std::string joinMaterials(const std::vector<std::string>& materials) {
    std::string out;
    json::appendStringArray(out, materials);
    return out;
}

std::vector<std::string> parseMaterials(const std::string& text) {
    std::vector<std::string> out;
    Poco::JSON::Parser parser;
    auto array = parser.parse(text).extract<Poco::JSON::Array::Ptr>();
    for (std::size_t i = 0; i < array->size(); ++i)
        out.push_back(array->getElement<std::string>(static_cast<unsigned>(i)));
    return out;
}

std::vector<std::string> normalizedMaterials(std::vector<std::string> materials) {
    std::sort(materials.begin(), materials.end());
    materials.erase(std::unique(materials.begin(), materials.end()), materials.end());
    return materials;
}

Poco::JSON::Object::Ptr parseObject(const std::string& text) {
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var parsed = parser.parse(text);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr)) return parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception&) {
    }
    return nullptr;
}

std::string canonical(Poco::JSON::Object::Ptr object) {
    std::ostringstream out;
    object->setEscapeUnicode(false);
    object->stringify(out);
    return out.str();
}

}  // namespace hub::flows::detail
