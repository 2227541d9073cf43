#include "hub/ldap/Entry.h"

namespace hub::ldap {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        unsigned char x = static_cast<unsigned char>(a[i]);
        unsigned char y = static_cast<unsigned char>(b[i]);
        if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
        if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
        if (x != y) return false;
    }
    return true;
}

const std::vector<std::string>& Entry::values(std::string_view name) const {
    static const std::vector<std::string> none;
    for (const auto& a : attributes)
        if (equalsIgnoreCase(a.name, name)) return a.values;
    return none;
}

std::string Entry::first(std::string_view name, std::string_view fallback) const {
    const auto& v = values(name);
    return v.empty() ? std::string(fallback) : v.front();
}

bool Entry::has(std::string_view name) const {
    for (const auto& a : attributes)
        if (equalsIgnoreCase(a.name, name)) return true;
    return false;
}

bool Entry::hasValue(std::string_view name, std::string_view value) const {
    for (const auto& v : values(name))
        if (equalsIgnoreCase(v, value)) return true;
    return false;
}

}  // namespace hub::ldap
