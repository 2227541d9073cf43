#pragma once

// Small, fast JSON writing for the sync's hot path (100,000 rows per run), and
// Poco::JSON-based reading for the lookups. Private to hub::identity.

#include "hub/ldap/Entry.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hub::identity::detail {

void appendJsonString(std::string& out, std::string_view s);
std::string jsonList(const std::vector<std::string>& values);
/// jsonList into `out`, reusing its buffer.
void assignJsonList(std::string& out, const std::vector<std::string>& values);
/// {"attr": ["v1", "v2"], ...} in entry order.
std::string jsonAttributes(const std::vector<ldap::Attribute>& attributes);

std::vector<std::string> parseJsonList(const std::string& json);
std::vector<ldap::Attribute> parseJsonAttributes(const std::string& json);

/// FNV-1a 64, hex. Good enough to tell "changed" from "unchanged".
class Hasher {
public:
    void add(std::string_view s) {
        for (unsigned char c : s) {
            h_ ^= c;
            h_ *= 0x100000001b3ULL;
        }
        h_ ^= 0xff;  // field separator
        h_ *= 0x100000001b3ULL;
    }
    void add(const std::vector<std::string>& list) {
        for (const auto& s : list) add(s);
        add(std::string_view("\x01", 1));
    }
    std::string hex() const;

private:
    std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

/// Current UTC time, ISO 8601 with milliseconds.
std::string nowIso();

}  // namespace hub::identity::detail
