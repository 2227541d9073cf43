#include "hub/common/ConfigValue.h"

#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>

#include <gtest/gtest.h>

using hub::config::ConfigError;
using hub::config::readInt;
using hub::config::readOptionalInt;

namespace {

std::string errorOf(const Poco::Util::AbstractConfiguration& c, const std::string& key, int min, int max) {
    try {
        readInt(c, key, 7, {min, max});
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "(accepted)";
}

}  // namespace

TEST(ConfigValue, ReadsIntegersWithinTheirRange) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> c(new Poco::Util::MapConfiguration);
    c->setString("port", " 8080 ");
    c->setString("low", "-12");
    c->setString("ref", "${port}");
    EXPECT_EQ(readInt(*c, "port", 1, {0, 65535}), 8080);
    EXPECT_EQ(readInt(*c, "low", 1, {-43200, 50400}), -12);
    EXPECT_EQ(readInt(*c, "ref", 1, {0, 65535}), 8080);
    EXPECT_EQ(readInt(*c, "absent", 42, {0, 65535}), 42);
    EXPECT_EQ(readOptionalInt(*c, "absent", {0, 1}), std::nullopt);
    EXPECT_EQ(readInt(*c, "port", {0, 65535}), 8080);
    EXPECT_THROW(readInt(*c, "absent", {0, 65535}), ConfigError);
}

TEST(ConfigValue, RefusesWhatIsOutOfRangeOrNotAnIntegerNamingTheKey) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> c(new Poco::Util::MapConfiguration);
    c->setString("http.port", "70000");
    c->setString("timeoutMs", "-1");
    c->setString("hex", "0x10");
    c->setString("huge", "99999999999999999999999");
    c->setString("words", "五千");
    c->setString("empty", "");
    c->setString("tail", "12abc");
    EXPECT_EQ(errorOf(*c, "http.port", 0, 65535), "http.port must be an integer from 0 to 65535, got '70000'");
    EXPECT_EQ(errorOf(*c, "timeoutMs", 1, 3600000), "timeoutMs must be an integer from 1 to 3600000, got '-1'");
    for (const char* key : {"hex", "huge", "words", "empty", "tail"})
        EXPECT_NE(errorOf(*c, key, 0, 100).find(std::string(key) + " must be an integer from 0 to 100"),
                  std::string::npos)
            << key;
    c->setString("long", std::string(1000, '9'));
    EXPECT_LT(errorOf(*c, "long", 0, 1).size(), 200u);  // the value is cut short in the message
}
