#include "hub/common/Exceptions.h"

#include <Poco/Exception.h>

#include <gtest/gtest.h>

#include <stdexcept>

namespace {

template <class Throw>
std::string textOf(Throw doThrow) {
    try {
        doThrow();
    } catch (...) {
        return hub::currentExceptionText();
    }
    return "(nothing thrown)";
}

}  // namespace

TEST(CurrentExceptionText, SaysWhatWasThrownWhateverItWas) {
    EXPECT_EQ(textOf([] { throw std::runtime_error("disk full 磁盘已满"); }), "disk full 磁盘已满");
    EXPECT_EQ(textOf([] { throw Poco::FileException("/var/lib/hub.db"); }), "File access error: /var/lib/hub.db");
    EXPECT_EQ(textOf([] { throw 42; }), "an exception that is not a std::exception");
    EXPECT_EQ(hub::currentExceptionText(), "");
}
