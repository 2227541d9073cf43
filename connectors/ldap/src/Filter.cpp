#include "hub/ldap/Filter.h"

namespace hub::ldap {

namespace {

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 if malformed.
std::size_t utf8SequenceLength(std::string_view text, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char c = byte(i);
    if (c < 0x80) return 1;
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) { n = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) n = 3;
    else if (c == 0xED) { n = 3; hi = 0x9F; }  // no UTF-16 surrogates
    else if (c >= 0xEE && c <= 0xEF) n = 3;
    else if (c == 0xF0) { n = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) { n = 4; hi = 0x8F; }  // <= U+10FFFF
    else return 0;
    if (i + n > text.size()) return 0;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
    return n;
}

void appendHex(std::string& out, unsigned char c) {
    static const char digits[] = "0123456789abcdef";
    out += '\\';
    out += digits[c >> 4];
    out += digits[c & 0x0F];
}

}  // namespace

bool isValidUtf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        std::size_t n = utf8SequenceLength(text, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string escapeFilterValue(std::string_view value) {
    std::string out;
    out.reserve(value.size() + 8);
    for (std::size_t i = 0; i < value.size();) {
        unsigned char c = static_cast<unsigned char>(value[i]);
        if (c == '*' || c == '(' || c == ')' || c == '\\' || c == 0) {
            appendHex(out, c);
            ++i;
            continue;
        }
        std::size_t n = utf8SequenceLength(value, i);
        if (n == 0) {
            // A stray byte: escaped, so the filter stays valid UTF-8 and means exactly
            // "this octet" to the server.
            appendHex(out, c);
            ++i;
            continue;
        }
        out.append(value.substr(i, n));
        i += n;
    }
    return out;
}

}  // namespace hub::ldap
