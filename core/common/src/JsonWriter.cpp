#include "hub/common/JsonWriter.h"

#include "hub/common/Utf8.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace hub::json {

namespace {

// Whether none of the 8 bytes in `w` needs a look of its own: no byte >= 0x80 (the
// start of a character to check), below 0x20, '"' or '\\'. The classic "has a
// byte less than n" test (exact for the word as a whole), applied to w and to w
// XOR each quote character.
bool plainAscii(std::uint64_t w) {
    constexpr std::uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    auto hasZero = [](std::uint64_t v) { return ((v - ones) & ~v & highs) != 0; };
    bool control = ((w - ones * 0x20) & ~w & highs) != 0;
    return (w & highs) == 0 && !control && !hasZero(w ^ (ones * '"')) && !hasZero(w ^ (ones * '\\'));
}

}  // namespace

void appendString(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out.reserve(out.size() + s.size() + 2);
    out += '"';
    // Bytes that need no escaping (nearly all of any text) are appended a run at a
    // time, and found 8 at a time: a full directory sync writes a dozen values per
    // person, and this was the largest single cost of mapping one.
    const char* data = s.data();
    const std::size_t size = s.size();
    std::size_t run = 0, i = 0;
    while (i < size) {
        if (size - i >= 8) {
            std::uint64_t w;
            std::memcpy(&w, data + i, 8);
            if (plainAscii(w)) {
                i += 8;
                continue;
            }
        }
        const auto c = static_cast<unsigned char>(data[i]);
        if (c >= 0x80) {
            if (std::size_t length = utf8SequenceLength(s, i)) {
                i += length;
                continue;
            }
            out.append(data + run, i - run);
            out += "\\ufffd";
            run = ++i;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            ++i;
            continue;
        }
        out.append(data + run, i - run);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xF];
        }
        run = ++i;
    }
    out.append(data + run, size - run);
    out += '"';
}

void appendKey(std::string& out, std::string_view key) {
    appendString(out, key);
    out += ':';
}

void appendStringArray(std::string& out, std::span<const std::string> values) {
    out += '[';
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (i) out += ',';
        appendString(out, values[i]);
    }
    out += ']';
}

void appendNumber(std::string& out, double value) {
    if (!std::isfinite(value)) {
        out += "null";  // JSON has no NaN or infinity
        return;
    }
    char buf[32];
    std::to_chars_result r;
    if (std::nearbyint(value) == value && std::fabs(value) < 1e15)
        r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(value));
    else
        r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
}

void appendNumber(std::string& out, std::int64_t value) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
}

void appendNumber(std::string& out, std::size_t value) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, r.ptr);
}

}  // namespace hub::json
