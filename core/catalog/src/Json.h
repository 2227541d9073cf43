#pragma once

// Minimal JSON text building for precomputed catalogue responses. Poco JSON
// would escape every Chinese character as \uXXXX and allocate per value; the
// catalogue's JSON is built once per load, so plain appends are enough.

#include "hub/common/JsonWriter.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

namespace hub::catalog::json {

using hub::json::appendKey;
using hub::json::appendNumber;
using hub::json::appendString;

/// {"zh":"..","en":".."}
template <typename Localized>
void appendLocalized(std::string& out, const Localized& text) {
    out += "{\"zh\":";
    appendString(out, text.zh);
    out += ",\"en\":";
    appendString(out, text.en);
    out += '}';
}

}  // namespace hub::catalog::json
