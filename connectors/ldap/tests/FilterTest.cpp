#include "hub/ldap/Filter.h"

#include "hub/common/Utf8.h"

#include <gtest/gtest.h>

using hub::ldap::escapeFilterValue;
using hub::isValidUtf8;

TEST(EscapeFilterValue, EscapesTheRfc4515Specials) {
    EXPECT_EQ(escapeFilterValue("plain"), "plain");
    EXPECT_EQ(escapeFilterValue("*"), "\\2a");
    EXPECT_EQ(escapeFilterValue("a(b)c"), "a\\28b\\29c");
    EXPECT_EQ(escapeFilterValue("back\\slash"), "back\\5cslash");
    EXPECT_EQ(escapeFilterValue(std::string("nul\0byte", 8)), "nul\\00byte");
}

TEST(EscapeFilterValue, InjectionAttemptsBecomeLiterals) {
    EXPECT_EQ(escapeFilterValue("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
    EXPECT_EQ(escapeFilterValue("admin)(|(uid=*"), "admin\\29\\28|\\28uid=\\2a");
    EXPECT_EQ(escapeFilterValue(")(objectClass=*))(&(uid=x"), "\\29\\28objectClass=\\2a\\29\\29\\28&\\28uid=x");
}

TEST(EscapeFilterValue, KeepsUtf8AndEscapesBrokenBytes) {
    EXPECT_EQ(escapeFilterValue("王伟"), "王伟");
    EXPECT_EQ(escapeFilterValue("Müller"), "Müller");
    // A lone continuation byte and a truncated sequence are escaped byte by byte.
    EXPECT_EQ(escapeFilterValue("a\x80z"), "a\\80z");
    EXPECT_EQ(escapeFilterValue("\xe7\x8e"), "\\e7\\8e");
    // Overlong encoding of '/' is not valid UTF-8.
    EXPECT_EQ(escapeFilterValue("\xc0\xaf"), "\\c0\\af");
    EXPECT_TRUE(isValidUtf8(escapeFilterValue("\xff\xfe(\xed\xa0\x80")));
}

TEST(EscapeFilterValue, HugeInputStaysLinear) {
    std::string huge(1 << 20, '*');
    std::string out = escapeFilterValue(huge);
    EXPECT_EQ(out.size(), huge.size() * 3);
}

TEST(IsValidUtf8, RejectsMalformed) {
    EXPECT_TRUE(isValidUtf8("示范大学"));
    EXPECT_TRUE(isValidUtf8("\xf0\x9f\x98\x80"));
    EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));      // surrogate
    EXPECT_FALSE(isValidUtf8("abc\xc3"));
}
