#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hub::ldap {

/// One attribute of an entry; LDAP attributes are multi-valued, so values is a list
/// (in the order the server sent them). Values are raw bytes: usually UTF-8 text,
/// but binary attributes (jpegPhoto, objectGUID) come through untouched.
struct Attribute {
    std::string name;
    std::vector<std::string> values;
};

/// One directory entry: its DN and attributes as the server returned them.
class Entry {
public:
    std::string dn;
    std::vector<Attribute> attributes;

    /// The values of attribute `name` (case-insensitive), empty if absent.
    const std::vector<std::string>& values(std::string_view name) const;
    /// The first value of `name`, or `fallback` if the attribute is absent.
    std::string first(std::string_view name, std::string_view fallback = {}) const;
    /// Whether the entry has attribute `name` (case-insensitive).
    bool has(std::string_view name) const;
    /// Whether `value` is one of the values of `name` (value compared case-insensitively,
    /// which is right for objectClass and most directory strings).
    bool hasValue(std::string_view name, std::string_view value) const;
};

/// ASCII case-insensitive comparison, as LDAP attribute names compare.
bool equalsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace hub::ldap
