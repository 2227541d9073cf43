#pragma once

#include <string>
#include <string_view>

namespace hub::log {

/// Masks personal data in a log text, in one pass:
/// - an 18-character resident ID number (17 digits and a digit or X) keeps its
///   first 6 (the region) and last 4: 110101********1234;
/// - an 11-digit mainland mobile number (1[3-9]…) keeps 3 + 4: 138****5678;
/// - an e-mail address keeps the first character of its local part: z***@campus.edu.
/// A digit run counts only as a whole (not part of a longer run), so ids,
/// timestamps and counters are left alone. Names cannot be recognised in free
/// text: code does not log them (docs/operator.md, "Logging").
/// Returns true and writes `out` when something was masked; else leaves `out` alone.
bool maskPersonalData(std::string_view text, std::string& out);

/// The masked text (a copy of `text` when nothing was masked).
std::string maskedPersonalData(std::string_view text);

}  // namespace hub::log
