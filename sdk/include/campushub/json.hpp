// CampusHub plugin SDK — typed JSON helpers for plugin authors, on RapidJSON
// (header-only; Debian's rapidjson-dev, the library hubd itself uses). Nothing
// here links against anything: the helpers are inline templates compiled into
// the plugin and hidden there (campushub_add_plugin builds with
// -fvisibility=hidden), so a plugin never binds to a JSON library inside hubd
// and may use its own Poco, or none (docs/sdk/README.md, "Libraries a plugin
// may link"). Only JSON text crosses the ABI.
//
//   auto request = campushub::json::parseObject(input);      // InvalidArgument unless an object
//   std::string id = campushub::json::requireString(request, "student_id", 32);
//   int limit = static_cast<int>(campushub::json::optionalInt(request, "limit", 20));
//   campushub::json::Writer out;                             // {"id":"...","ok":true}
//   out.object().key("id").string(id).key("ok").boolean(true).end();
//   return out.str();
//
// Since SDK 1.1; the 1.0 SDK's json.hpp was on Poco::JSON (parseObject returned
// a Poco::JSON::Object::Ptr): replace o->getValue / optValue with the
// functions below, or parse with your own library.
#pragma once

#include "campushub/plugin.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace campushub::json {

using Document = rapidjson::Document;
using Value = rapidjson::Value;

/// How every helper here parses: iteratively (no recursion, so 100,000 levels of
/// nesting cannot overflow the stack), UTF-8 validated, the whole text (trailing
/// bytes and an embedded NUL are errors).
inline constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

/// Parses text as any JSON value; InvalidArgument naming the problem and its
/// byte offset otherwise.
inline Document parse(std::string_view text) {
    // RapidJSON takes a NUL for the end of the text: "{}\0junk" would pass.
    if (auto nul = text.find('\0'); nul != std::string_view::npos)
        throw InvalidArgument("input is not valid JSON: a NUL byte (at byte " + std::to_string(nul) + ")");
    Document document;
    document.Parse<kParseFlags>(text.data(), text.size());
    if (document.HasParseError())
        throw InvalidArgument(std::string("input is not valid JSON: ") +
                              rapidjson::GetParseError_En(document.GetParseError()) + " (at byte " +
                              std::to_string(document.GetErrorOffset()) + ")");
    return document;
}

/// Parses the input of an operation as a JSON object; InvalidArgument otherwise.
inline Document parseObject(std::string_view input) {
    Document document = parse(input);
    if (!document.IsObject()) throw InvalidArgument("input must be a JSON object");
    return document;
}

/// The member field of object, or nullptr when object is not an object or has
/// no such member.
inline const Value* member(const Value& object, std::string_view field) {
    if (!object.IsObject()) return nullptr;
    auto it = object.FindMember(Value(rapidjson::StringRef(field.data(), field.size())));
    return it == object.MemberEnd() ? nullptr : &it->value;
}

/// A string member, if present; InvalidArgument when present but not a string
/// or longer than maxLength bytes.
inline std::string optionalString(const Value& object, std::string_view field, std::string fallback = {},
                                  std::size_t maxLength = 4096) {
    const Value* v = member(object, field);
    if (!v) return fallback;
    if (!v->IsString()) throw InvalidArgument("field must be a string: " + std::string(field));
    if (v->GetStringLength() > maxLength) throw InvalidArgument("field too long: " + std::string(field));
    return std::string(v->GetString(), v->GetStringLength());
}

/// A required, non-empty string member; InvalidArgument naming the field otherwise.
inline std::string requireString(const Value& object, std::string_view field, std::size_t maxLength = 4096) {
    if (!member(object, field)) throw InvalidArgument("missing field: " + std::string(field));
    std::string s = optionalString(object, field, {}, maxLength);
    if (s.empty()) throw InvalidArgument("field must not be empty: " + std::string(field));
    return s;
}

/// An integer member, if present; InvalidArgument when present but not an
/// integer that fits 64 bits.
inline std::int64_t optionalInt(const Value& object, std::string_view field, std::int64_t fallback = 0) {
    const Value* v = member(object, field);
    if (!v) return fallback;
    if (!v->IsInt64()) throw InvalidArgument("field must be an integer: " + std::string(field));
    return v->GetInt64();
}

/// A boolean member, if present; InvalidArgument when present but not a boolean.
inline bool optionalBool(const Value& object, std::string_view field, bool fallback = false) {
    const Value* v = member(object, field);
    if (!v) return fallback;
    if (!v->IsBool()) throw InvalidArgument("field must be true or false: " + std::string(field));
    return v->GetBool();
}

/// Serializes a value compactly (UTF-8 as is, control characters escaped).
inline std::string stringify(const Value& value) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    value.Accept(writer);
    return std::string(buffer.GetString(), buffer.GetSize());
}

/// Writes JSON text as it goes, without building a document: chain the calls,
/// then take str(). Keys and strings are escaped; a string that is not valid
/// UTF-8 throws InvalidArgument.
class Writer {
public:
    Writer& object() {
        open_ += '{';
        return check(writer_.StartObject());
    }
    Writer& array() {
        open_ += '[';
        return check(writer_.StartArray());
    }
    /// Closes the innermost object or array.
    Writer& end() {
        if (open_.empty()) throw InvalidArgument("JSON writer: end() without object() or array()");
        char open = open_.back();
        open_.pop_back();
        return check(open == '{' ? writer_.EndObject() : writer_.EndArray());
    }
    Writer& key(std::string_view k) { return check(writer_.Key(k.data(), size(k))); }
    Writer& string(std::string_view s) { return check(writer_.String(s.data(), size(s))); }
    Writer& integer(std::int64_t n) { return check(writer_.Int64(n)); }
    Writer& number(double d) { return check(writer_.Double(d)); }
    Writer& boolean(bool b) { return check(writer_.Bool(b)); }
    Writer& null() { return check(writer_.Null()); }
    /// Inserts text that is already JSON (e.g. a vendor's answer) as one value;
    /// the caller vouches that it is valid.
    Writer& raw(std::string_view json) {
        return check(writer_.RawValue(json.data(), json.size(), rapidjson::kObjectType));
    }

    /// The text so far; whole once every object() and array() has its end().
    std::string str() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

private:
    static rapidjson::SizeType size(std::string_view s) {
        if (s.size() > 0xFFFFFFFFu) throw InvalidArgument("JSON writer: string longer than 4 GiB");
        return static_cast<rapidjson::SizeType>(s.size());
    }
    Writer& check(bool ok) {
        if (!ok) throw InvalidArgument("JSON writer: a string is not valid UTF-8");
        return *this;
    }

    rapidjson::StringBuffer buffer_;
    rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::CrtAllocator,
                      rapidjson::kWriteValidateEncodingFlag>
        writer_{buffer_};
    std::string open_;  // the kinds still open, innermost last
};

}  // namespace campushub::json
