#pragma once

// Checks that text is one well-formed JSON value (RFC 8259) without building
// it: for bodies the hub passes on unchanged, where a DOM would be thrown away.

#include <cstddef>
#include <string>
#include <string_view>

namespace hub::json {

/// Deepest nesting of arrays and objects accepted, as Poco's parser.
inline constexpr std::size_t kMaxDepth = 128;

/// True when `text` is exactly one JSON value in valid UTF-8, nested at most
/// kMaxDepth deep. Otherwise false, and `error` (when given) says what is wrong
/// and at which byte; it never quotes the input.
bool isValidJson(std::string_view text, std::string* error = nullptr);

}  // namespace hub::json
