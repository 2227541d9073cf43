#include "hub/identity/IdentityStore.h"
#include "hub/identity/Mapping.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <sstream>

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
    admins.dn = "cn=hall-admins,ou=groups,dc=x";
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
    EXPECT_TRUE(p.roles.empty()) << "no group gives a role unless mapped";
    EXPECT_NE(p.attributesJson.find("Wang Wei"), std::string::npos);
}

TEST(Mapping, ConfigurableFromAnotherAttributeAndGroups) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> c(new Poco::Util::MapConfiguration);
    c->setString("id", "employeeNumber");
    c->setString("name", "cn");
    c->setString("department", "departmentNumber");
    c->setString("audience", "employeeType");
    c->setString("audienceValues.lecturer", "teacher");
    c->setString("audienceGroups.group[0][@dn]", "cn=visitors,ou=Groups,dc=x");
    c->setString("audienceGroups.group[0][@audience]", "visitor");
    c->setString("roleGroups.group[0][@dn]", "CN=Approvers, ou=groups,dc=x");
    c->setString("roleGroups.group[0][@role]", "approver");
    Mapping m = Mapping::fromConfig(*c);
    GroupIndex groups;
    Group g;
    g.name = "visitors";
    g.dn = "cn=visitors,ou=groups,dc=x";
    g.members = {"uid:e7"};  // posixGroup memberUid
    groups.add(g);
    Group a;
    a.name = "approvers";
    a.dn = "cn=approvers,ou=groups,dc=x";
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

// Roles come from groups named by DN, or directly below a roles base; never from
// a group's cn alone, which anyone who may create a group can choose.
TEST(Mapping, OnlyExplicitlyMappedGroupsGiveRoles) {
    std::istringstream xml(R"(<mapping>
  <roleGroups>
    <group dn="cn=hub-admins,ou=roles,dc=campus" role="hub:admin"/>
    <group dn="cn=jwc-clerks,ou=academic affairs,dc=campus" role="dept:academic-affairs:clerk"/>
  </roleGroups>
  <roleGroupsBase>ou=roles, dc=campus</roleGroupsBase>
</mapping>)");
    Poco::AutoPtr<Poco::Util::XMLConfiguration> c(new Poco::Util::XMLConfiguration(xml));
    Mapping m = Mapping::fromConfig(*c);
    auto groupAt = [](const std::string& name, const std::string& dn) {
        Group g;
        g.name = name;
        g.dn = dn;
        g.members = {normalizeDn("uid=p,dc=campus")};
        return g;
    };
    auto rolesWith = [&](std::vector<Group> list) {
        GroupIndex index;
        for (const auto& g : list) index.add(g);
        return m.mapPerson(entry("uid=p,dc=campus", {{"uid", {"p"}}}), "u", index).roles;
    };
    using Roles = std::vector<std::string>;
    EXPECT_EQ(rolesWith({groupAt("hub-admins", "cn=hub-admins,ou=roles,dc=campus")}), Roles{"hub:admin"});
    EXPECT_EQ(rolesWith({groupAt("jwc-clerks", "cn=jwc-clerks,ou=Academic Affairs,dc=campus")}),
              Roles{"dept:academic-affairs:clerk"});
    EXPECT_EQ(rolesWith({groupAt("approvers", "cn=approvers,ou=roles,dc=campus")}), Roles{"approvers"});
    // The rogue ones: a mapped cn elsewhere, a hub:admin group anywhere, a group below the base.
    EXPECT_EQ(rolesWith({groupAt("hub-admins", "cn=hub-admins,ou=it,ou=people,dc=campus")}), Roles{});
    EXPECT_EQ(rolesWith({groupAt("hub:admin", "cn=hub:admin,ou=deep,ou=student-union,dc=campus")}), Roles{});
    EXPECT_EQ(rolesWith({groupAt("approvers", "cn=approvers,ou=sub,ou=roles,dc=campus")}), Roles{});
    // cn "evil,ou=roles" directly under dc=campus: its parent is dc=campus, not the base.
    EXPECT_EQ(rolesWith({groupAt("evil,ou=roles", "cn=evil\\,ou=roles,dc=campus")}), Roles{}) << "an escaped comma";
    // Without any mapping no group gives a role.
    GroupIndex index;
    index.add(groupAt("hub:admin", "cn=hub:admin,ou=roles,dc=campus"));
    EXPECT_TRUE(Mapping().mapPerson(entry("uid=p,dc=campus", {{"uid", {"p"}}}), "u", index).roles.empty());
}

