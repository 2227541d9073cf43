#pragma once

#include <string_view>

namespace hub::auth::detail {

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
