#include "hub/identity/Mapping.h"

#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>

#include <gtest/gtest.h>

using namespace hub::identity;

namespace {
hub::ldap::Entry entry(const std::string& dn, std::vector<hub::ldap::Attribute> attrs) {
    hub::ldap::Entry e;
    e.dn = dn;
    e.attributes = std::move(attrs);
    return e;
}
}  // namespace

TEST(Mapping, DefaultsMapAnEduPerson) {
    Mapping m;
    GroupIndex groups;
    Group admins;
    admins.name = "hall-admins";
    admins.members = {normalizeDn("uid=u1, ou=Dept 1,dc=x")};
    groups.add(admins);
    auto p = m.mapPerson(entry("uid=u1,ou=Dept 1,dc=x",
                               {{"uid", {"u1"}},
                                {"cn", {"王伟", "Wang Wei"}},
                                {"displayName", {"王伟"}},
                                {"ou", {"计算机科学系"}},
                                {"mail", {"a@x", "b@x"}},
                                {"telephoneNumber", {"1", "2"}},
                                {"eduPersonAffiliation", {"faculty", "member", "staff"}}}),
                         "uuid-1", groups);
    EXPECT_EQ(p.id, "u1");
    EXPECT_EQ(p.name, "王伟");
    EXPECT_EQ(p.department, "计算机科学系");
    EXPECT_EQ(p.emails, (std::vector<std::string>{"a@x", "b@x"}));
    EXPECT_EQ(p.phones, (std::vector<std::string>{"1", "2"}));
    EXPECT_EQ(p.audience, (std::vector<std::string>{"staff", "teacher"}));
    EXPECT_EQ(p.groups, (std::vector<std::string>{"hall-admins"}));
    EXPECT_EQ(p.roles, (std::vector<std::string>{"hall-admins"}));
    EXPECT_NE(p.attributesJson.find("Wang Wei"), std::string::npos);
}

TEST(Mapping, ConfigurableFromAnotherAttributeAndGroups) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> c(new Poco::Util::MapConfiguration);
    c->setString("id", "employeeNumber");
    c->setString("name", "cn");
    c->setString("department", "departmentNumber");
    c->setString("audience", "employeeType");
    c->setString("audienceValues.lecturer", "teacher");
    c->setString("audienceGroups.visitors", "visitor");
    c->setString("roleGroups.approvers", "approver");
    Mapping m = Mapping::fromConfig(*c);
    GroupIndex groups;
    Group g;
    g.name = "visitors";
    g.members = {"uid:e7"};  // posixGroup memberUid
    groups.add(g);
    Group a;
    a.name = "approvers";
    a.members = {normalizeDn("cn=x,dc=x")};
    groups.add(a);
    auto p = m.mapPerson(entry("cn=x,dc=x", {{"employeeNumber", {"e7"}}, {"cn", {"X"}}, {"employeeType", {"Lecturer", "other"}},
                                             {"departmentNumber", {"D1"}}}),
                         "u", groups);
    EXPECT_EQ(p.id, "e7");
    EXPECT_EQ(p.department, "D1");
    EXPECT_EQ(p.audience, (std::vector<std::string>{"teacher", "visitor"}));
    EXPECT_EQ(p.roles, (std::vector<std::string>{"approver"}));
}

TEST(Mapping, DepartmentFallsBackToTheNearestUnit) {
    Mapping m;
    auto p = m.mapPerson(entry("uid=z,ou=Dept 2.1,ou=School 2,dc=x", {{"uid", {"z"}}}), "u", GroupIndex());
    EXPECT_EQ(p.department, "Dept 2.1");
}

TEST(Mapping, BadAndHugeValuesAreSanitised) {
    Mapping m;
    m.maxValueBytes = 16;
    auto p = m.mapPerson(entry("uid=b,dc=x", {{"uid", {"b"}},
                                              {"displayName", {std::string("ab\xff\xfe" "cd")}},
                                              {"mail", {std::string(100, 'm')}},
                                              {"ou", {"王王王王王王王"}}}),  // 21 bytes
                         "u", GroupIndex());
    EXPECT_EQ(p.name, "ab\xEF\xBF\xBD\xEF\xBF\xBD" "cd");
    EXPECT_EQ(p.emails.front().size(), 16u);
    EXPECT_EQ(p.department, "王王王王王");  // cut at a character boundary
}

TEST(Mapping, NormalizeDn) {
    EXPECT_EQ(normalizeDn("UID=A, OU=People ,DC=X"), "uid=a,ou=people,dc=x");
}
