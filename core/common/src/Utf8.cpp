#include "hub/common/Utf8.h"

#include <cstdint>
#include <cstring>

namespace hub {

bool isValidUtf8(std::string_view text) noexcept {
    const std::size_t size = text.size();
    std::size_t i = 0;
    while (i < size) {
        // ASCII, most of what the hub checks (JSON bodies on every plugin call), 8
        // bytes at a time.
        if (size - i >= 8) {
            std::uint64_t word;
            std::memcpy(&word, text.data() + i, 8);
            if ((word & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        if (static_cast<unsigned char>(text[i]) < 0x80) {
            ++i;
            continue;
        }
        const std::size_t n = utf8SequenceLength(text, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

}  // namespace hub
