#include "hub/common/JsonCheck.h"

#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

using hub::json::isValidJson;

namespace {

std::string errorOf(std::string_view text) {
    std::string error;
    EXPECT_FALSE(isValidJson(text, &error)) << text;
    return error;
}

std::string nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

}  // namespace

TEST(JsonCheck, AcceptsEveryKindOfValue) {
    for (std::string_view text : {
             R"({"student_id":"2023010001"})",
             R"({"name":"张三","department":"计算机学院","tags":["本科","2023"],"grade":2023})",
             R"([1,-0,0.5,-1.5e10,2E-3,1e+2,true,false,null,"",{},[]])",
             R"("\"\\\/\b\f\n\r\t\u4e2d\uD83D\uDE00")",
             "  \t\r\n{ \"a\" : [ 1 , 2 ] }  \n",
             "1", "\"x\"", "true", "null", "123456789012345678901234567890",
         })
        EXPECT_TRUE(isValidJson(text)) << text;
}

TEST(JsonCheck, RefusesMalformedTextAndSaysWhere) {
    EXPECT_NE(errorOf("").find("empty"), std::string::npos) << errorOf("");
    EXPECT_NE(errorOf("{\"student_id\":").find("at byte 14"), std::string::npos) << errorOf("{\"student_id\":");
    for (std::string_view text : {
             "   ", "{", "}", "[1,]", "{\"a\":1,}", "{} x", "{}{}", "1 2", "// c\n{}", "{'a':1}",
             "{a:1}", "NaN", "Infinity", "-", "01", "1.", ".5", "1e", "+1", "\"\\x\"", "\"\\u12\"",
             "\"tab\tinside\"", "\"line\ninside\"", "[\"unterminated]", "tru", "nul", "{\"a\" 1}",
             "[1 2]", "\"\\uDE00\"", "\"\\uD83D\"", "\"\\uD83Dx\"",
         })
        EXPECT_FALSE(isValidJson(text)) << text;
    EXPECT_NE(errorOf(std::string_view("{\"a\":1}\0", 8)).find("NUL byte (at byte 7)"), std::string::npos);
    EXPECT_NE(errorOf(R"({"x":"\uDE00"})").find("surrogate"), std::string::npos);
    EXPECT_NE(errorOf(R"({"\uDE00":1})").find("surrogate"), std::string::npos);
}

TEST(JsonCheck, RefusesBadUtf8AnywhereInTheText) {
    for (std::string_view text : {
             "{\"x\":\"\xc3\x28\"}",      // a broken two-byte sequence
             "{\"x\":\"\xed\xa0\x80\"}",  // an encoded surrogate
             "{\"x\":\"\xc0\x80\"}",      // overlong NUL
             "{\"x\":\"\xf4\x90\x80\x80\"}",  // beyond U+10FFFF
             "{\"x\":\"\xfb\xbf\xbf\"}",      // a lead byte past F4 (json_check fuzz target)
             "\xff\xfe{}",                // a UTF-16 byte-order mark
             "{\"\xe4\xb8\":1}",          // truncated 中 in a key
         })
        EXPECT_NE(errorOf(text).find("UTF-8"), std::string::npos) << text;
}

TEST(JsonCheck, LimitsNestingWithoutUsingTheStack) {
    EXPECT_TRUE(isValidJson(nested(hub::json::kMaxDepth)));
    EXPECT_NE(errorOf(nested(hub::json::kMaxDepth + 1)).find("nested deeper than 128"), std::string::npos);
    // Far deeper than any stack would take by recursion.
    EXPECT_FALSE(isValidJson(nested(1'000'000)));
    EXPECT_FALSE(isValidJson(std::string(1'000'000, '[')));
}

TEST(JsonCheck, HandlesLargeDocuments) {
    std::string big = "[";
    for (int i = 0; i < 100'000; ++i) big += (i ? ",\"" : "\"") + std::string("学生") + std::to_string(i) + "\"";
    big += "]";
    EXPECT_TRUE(isValidJson(big));
    big.pop_back();
    EXPECT_FALSE(isValidJson(big));
}

// Poco's parser is what the hub used before and what plugins built with the SDK
// parse with: on valid JSON and on thousands of damaged variants of it, both must
// agree. Mutations use only ASCII, so UTF-8 stays valid and JSON alone decides.
TEST(JsonCheck, AgreesWithPocosParserOnDamagedDocuments) {
    const std::vector<std::string> seeds = {
        R"({"student_id":"2023010001","items":[1,2.5,-3e2,true,false,null],"note":"张三 \u4e2d"})",
        R"([{"a":{"b":[[],{}]}},"x",0,-0.0])",
        R"({"department":"计算机学院","grade":2023,"major":"软件工程","name":"张三","status":"enrolled"})",
    };
    const std::string alphabet = "{}[]\",:0123456789-+.eEtrufalsn \\/u";
    std::mt19937 random(20261128);
    auto pocoAccepts = [](const std::string& text) {
        try {
            Poco::JSON::Parser parser;
            parser.parse(text);
            return true;
        } catch (...) {
            return false;
        }
    };
    int cases = 0, refused = 0;
    for (const auto& seed : seeds) {
        ASSERT_TRUE(isValidJson(seed)) << seed;
        ASSERT_TRUE(pocoAccepts(seed)) << seed;
        for (int i = 0; i < 3000; ++i) {
            std::string text = seed;
            int edits = 1 + static_cast<int>(random() % 3);
            for (int e = 0; e < edits && !text.empty(); ++e) {
                std::size_t at = random() % text.size();
                // Only at ASCII bytes, so a multi-byte character is never split.
                if (static_cast<unsigned char>(text[at]) >= 0x80) continue;
                switch (random() % 3) {
                case 0: text.erase(at, 1); break;
                case 1: text[at] = alphabet[random() % alphabet.size()]; break;
                default: text.insert(at, 1, alphabet[random() % alphabet.size()]); break;
                }
            }
            bool ours = isValidJson(text);
            EXPECT_EQ(ours, pocoAccepts(text)) << text;
            ++cases;
            refused += !ours;
        }
    }
    // The mutations must mostly break the documents, or this test proves little.
    EXPECT_GT(refused, cases / 2);
}
