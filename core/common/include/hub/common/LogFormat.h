#pragma once

namespace hub {

/// The Poco::PatternFormatter pattern of hubd's console log lines, e.g.
/// `2026-12-06T19:50:02.113 I [hub.plugin.library] ready`: ISO time (UTC), the
/// priority's letter, the logger's name, the text. hub-plugin-worker writes its
/// plugin's lines (to the stderr it shares with hubd) with the same pattern, so
/// a process-isolated plugin's line reads like an in-process one's.
inline constexpr const char* kLogPattern = "%Y-%m-%dT%H:%M:%S.%i %q [%s] %t";

}  // namespace hub
