#pragma once

#include <Poco/UTF8Encoding.h>

#include <string_view>

namespace hub::auth::detail {

/// True if `text` is well-formed UTF-8 (no overlongs, surrogates or values above U+10FFFF).
inline bool isValidUtf8(std::string_view text)
{
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    std::size_t i = 0;
    while (i < text.size())
    {
        const unsigned char lead = bytes[i];
        int length = 0;
        if (lead < 0x80)
            length = 1;
        else if (lead >= 0xC2 && lead <= 0xDF)
            length = 2;
        else if (lead >= 0xE0 && lead <= 0xEF)
            length = 3;
        else if (lead >= 0xF0 && lead <= 0xF4)
            length = 4;
        else
            return false;
        if (static_cast<std::size_t>(length) > text.size() - i || !Poco::UTF8Encoding::isLegal(bytes + i, length))
            return false;
        i += static_cast<std::size_t>(length);
    }
    return true;
}

/// True if `text` holds ASCII control characters (C0 or DEL); they have no place in an identifier.
inline bool hasControlCharacters(std::string_view text)
{
    for (const char c : text)
    {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F)
            return true;
    }
    return false;
}

} // namespace hub::auth::detail
