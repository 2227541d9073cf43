#include "Json.h"

#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <cstring>

namespace hub::identity::detail {

namespace {

// Whether any of the 8 bytes in `w` needs escaping: below 0x20, '"' or '\\'. The
// classic "has a zero byte" test (exact for the word as a whole), applied to w
// shifted down by 0x20 and to w XOR each quote character.
bool anyNeedsEscape(std::uint64_t w) {
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    auto hasZero = [](std::uint64_t v) { return ((v - ones) & ~v & highs) != 0; };
    bool control = ((w - ones * 0x20) & ~w & highs) != 0;
    return control || hasZero(w ^ (ones * '"')) || hasZero(w ^ (ones * '\\'));
}

}  // namespace

void appendJsonString(std::string& out, std::string_view s) {
    static const char digits[] = "0123456789abcdef";
    // Runs of characters that need no escaping (nearly all of them) are appended in
    // one go, and found 8 bytes at a time: a full sync writes ~12 attribute values
    // per person, and this was the largest single cost of mapping.
    out += '"';
    std::size_t run = 0, i = 0;
    while (i < s.size()) {
        if (i + 8 <= s.size()) {
            std::uint64_t w;
            std::memcpy(&w, s.data() + i, 8);
            if (!anyNeedsEscape(w)) {
                i += 8;
                continue;
            }
        }
        auto c = static_cast<unsigned char>(s[i++]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + run, i - 1 - run);
        run = i;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\u00";
                out += digits[c >> 4];
                out += digits[c & 0x0F];
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}

void assignJsonList(std::string& out, const std::vector<std::string>& values) {
    out.assign(1, '[');
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) out += ',';
        appendJsonString(out, values[i]);
    }
    out += ']';
}

std::string jsonList(const std::vector<std::string>& values) {
    std::string out;
    assignJsonList(out, values);
    return out;
}

std::string jsonAttributes(const std::vector<ldap::Attribute>& attributes) {
    std::string out = "{";
    bool first = true;
    for (const auto& a : attributes) {
        if (!first) out += ',';
        first = false;
        appendJsonString(out, a.name);
        out += ':';
        out += jsonList(a.values);
    }
    out += '}';
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

std::string Hasher::hex() const {
    static const char digits[] = "0123456789abcdef";
    std::string out(16, '0');
    std::uint64_t h = h_;
    for (int i = 15; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = digits[h & 0x0F];
        h >>= 4;
    }
    return out;
}

std::string nowIso() {
    return Poco::DateTimeFormatter::format(Poco::DateTime(), "%Y-%m-%dT%H:%M:%S.%iZ");
}

}  // namespace hub::identity::detail
