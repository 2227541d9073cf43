#include "hub/ldap/Filter.h"

#include "hub/common/Utf8.h"

namespace hub::ldap {

namespace {

void appendHex(std::string& out, unsigned char c) {
    static const char digits[] = "0123456789abcdef";
    out += '\\';
    out += digits[c >> 4];
    out += digits[c & 0x0F];
}

}  // namespace

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
