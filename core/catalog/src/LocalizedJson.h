#pragma once

// The catalogue's one JSON shape of its own; everything else is hub::json's
// (core/common). Private to hub::catalog.

#include "hub/catalog/ServiceItem.h"
#include "hub/common/JsonWriter.h"

#include <string>

namespace hub::catalog {

/// Appends {"zh":"..","en":".."}.
inline void appendLocalized(std::string& out, const LocalizedText& text) {
    out += "{\"zh\":";
    json::appendString(out, text.zh);
    out += ",\"en\":";
    json::appendString(out, text.en);
    out += '}';
}

}  // namespace hub::catalog
