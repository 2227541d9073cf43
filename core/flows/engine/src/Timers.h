#pragma once

// ISO 8601 timer texts (durations and dates), private to the engine.

#include "hub/flows/engine/Model.h"

#include <string>

namespace hub::flows::engine::detail {

/// Fills `timer` from a timeDuration / timeDate text; returns "" or what is wrong.
std::string parseTimer(const std::string& text, bool isDate, bool workingDays, TimerDefinition& timer);

}  // namespace hub::flows::engine::detail
