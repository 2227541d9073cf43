#include "EventMask.h"

#include "hub/common/PersonalDataMask.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <sstream>

namespace hub::events {

namespace {

using Poco::Dynamic::Var;

// Every scalar below a personal field, masked whole.
Var maskAll(const Var& value) {
    if (value.type() == typeid(Poco::JSON::Object::Ptr)) {
        auto object = value.extract<Poco::JSON::Object::Ptr>();
        for (const auto& name : object->getNames()) object->set(name, maskAll(object->get(name)));
        return object;
    }
    if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
        auto array = value.extract<Poco::JSON::Array::Ptr>();
        for (unsigned i = 0; i < array->size(); ++i) array->set(i, maskAll(array->get(i)));
        return array;
    }
    if (value.isEmpty() || value.type() == typeid(bool)) return value;
    return EventMask::maskValue(value.convert<std::string>());
}

// Personal fields masked whole, other strings masked as free text.
Var maskFields(const Var& value, const std::set<std::string>& personal) {
    if (value.type() == typeid(Poco::JSON::Object::Ptr)) {
        auto object = value.extract<Poco::JSON::Object::Ptr>();
        for (const auto& name : object->getNames())
            object->set(name, personal.count(name) ? maskAll(object->get(name))
                                                   : maskFields(object->get(name), personal));
        return object;
    }
    if (value.type() == typeid(Poco::JSON::Array::Ptr)) {
        auto array = value.extract<Poco::JSON::Array::Ptr>();
        for (unsigned i = 0; i < array->size(); ++i) array->set(i, maskFields(array->get(i), personal));
        return array;
    }
    if (value.isString()) return log::maskedPersonalData(value.extract<std::string>());
    return value;
}

}  // namespace

EventMask::EventMask(const std::vector<std::string>& personal, const std::vector<std::string>& granted) {
    active_ = std::find(granted.begin(), granted.end(), "*") == granted.end();
    for (const auto& field : personal)
        if (std::find(granted.begin(), granted.end(), field) == granted.end()) masked_.insert(field);
}

std::string EventMask::maskValue(const std::string& text) {
    if (text.empty()) return text;
    // The first UTF-8 sequence whole (stored text is valid UTF-8).
    std::size_t first = 1;
    while (first < text.size() && (static_cast<unsigned char>(text[first]) & 0xC0) == 0x80) ++first;
    return text.substr(0, first) + "***";
}

std::string EventMask::apply(const std::string& eventJson) const {
    if (!active_) return eventJson;
    try {
        Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));  // keeps the attributes' order
        Var parsed = parser.parse(eventJson);
        if (parsed.type() != typeid(Poco::JSON::Object::Ptr)) return log::maskedPersonalData(eventJson);
        auto event = parsed.extract<Poco::JSON::Object::Ptr>();
        if (event->has("data")) event->set("data", maskFields(event->get("data"), masked_));
        std::ostringstream out;
        Poco::JSON::Stringifier::condense(event, out);
        return out.str();
    } catch (const Poco::Exception&) {
        return log::maskedPersonalData(eventJson);
    }
}

}  // namespace hub::events
