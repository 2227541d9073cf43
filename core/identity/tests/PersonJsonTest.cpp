#include "hub/identity/Person.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

using namespace hub::identity;

namespace {

Person wangWei() {
    Person p;
    p.id = "2023010001";
    p.dn = "uid=2023010001,ou=计算机学院,dc=x";
    p.name = "王伟 \"Wei\"";
    p.department = "计算机学院";
    p.audience = {"student"};
    p.roles = {"dept:cs:clerk"};
    p.groups = {"cs-students"};
    p.emails = {"wang@x.cn"};
    p.phones = {"+86 10 1234"};
    p.updatedAt = "2026-09-30T02:00:00.000Z";
    return p;
}

}  // namespace

// One writer for the person the API shows (admin routes, the static list) and
// the person in an identity.changed event; they differ only where documented.
TEST(PersonJson, ApiFormHasSnakeCaseKeysAndNoDn) {
    EXPECT_EQ(toJson(wangWei()),
              "{\"id\":\"2023010001\",\"name\":\"王伟 \\\"Wei\\\"\",\"department\":\"计算机学院\","
              "\"audience\":[\"student\"],\"roles\":[\"dept:cs:clerk\"],\"groups\":[\"cs-students\"],"
              "\"emails\":[\"wang@x.cn\"],\"phones\":[\"+86 10 1234\"],\"status\":\"active\","
              "\"updated_at\":\"2026-09-30T02:00:00.000Z\"}");
}

TEST(PersonJson, EventFormHasTheDnAndCamelCaseKeys) {
    Person p = wangWei();
    p.status = PersonStatus::Departed;
    EXPECT_EQ(toJson(p, PersonJsonForm::Event),
              "{\"id\":\"2023010001\",\"dn\":\"uid=2023010001,ou=计算机学院,dc=x\",\"name\":\"王伟 \\\"Wei\\\"\","
              "\"department\":\"计算机学院\",\"audience\":[\"student\"],\"roles\":[\"dept:cs:clerk\"],"
              "\"groups\":[\"cs-students\"],\"emails\":[\"wang@x.cn\"],\"phones\":[\"+86 10 1234\"],"
              "\"status\":\"departed\",\"updatedAt\":\"2026-09-30T02:00:00.000Z\"}");
    IdentityChange change;
    change.kind = ChangeKind::Departed;
    change.id = p.id;
    change.changedFields = {"status"};
    change.person = p;
    EXPECT_NE(change.toJson().find("\"person\":" + toJson(p, PersonJsonForm::Event) + "}"), std::string::npos)
        << change.toJson();
}

TEST(PersonJson, APersonNeverStoredHasNoUpdateTime) {
    Person p;
    p.id = "demo";
    p.name = "演示";
    EXPECT_EQ(toJson(p),
              "{\"id\":\"demo\",\"name\":\"演示\",\"department\":\"\",\"audience\":[],\"roles\":[],"
              "\"groups\":[],\"emails\":[],\"phones\":[],\"status\":\"active\"}");
}

TEST(PersonJson, IsValidJsonWhateverTheStringsHold) {
    Person p = wangWei();
    p.name = std::string("bad \xff\xfe byte, NUL \0 and \x01", 24);
    p.emails.push_back("\xed\xa0\x80");
    for (auto form : {PersonJsonForm::Api, PersonJsonForm::Event}) {
        Poco::JSON::Parser parser;
        auto o = parser.parse(toJson(p, form)).extract<Poco::JSON::Object::Ptr>();
        EXPECT_EQ(o->getValue<std::string>("name"),
                  std::string("bad \xEF\xBF\xBD\xEF\xBF\xBD byte, NUL \0 and \x01", 28));
    }
}