TEST(Mapping, GroupsNamedByCnAloneAreRefused) {
    Poco::AutoPtr<Poco::Util::MapConfiguration> c(new Poco::Util::MapConfiguration);
    c->setString("roleGroups.approvers", "approver");
    try {
        Mapping::fromConfig(*c);
        FAIL() << "a cn-keyed role group was accepted";
    } catch (const Poco::InvalidArgumentException& e) {
        EXPECT_NE(e.displayText().find("identity.mapping.roleGroups.approvers"), std::string::npos) << e.displayText();
        EXPECT_NE(e.displayText().find("by DN"), std::string::npos) << e.displayText();
    }
    Poco::AutoPtr<Poco::Util::MapConfiguration> d(new Poco::Util::MapConfiguration);
    d->setString("audienceGroups.group[0][@dn]", "cn=visitors,dc=x");
    EXPECT_THROW(Mapping::fromConfig(*d), Poco::InvalidArgumentException) << "a group without its audience";
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

// Each stored person keeps the hashes of its mapped fields (identity_persons.
// field_hashes), and the next sync compares against them: if the bytes hashed
// changed - the kept attributes' JSON escaped another way, say - every person
// would count as updated and be announced again. Pinned for a person with
// everything that needs escaping, Chinese, an emoji and a broken byte.
TEST(Mapping, StoredFieldHashesKeepTheirBytes) {
    Mapping m;
    auto p = m.mapPerson(entry("uid=j,ou=测试,dc=x",
                               {{"uid", {"j\"q"}},
                                {"displayName", {"王伟 \"Wei\" \\ /"}},
                                {"ou", {"信息\t中心"}},
                                {"eduPersonAffiliation", {"faculty", "staff"}},
                                {"mail", {"wang@x.cn", "w\x01@x.cn"}},
                                {"cn", {std::string("\b\f\x1f\x7f 😀 ab\xff" "cd"), "王伟\r\n"}}}),
                         "uuid-1", GroupIndex());
    EXPECT_EQ(p.attributesJson,
              "{\"uid\":[\"j\\\"q\"],\"displayName\":[\"王伟 \\\"Wei\\\" \\\\ /\"],"
              "\"cn\":[\"\\u0008\\u000c\\u001f\x7f 😀 ab\xEF\xBF\xBD" "cd\",\"王伟\\r\\n\"],"
              "\"ou\":[\"信息\\t中心\"],\"eduPersonAffiliation\":[\"faculty\",\"staff\"],"
              "\"mail\":[\"wang@x.cn\",\"w\\u0001@x.cn\"]}");
    const FieldHashes h = IdentityStore::hashPerson(p);
    char text[16 * 11 + 1];
    for (std::size_t i = 0; i < h.size(); ++i)
        std::snprintf(text + 16 * i, 17, "%016llx", static_cast<unsigned long long>(h[i]));
    // id, dn, name, department, audience, roles, groups, emails, phones, attributes, status
    EXPECT_EQ(std::string(text),
              "44b57b1939c8a8d4ba3a875881ec0f21127df069c7b008a2eaff5ad030c8bf72724de5761fc825e9"
              "cbf29ce484222325cbf29ce484222325cf86175f44c45936cbf29ce484222325bcbb0a91d75d290c"
              "0000000000000001");
}

TEST(Mapping, NormalizeDn) {
    EXPECT_EQ(normalizeDn("UID=A, OU=People ,DC=X"), "uid=a,ou=people,dc=x");
    EXPECT_EQ(normalizeDn(" uid = a ,  ou=Two Words,dc=x"), "uid=a,ou=two words,dc=x");
    EXPECT_EQ(normalizeDn(""), "");
}
