#pragma once

// JSON text building for the hub's hot paths and precomputed answers. Poco JSON
// escapes every Chinese character as \uXXXX and allocates per value; these
// append to one string. Output is always valid JSON: invalid UTF-8 in the input
// becomes U+FFFD rather than passing through.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hub::json {

/// True when s is well-formed UTF-8 (no overlongs, surrogates or code points
/// beyond U+10FFFF).
bool isValidUtf8(std::string_view s) noexcept;

/// Appends s as a quoted JSON string.
void appendString(std::string& out, std::string_view s);

/// Appends "key": (quoted, escaped, with the colon).
void appendKey(std::string& out, std::string_view key);

/// Appends a number: integral values without a fraction, others shortest round-trip.
void appendNumber(std::string& out, double value);
void appendNumber(std::string& out, std::int64_t value);
void appendNumber(std::string& out, std::size_t value);

}  // namespace hub::json
