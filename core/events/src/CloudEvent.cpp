#include "hub/events/CloudEvent.h"

#include "hub/common/Utf8.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/DateTimeParser.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/JSONString.h>
#include <Poco/Timestamp.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <set>
#include <sstream>
#include <typeinfo>

namespace hub::events {

POCO_IMPLEMENT_EXCEPTION(EventError, Poco::DataFormatException, "Invalid event")

namespace {

// Parsing is recursive in places and destroying a deeply nested Var recurses
// too; hostile input of 100k '[' must not reach the stack limit.
constexpr int MaxNesting = 64;
constexpr std::size_t MaxIdLength = 256;
constexpr std::size_t MaxAttributeLength = 1024;

std::string quoted(std::string_view s) {
    std::string shown(s.substr(0, 80));
    if (s.size() > 80) shown += "...";
    return "'" + shown + "'";
}

int nestingDepth(std::string_view json) {
    int depth = 0;
    int deepest = 0;
    bool inString = false;
    for (std::size_t i = 0; i < json.size(); ++i) {
        char c = json[i];
        if (inString) {
            if (c == '\\') ++i;
            else if (c == '"') inString = false;
            continue;
        }
        if (c == '"') inString = true;
        else if (c == '{' || c == '[') deepest = std::max(deepest, ++depth);
        else if (c == '}' || c == ']') --depth;
    }
    return deepest;
}

Poco::Dynamic::Var parseJson(std::string_view json, const std::string& what) {
    if (!isValidUtf8(json)) throw EventError(what + " is not valid UTF-8");
    if (nestingDepth(json) > MaxNesting)
        throw EventError(what + " is nested deeper than " + std::to_string(MaxNesting) + " levels");
    try {
        Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
        return parser.parse(std::string(json));
    } catch (const Poco::Exception& e) {
        throw EventError(what + " is not JSON: " + e.displayText());
    }
}

std::string requireString(const Poco::JSON::Object& o, const std::string& name, bool required) {
    if (!o.has(name)) {
        if (required) throw EventError("attribute '" + name + "' is missing");
        return {};
    }
    Poco::Dynamic::Var v = o.get(name);
    if (!v.isString()) throw EventError("attribute '" + name + "' must be a string");
    return v.extract<std::string>();
}

}  // namespace

const std::vector<std::string>& knownEventTypes() {
    static const std::vector<std::string> types{
        std::string(EventType::ApplicationSubmitted), std::string(EventType::ApplicationStatusChanged),
        std::string(EventType::ApprovalRequested),    std::string(EventType::ApprovalDecided),
        std::string(EventType::IdentityChanged),      std::string(EventType::PluginHealthChanged),
        "edu.campus.hub.task.reminder",  // a flow's review task reminder (core/flows FlowRunner)
        // The reference adapters' own (plugins/queue_ticket, plugins/kiosk; docs/events).
        "edu.campus.hub.queue.now_serving", "edu.campus.hub.queue.done", "edu.campus.hub.kiosk.job_status_changed"};
    return types;
}

namespace {

// Types plugins declared in their manifests (<emits>), registered as they load;
// only ever added to, as a reloaded plugin's older events may still be relayed.
struct DeclaredTypes {
    std::mutex mutex;
    std::set<std::string, std::less<>> types;
};

DeclaredTypes& declaredTypes() {
    static DeclaredTypes declared;
    return declared;
}

}  // namespace

bool isBuiltInEventType(std::string_view type) {
    const auto& types = knownEventTypes();
    return std::find(types.begin(), types.end(), type) != types.end();
}

void registerEventType(std::string_view type) {
    if (type.rfind("edu.campus.hub.", 0) != 0 || type.size() <= 15 || type.size() > 200)
        throw EventError("event type " + quoted(type) + " is not under edu.campus.hub.");
    auto& declared = declaredTypes();
    std::lock_guard lock(declared.mutex);
    declared.types.emplace(type);
}

bool isKnownEventType(std::string_view type) {
    if (isBuiltInEventType(type)) return true;
    auto& declared = declaredTypes();
    std::lock_guard lock(declared.mutex);
    return declared.types.find(type) != declared.types.end();
}

bool isRfc3339(std::string_view t) {
    auto digits = [&](std::size_t from, std::size_t n) {
        if (t.size() < from + n) return false;
        for (std::size_t i = from; i < from + n; ++i)
            if (!std::isdigit(static_cast<unsigned char>(t[i]))) return false;
        return true;
    };
    if (!(digits(0, 4) && t.size() > 19 && t[4] == '-' && digits(5, 2) && t[7] == '-' &&
          digits(8, 2) && (t[10] == 'T' || t[10] == 't') && digits(11, 2) && t[13] == ':' &&
          digits(14, 2) && t[16] == ':' && digits(17, 2)))
        return false;
    std::size_t i = 19;
    if (t[i] == '.') {
        std::size_t start = ++i;
        while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) ++i;
        if (i == start) return false;
    }
    std::string_view zone = t.substr(i);
    if (zone == "Z" || zone == "z") {
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digits(i + 1, 2) &&
               zone[3] == ':' && digits(i + 4, 2)) {
    } else {
        return false;
    }
    // Field ranges (month 13, Feb 30, hour 25): leave that to Poco's calendar.
    int tzd = 0;
    Poco::DateTime parsed;
    std::string s(t.substr(0, 19));
    if (!Poco::DateTimeParser::tryParse("%Y-%m-%dT%H:%M:%S", s, parsed, tzd)) return false;
    auto num = [&](std::size_t from, std::size_t n) { return std::stoi(std::string(t.substr(from, n))); };
    return parsed.month() == num(5, 2) && parsed.day() == num(8, 2) && parsed.hour() == num(11, 2) &&
           parsed.minute() == num(14, 2) && num(17, 2) <= 60;
}

