#include "hub/identity/Mapping.h"

#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>

#include <gtest/gtest.h>

#include <cstdio>

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

TEST(Mapping, BadBytesAnywhereInALongValueAreReplaced) {
    Mapping m;
    for (std::size_t at = 0; at < 20; ++at) {
        std::string value(24, 'a');
        value[at] = '\xff';
        auto p = m.mapPerson(entry("uid=b,dc=x", {{"uid", {"b"}}, {"displayName", {value}}}), "u", GroupIndex());
        EXPECT_EQ(p.name, value.substr(0, at) + "\xEF\xBF\xBD" + value.substr(at + 1)) << at;
    }
}

// The kept attributes' JSON feeds the stored change hashes, so its bytes must not
// change: every character that needs escaping, at every offset of a value.
TEST(Mapping, KeptAttributesJsonEscapesEveryByteTheSameWay) {
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
    Mapping m;
    std::vector<std::string> values = {"", "plain ascii value", "王伟 Wang Wei", std::string("nul\0inside", 10)};
    for (std::size_t length : {1u, 7u, 8u, 9u, 16u, 17u})
        for (std::size_t at = 0; at < length; ++at)
            for (char special : {'"', '\\', '\n', '\r', '\t', '\x01', '\x1f', '\0', ' ', '\x7f'}) {
                std::string v(length, 'x');
                v[at] = special;
                values.push_back(v);
            }
    for (const auto& v : values) {
        auto p = m.mapPerson(entry("uid=j,dc=x", {{"uid", {"j"}}, {"cn", {v, v + v}}}), "u", GroupIndex());
        EXPECT_EQ(p.attributesJson, "{\"uid\":[\"j\"],\"cn\":[" + reference(v) + "," + reference(v + v) + "]}");
    }
}

TEST(Mapping, NormalizeDn) {
    EXPECT_EQ(normalizeDn("UID=A, OU=People ,DC=X"), "uid=a,ou=people,dc=x");
    EXPECT_EQ(normalizeDn(" uid = a ,  ou=Two Words,dc=x"), "uid=a,ou=two words,dc=x");
    EXPECT_EQ(normalizeDn(""), "");
}
