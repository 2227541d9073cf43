#pragma once

// The identity store's JSON columns (lists of strings, kept attributes) and its
// timestamps. Written with hub::json (core/common); read with Poco::JSON.
// Private to hub::identity.

#include "hub/ldap/Entry.h"

#include <string>
#include <vector>

namespace hub::identity::detail {

/// ["v1","v2"] into `out`, reusing its buffer.
void assignJsonList(std::string& out, const std::vector<std::string>& values);
std::string jsonList(const std::vector<std::string>& values);

std::vector<std::string> parseJsonList(const std::string& json);
/// {"attr": ["v1", "v2"], ...} (Person::attributesJson) back into attributes.
std::vector<ldap::Attribute> parseJsonAttributes(const std::string& json);

/// Current UTC time, ISO 8601 with milliseconds.
std::string nowIso();

}  // namespace hub::identity::detail
