#pragma once

// For the catch-alls at the edges of the hub's threads and of the plugin ABI:
// whatever was thrown, say what it was, and never throw while saying it.

#include <string>

namespace hub {

/// Describes the exception being handled (call it inside a catch block): a
/// Poco::Exception's displayText(), a std::exception's what(), or a note that
/// it was something else (e.g. `throw 42`). Never throws; "" outside a handler.
std::string currentExceptionText() noexcept;

}  // namespace hub
