#pragma once

#include <string>
#include <string_view>

namespace hub::ldap {

/// Escapes `value` for use as an assertion value inside an LDAP search filter
/// (RFC 4515 section 3): `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`,
/// `\5c`, `\00`. Bytes that are not part of well-formed UTF-8 are hex-escaped as
/// well, so the filter stays a valid UTF-8 string. Every filter built from user
/// input must go through this:
///
///     "(&(objectClass=person)(uid=" + escapeFilterValue(userInput) + "))"
std::string escapeFilterValue(std::string_view value);

}  // namespace hub::ldap
