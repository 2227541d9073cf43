#include "hub/common/Utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

using hub::isValidUtf8;
using hub::utf8SequenceLength;

namespace {

// Decodes instead of looking up RFC 3629's table, as the checks this one replaced
// did (catalog, host, identity, ldap): the two must agree on every input.
bool referenceValid(const std::string& s) {
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (len == 0 || i + len > s.size()) return false;
        std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
        for (std::size_t k = 1; k < len; ++k) {
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

}  // namespace

TEST(Utf8, AgreesWithADecoderOnEveryStringOfUpToThreeBytes) {
    std::string s;
    for (int a = 0; a < 256; ++a) {
        s.assign(1, static_cast<char>(a));
        ASSERT_EQ(isValidUtf8(s), referenceValid(s)) << a;
        for (int b = 0; b < 256; ++b) {
            s.assign({static_cast<char>(a), static_cast<char>(b)});
            ASSERT_EQ(isValidUtf8(s), referenceValid(s)) << a << ' ' << b;
            // Three bytes only where the first two may still start a character.
            if (a < 0xE0 || b < 0x80 || b > 0xBF) continue;
            for (int c = 0; c < 256; ++c) {
                s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
                ASSERT_EQ(isValidUtf8(s), referenceValid(s)) << a << ' ' << b << ' ' << c;
            }
        }
    }
}

TEST(Utf8, AgreesWithADecoderOnFourByteSequences) {
    for (int a = 0xF0; a < 0x100; ++a)
        for (int b = 0; b < 256; ++b)
            for (int c : {0x00, 0x7F, 0x80, 0x9F, 0xBF, 0xC0, 0xFF})
                for (int d : {0x00, 0x7F, 0x80, 0xBF, 0xC0}) {
                    std::string s{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                                  static_cast<char>(d)};
                    ASSERT_EQ(isValidUtf8(s), referenceValid(s)) << a << ' ' << b << ' ' << c << ' ' << d;
                }
}

TEST(Utf8, SequenceLengths) {
    const std::string text = std::string("a\0", 2) + "é张😀";
    EXPECT_EQ(utf8SequenceLength(text, 0), 1u);
    EXPECT_EQ(utf8SequenceLength(text, 1), 1u);  // NUL is ASCII
    EXPECT_EQ(utf8SequenceLength(text, 2), 2u);
    EXPECT_EQ(utf8SequenceLength(text, 4), 3u);
    EXPECT_EQ(utf8SequenceLength(text, 7), 4u);
    EXPECT_EQ(utf8SequenceLength(text, 3), 0u);                // a continuation byte
    EXPECT_EQ(utf8SequenceLength(text.substr(0, 10), 7), 0u);  // cut short
    EXPECT_EQ(utf8SequenceLength("\xc0\xaf", 0), 0u);          // overlong '/'
    EXPECT_EQ(utf8SequenceLength("\xed\xa0\x80", 0), 0u);      // surrogate
    EXPECT_EQ(utf8SequenceLength("\xf4\x90\x80\x80", 0), 0u);  // past U+10FFFF
}

TEST(Utf8, FindsABadByteAtEveryOffsetOfALongText) {
    // ASCII is checked 8 bytes at a time: the bad byte must be found wherever it is.
    for (const std::string fill : {"a", "张"}) {
        std::string good;
        while (good.size() < 40) good += fill;
        EXPECT_TRUE(isValidUtf8(good));
        for (std::size_t at = 0; at <= good.size(); ++at)
            for (const char* bad : {"\xff", "\x80", "\xc3", "\xe5\xbc", "\xed\xa0\x80"}) {
                std::string s = good.substr(0, at) + bad + good.substr(at);
                EXPECT_FALSE(isValidUtf8(s)) << at << ' ' << s;
            }
    }
    EXPECT_TRUE(isValidUtf8(""));
    EXPECT_TRUE(isValidUtf8("在读证明 Zoë 😀 \x7f"));
}
