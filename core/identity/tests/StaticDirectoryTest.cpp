#include "hub/identity/StaticDirectory.h"

#include <Poco/AutoPtr.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <sstream>

using namespace hub::identity;

namespace {

Poco::AutoPtr<Poco::Util::XMLConfiguration> config(const std::string& xml) {
    std::istringstream in(xml);
    return new Poco::Util::XMLConfiguration(in);
}

}  // namespace

TEST(StaticDirectory, ListsThePersonsOfTheConfigWithTheirAudiencesAndRoles) {
    auto cfg = config(R"(<hub><identity><static>
        <person id="t.wang" name="王老师" department="计算机学院" audience="teacher, staff" roles="hub:admin dept:cs:clerk"/>
        <person id="s.li" name="李同学" department="计算机学院" audience="student"/>
      </static></identity></hub>)");
    StaticDirectory directory(*cfg);
    EXPECT_EQ(directory.size(), 2u);
    const Person* wang = directory.find("t.wang");
    ASSERT_NE(wang, nullptr);
    EXPECT_EQ(wang->name, "王老师");
    EXPECT_EQ(wang->department, "计算机学院");
    EXPECT_EQ(wang->audience, (std::vector<std::string>{"teacher", "staff"}));
    EXPECT_EQ(wang->roles, (std::vector<std::string>{"hub:admin", "dept:cs:clerk"}));
    EXPECT_EQ(wang->status, PersonStatus::Active);
    ASSERT_NE(directory.find("s.li"), nullptr);
    EXPECT_TRUE(directory.find("s.li")->roles.empty());
    EXPECT_EQ(directory.find("nobody"), nullptr);
    EXPECT_EQ(directory.find(""), nullptr);
}

TEST(StaticDirectory, WritesAPersonInTheApiForm) {
    auto cfg = config(R"(<hub><identity><static>
        <person id="s.li" name="李 &quot;Li&quot;" department="计算机学院" audience="student"/>
      </static></identity></hub>)");
    StaticDirectory directory(*cfg);
    EXPECT_EQ(directory.json("s.li"),
              "{\"id\":\"s.li\",\"name\":\"李 \\\"Li\\\"\",\"department\":\"计算机学院\",\"audience\":[\"student\"],"
              "\"roles\":[],\"groups\":[],\"emails\":[],\"phones\":[],\"status\":\"active\"}");
    EXPECT_FALSE(directory.json("t.wang"));
}

TEST(StaticDirectory, NoListIsAnEmptyDirectory) {
    auto cfg = config("<hub/>");
    StaticDirectory directory(*cfg);
    EXPECT_EQ(directory.size(), 0u);
    EXPECT_EQ(directory.find("t.wang"), nullptr);
}
