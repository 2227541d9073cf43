// hub::ldap::escapeFilterValue (connectors/ldap), which every LDAP filter built
// from user input goes through. Oracles: the result is UTF-8, holds none of the
// characters RFC 4515 reserves unescaped, and unescapes to exactly the input.
#include "FuzzSupport.h"

#include "hub/common/Utf8.h"
#include "hub/ldap/Filter.h"

namespace {

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view value(reinterpret_cast<const char*>(data), size);
    const std::string escaped = hub::ldap::escapeFilterValue(value);
    if (!hub::isValidUtf8(escaped)) hub::fuzz::fail("the escaped value is not UTF-8");
    std::string back;
    for (std::size_t i = 0; i < escaped.size(); ++i) {
        char c = escaped[i];
        if (c == '*' || c == '(' || c == ')' || c == '\0') hub::fuzz::fail("a reserved character is left unescaped");
        if (c != '\\') {
            back += c;
            continue;
        }
        int high = i + 1 < escaped.size() ? hexValue(escaped[i + 1]) : -1;
        int low = i + 2 < escaped.size() ? hexValue(escaped[i + 2]) : -1;
        if (high < 0 || low < 0) hub::fuzz::fail("a backslash not followed by two hex digits");
        back += static_cast<char>(high * 16 + low);
        i += 2;
    }
    if (back != value) hub::fuzz::fail("the escaped value does not unescape to the input");
    return 0;
}
