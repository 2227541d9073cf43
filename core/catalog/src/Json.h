#pragma once

// Minimal JSON text building for precomputed catalogue responses. Poco JSON
// would escape every Chinese character as \uXXXX and allocate per value; the
// catalogue's JSON is built once per load, so plain appends are enough.

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

namespace hub::catalog::json {

inline void appendString(std::string& out, std::string_view s) {
    out += '"';
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\u%04x", c);
                out += buf;
            } else {
                out += ch;  // UTF-8 passes through unchanged
            }
        }
    }
    out += '"';
}

inline void appendNumber(std::string& out, double value) {
    char buf[32];
    if (std::nearbyint(value) == value && std::fabs(value) < 1e15) {
        auto r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(value));
        out.append(buf, r.ptr);
    } else {
        auto r = std::to_chars(buf, buf + sizeof buf, value);
        out.append(buf, r.ptr);
    }
}

inline void appendNumber(std::string& out, std::size_t value) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
}

/// "key":
inline void appendKey(std::string& out, std::string_view key) {
    appendString(out, key);
    out += ':';
}

/// {"zh":"..","en":".."}
template <typename Localized>
void appendLocalized(std::string& out, const Localized& text) {
    out += "{\"zh\":";
    appendString(out, text.zh);
    out += ",\"en\":";
    appendString(out, text.en);
    out += '}';
}

}  // namespace hub::catalog::json
