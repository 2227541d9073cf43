// CampusHub plugin SDK — typed JSON helpers on Poco::JSON for plugin authors.
// Poco stays inside the plugin: only JSON text crosses the ABI.
#pragma once

#include "campushub/plugin.hpp"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <sstream>
#include <string>
#include <string_view>

namespace campushub::json {

/// Parses the input of an operation as a JSON object; InvalidArgument otherwise.
inline Poco::JSON::Object::Ptr parseObject(std::string_view input) {
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var v = parser.parse(std::string(input));
        if (v.type() != typeid(Poco::JSON::Object::Ptr))
            throw InvalidArgument("input must be a JSON object");
        return v.extract<Poco::JSON::Object::Ptr>();
    } catch (const Error&) {
        throw;
    } catch (const Poco::Exception& e) {
        throw InvalidArgument("input is not valid JSON: " + e.message());
    }
}

/// A required, non-empty string member; InvalidArgument naming the field otherwise.
inline std::string requireString(const Poco::JSON::Object::Ptr& object, const std::string& field,
                                 std::size_t maxLength = 4096) {
    if (!object->has(field)) throw InvalidArgument("missing field: " + field);
    Poco::Dynamic::Var v = object->get(field);
    if (!v.isString()) throw InvalidArgument("field must be a string: " + field);
    std::string s = v.extract<std::string>();
    if (s.empty()) throw InvalidArgument("field must not be empty: " + field);
    if (s.size() > maxLength) throw InvalidArgument("field too long: " + field);
    return s;
}

/// Serializes a Poco JSON value compactly.
inline std::string stringify(const Poco::Dynamic::Var& value) {
    std::ostringstream out;
    Poco::JSON::Stringifier::condense(value, out);
    return out.str();
}

}  // namespace campushub::json
