#include "hub/common/JsonWriter.h"

#include <gtest/gtest.h>

using namespace hub::json;

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
