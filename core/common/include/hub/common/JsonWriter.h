#pragma once

// JSON text building for the hub's hot paths, precomputed answers and stored
// columns: each call appends to one string, with no value tree. Poco 1.11's
// Stringifier needs a Poco::JSON tree (allocations per value) and copies invalid
// UTF-8 through unchanged, so its text can be invalid JSON (other non-ASCII it
// keeps as is, unless asked to \u-escape it). Here the output is always valid
// JSON: invalid UTF-8 in the input becomes U+FFFD (written \ufffd); control
// characters become \n, \r, \t or \u00XX (Poco writes \b and \f for two of them);
// everything else, Chinese included, is copied as is. The exact bytes matter:
// identity hashes stored person fields written with appendString (see
// core/identity/src/FieldHashes.h), so a change here must keep them.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace hub::json {

/// Appends s as a quoted JSON string.
void appendString(std::string& out, std::string_view s);

/// Appends "key": (quoted, escaped, with the colon).
void appendKey(std::string& out, std::string_view key);

/// Appends ["v1","v2",...].
void appendStringArray(std::string& out, std::span<const std::string> values);

/// Appends a number: integral values without a fraction, others shortest round-trip.
void appendNumber(std::string& out, double value);
void appendNumber(std::string& out, std::int64_t value);
void appendNumber(std::string& out, std::size_t value);

}  // namespace hub::json
