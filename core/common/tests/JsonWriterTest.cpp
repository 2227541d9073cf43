#include "hub/common/JsonWriter.h"
#include "hub/common/Utf8.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

using namespace hub::json;
using hub::isValidUtf8;

TEST(JsonWriter, EscapesControlsAndKeepsChinese) {
    std::string out;
    appendString(out, "张三 \"quoted\"\\ \n\t\x01");
    EXPECT_EQ(out, "\"张三 \\\"quoted\\\"\\\\ \\n\\t\\u0001\"");
}

TEST(JsonWriter, ReplacesInvalidUtf8) {
    for (std::string bad : {"\xff", "\xc3\x28", "\xed\xa0\x80", "\xe0\x80\xaf", "\xf4\x90\x80\x80", "\xe4\xb8"}) {
        std::string out;
        appendString(out, "a" + bad + "b");
        EXPECT_TRUE(isValidUtf8(out)) << out;
        EXPECT_NE(out.find("\\ufffd"), std::string::npos) << out;
        EXPECT_FALSE(isValidUtf8(bad));
    }
    EXPECT_TRUE(isValidUtf8("在读证明 😀"));
}

// Found by the json_check fuzz target (tests/fuzz): bytes F5-FF were taken for
// the lead of a three-byte sequence, so "\xfb\xbf\xbf" passed as UTF-8 (and a
// body holding it passed the JSON check, and went into answers unreplaced).
TEST(JsonWriter, NoLeadBytePastF4) {
    for (int lead = 0xF5; lead <= 0xFF; ++lead) {
        for (std::string tail : {"\xbf\xbf", "\x80\x80\x80"}) {
            std::string bad = static_cast<char>(lead) + tail;
            EXPECT_FALSE(isValidUtf8(bad)) << std::hex << lead;
            std::string out;
            appendString(out, bad);
            EXPECT_NE(out.find("\\ufffd"), std::string::npos) << out;
        }
    }
}

// Runs of plain text are found 8 bytes at a time: every byte that needs escaping
// must be escaped the same way at every offset, and valid UTF-8 copied as is.
TEST(JsonWriter, EscapesEveryByteTheSameWayAtEveryOffset) {
    auto reference = [](const std::string& s) {
        std::string out = "\"";
        for (unsigned char c : s) {
            char buf[8];
            if (c == '"') out += "\\\"";
            else if (c == '\\') out += "\\\\";
            else if (c == '\n') out += "\\n";
            else if (c == '\r') out += "\\r";
            else if (c == '\t') out += "\\t";
            else if (c < 0x20) std::snprintf(buf, sizeof buf, "\\u%04x", c), out += buf;
            else out += static_cast<char>(c);
        }
        return out + "\"";
    };
    for (std::size_t length : {1u, 7u, 8u, 9u, 15u, 16u, 17u, 25u})
        for (std::size_t at = 0; at < length; ++at)
            for (std::string special : std::vector<std::string>{"\"", "\\", "\n", "\r", "\t", "\x01", "\x1f",
                                                                std::string(1, '\0'), " ", "\x7f", "\b", "\f", "/",
                                                                "张", "😀"}) {
                std::string v(length, 'x');
                v.replace(at, 1, special);
                std::string out;
                appendString(out, v);
                EXPECT_EQ(out, reference(v)) << length << ' ' << at;
            }
}

TEST(JsonWriter, ReplacesABadByteAtEveryOffset) {
    for (std::size_t at = 0; at < 20; ++at) {
        std::string v(20, 'x');
        v[at] = '\xff';
        std::string out;
        appendString(out, v);
        EXPECT_EQ(out, "\"" + v.substr(0, at) + "\\ufffd" + v.substr(at + 1) + "\"") << at;
    }
}

TEST(JsonWriter, StringArrays) {
    std::string out;
    appendStringArray(out, std::vector<std::string>{});
    out += ',';
    appendStringArray(out, std::vector<std::string>{"学生", "a\"b"});
    EXPECT_EQ(out, "[],[\"学生\",\"a\\\"b\"]");
}

TEST(JsonWriter, Numbers) {
    std::string out;
    appendNumber(out, 3.0);
    out += ',';
    appendNumber(out, 0.25);
    out += ',';
    appendNumber(out, std::int64_t{-7});
    out += ',';
    appendNumber(out, std::size_t{42});
    out += ',';
    appendNumber(out, 1.0 / 0.0);
    EXPECT_EQ(out, "3,0.25,-7,42,null");
}
