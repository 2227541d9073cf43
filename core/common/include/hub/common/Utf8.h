#pragma once

// UTF-8 checks for text from outside the hub: request targets and bodies, token
// claims, directory values, plugin answers and events. The one implementation in
// the core and the connectors (the SDK keeps its own copy: it must stand alone).

#include <cstddef>
#include <string_view>

namespace hub {

/// Length of the well-formed UTF-8 sequence that starts at text[at]: 1 for an
/// ASCII byte (NUL included), 2 to 4 for a longer character, and 0 when the bytes
/// there are not one: a stray continuation byte, an overlong form, a UTF-16
/// surrogate, a code point past U+10FFFF, or a sequence cut short by the end of
/// the text. Requires at < text.size().
inline std::size_t utf8SequenceLength(std::string_view text, std::size_t at) noexcept {
    // Inline: the inner step of every scan, JSON strings written included.
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(at);
    if (c < 0x80) return 1;
    // RFC 3629's table: the lead byte fixes the length and the range of the second
    // byte, which is what rules out overlong forms, surrogates and values past
    // U+10FFFF; the other continuation bytes are 80..BF.
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) n = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) n = 3;
    else if (c == 0xED) n = 3, hi = 0x9F;
    else if (c == 0xF0) n = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) n = 4, hi = 0x8F;
    else return 0;
    if (n > text.size() - at || byte(at + 1) < lo || byte(at + 1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if ((byte(at + k) & 0xC0) != 0x80) return 0;
    return n;
}

/// True when all of `text` is well-formed UTF-8 (RFC 3629), by the rules above.
bool isValidUtf8(std::string_view text) noexcept;

}  // namespace hub
