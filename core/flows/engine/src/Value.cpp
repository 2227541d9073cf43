#include "hub/flows/engine/Value.h"

#include "hub/common/JsonWriter.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cmath>
#include <stdexcept>

namespace hub::flows::engine {

namespace {

const Value kNull;

Value fromVar(const Poco::Dynamic::Var& var, int depth) {
    if (depth > 64) throw std::invalid_argument("JSON nested deeper than 64 levels");
    if (var.isEmpty()) return Value();
    if (var.type() == typeid(Poco::JSON::Object::Ptr)) {
        auto object = var.extract<Poco::JSON::Object::Ptr>();
        Value::Object out;
        for (const auto& [key, member] : *object) out.emplace(key, fromVar(member, depth + 1));
        return Value(std::move(out));
    }
    if (var.type() == typeid(Poco::JSON::Array::Ptr)) {
        auto array = var.extract<Poco::JSON::Array::Ptr>();
        Value::Array out;
        out.reserve(array->size());
        for (const auto& member : *array) out.push_back(fromVar(member, depth + 1));
        return Value(std::move(out));
    }
    if (var.type() == typeid(bool)) return Value(var.extract<bool>());
    if (var.isString()) return Value(var.convert<std::string>());
    if (var.isNumeric()) return Value(var.convert<double>());
    return Value(var.convert<std::string>());
}

}  // namespace

const Value& Value::member(std::string_view key) const {
    if (!isObject()) return kNull;
    const auto& object = asObject();
    auto found = object.find(key);
    return found == object.end() ? kNull : found->second;
}

void Value::set(const std::string& key, Value value) {
    if (isObject()) {
        // Nobody else holds this object: change it in place (the engine sets
        // variables one by one; a copy each time would be quadratic).
        auto& object = std::get<std::shared_ptr<Object>>(data_);
        if (object.use_count() == 1) {
            (*object)[key] = std::move(value);
            return;
        }
    }
    auto copy = isObject() ? std::make_shared<Object>(asObject()) : std::make_shared<Object>();
    (*copy)[key] = std::move(value);
    data_ = std::move(copy);
}

bool Value::operator==(const Value& other) const {
    if (type() != other.type()) return false;
    switch (type()) {
    case Type::Null: return true;
    case Type::Boolean: return asBoolean() == other.asBoolean();
    case Type::Number: return asNumber() == other.asNumber();
    case Type::String: return asString() == other.asString();
    case Type::Array: return asArray() == other.asArray();
    case Type::Object: return asObject() == other.asObject();
    }
    return false;
}

void Value::appendJson(std::string& out) const {
    switch (type()) {
    case Type::Null: out += "null"; break;
    case Type::Boolean: out += asBoolean() ? "true" : "false"; break;
    case Type::Number:
        if (std::isfinite(asNumber())) json::appendNumber(out, asNumber());
        else out += "null";
        break;
    case Type::String: json::appendString(out, asString()); break;
    case Type::Array: {
        out += '[';
        bool first = true;
        for (const auto& member : asArray()) {
            if (!first) out += ',';
            first = false;
            member.appendJson(out);
        }
        out += ']';
        break;
    }
    case Type::Object: {
        out += '{';
        bool first = true;
        for (const auto& [key, member] : asObject()) {
            if (!first) out += ',';
            first = false;
            json::appendKey(out, key);
            member.appendJson(out);
        }
        out += '}';
        break;
    }
    }
}

std::string Value::toJson() const {
    std::string out;
    appendJson(out);
    return out;
}

Value Value::fromJson(std::string_view text) {
    try {
        Poco::JSON::Parser parser;
        parser.setDepth(66);
        // In an array: Poco 1.11 takes no bare scalar at the top.
        auto wrapped = parser.parse("[" + std::string(text) + "]").extract<Poco::JSON::Array::Ptr>();
        if (wrapped->size() != 1) throw std::invalid_argument("not one JSON value");
        return fromVar(wrapped->get(0), 0);
    } catch (const Poco::Exception& e) {
        throw std::invalid_argument("invalid JSON: " + e.displayText());
    }
}

const char* Value::typeName() const noexcept {
    switch (type()) {
    case Type::Null: return "null";
    case Type::Boolean: return "boolean";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "list";
    case Type::Object: return "context";
    }
    return "?";
}

}  // namespace hub::flows::engine
