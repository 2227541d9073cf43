#pragma once

// JSON text building for the application responses. Poco's Stringifier would
// \u-escape every Chinese character; stored form/result JSON is already valid
// JSON and is copied through as is.

#include "hub/common/JsonWriter.h"

#include <cstdio>
#include <string>
#include <string_view>

namespace hub::flows::json {

using hub::json::appendKey;
using hub::json::appendString;

inline bool validUtf8(std::string_view s) { return hub::json::isValidUtf8(s); }

}  // namespace hub::flows::json