CloudEvent CloudEvent::create(std::string_view type, std::string_view source,
                              std::string_view subject, std::string_view dataJson) {
    CloudEvent e;
    e.id = Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
    e.source = source;
    e.type = type;
    e.subject = subject;
    e.time = Poco::DateTimeFormatter::format(Poco::Timestamp(), "%Y-%m-%dT%H:%M:%s%z");
    e.data = dataJson;
    e.validate();
    return e;
}

void CloudEvent::validate() const {
    if (specversion != "1.0") throw EventError("specversion must be '1.0', not " + quoted(specversion));
    if (id.empty()) throw EventError("attribute 'id' is empty");
    if (id.size() > MaxIdLength) throw EventError("attribute 'id' is longer than 256 characters");
    if (source.empty()) throw EventError("attribute 'source' is empty");
    for (const auto* attr : {&id, &source, &subject, &type, &time, &datacontenttype}) {
        if (attr->size() > MaxAttributeLength)
            throw EventError("an attribute is longer than 1024 characters: " + quoted(*attr));
        if (!isValidUtf8(*attr)) throw EventError("an attribute is not valid UTF-8");
    }
    if (type.empty()) throw EventError("attribute 'type' is empty");
    if (!isKnownEventType(type)) throw EventError("unknown event type " + quoted(type));
    if (!time.empty() && !isRfc3339(time)) throw EventError("attribute 'time' is not RFC 3339: " + quoted(time));
    if (datacontenttype != "application/json" &&
        datacontenttype.rfind("application/json;", 0) != 0)
        throw EventError("datacontenttype must be application/json, not " + quoted(datacontenttype));
    // Checked before parsing: Poco's parser cannot take a bare scalar.
    auto first = data.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || data[first] != '{') throw EventError("data must be a JSON object");
    Poco::Dynamic::Var d = parseJson(data, "data");
    if (d.type() != typeid(Poco::JSON::Object::Ptr))
        throw EventError("data must be a JSON object");
}

std::string CloudEvent::toJson() const {
    validate();
    std::string out;
    out.reserve(200 + id.size() + source.size() + subject.size() + data.size());
    auto field = [&](const char* name, const std::string& value) {
        out += '"';
        out += name;
        out += "\":";
        out += Poco::toJSON(value, Poco::JSON_WRAP_STRINGS);
        out += ',';
    };
    out += '{';
    field("specversion", specversion);
    field("id", id);
    field("source", source);
    field("type", type);
    if (!subject.empty()) field("subject", subject);
    if (!time.empty()) field("time", time);
    field("datacontenttype", datacontenttype);
    out += "\"data\":";
    out += data;
    out += '}';
    return out;
}

CloudEvent CloudEvent::fromJson(std::string_view json, std::size_t maxBytes) {
    if (json.size() > maxBytes)
        throw EventError("event is " + std::to_string(json.size()) + " bytes, more than the " +
                         std::to_string(maxBytes) + " allowed");
    Poco::Dynamic::Var root = parseJson(json, "event");
    if (root.type() != typeid(Poco::JSON::Object::Ptr)) throw EventError("event is not a JSON object");
    const auto& o = *root.extract<Poco::JSON::Object::Ptr>();
    CloudEvent e;
    e.specversion = requireString(o, "specversion", true);
    e.id = requireString(o, "id", true);
    e.source = requireString(o, "source", true);
    e.type = requireString(o, "type", true);
    e.subject = requireString(o, "subject", false);
    e.time = requireString(o, "time", false);
    if (o.has("datacontenttype")) e.datacontenttype = requireString(o, "datacontenttype", true);
    if (o.has("data_base64")) throw EventError("data_base64 is not accepted; send data as JSON");
    if (!o.has("data") || o.get("data").isEmpty()) {
        e.data = "{}";
    } else {
        std::ostringstream data;
        Poco::JSON::Stringifier::condense(o.get("data"), data);
        e.data = data.str();
    }
    e.validate();
    return e;
}

}  // namespace hub::events
