// The one-source rule of person fields (identity::SourcedFields) on a SQLite file:
// a source writes only what it owns, a directory field or another source's
// field is a conflict, a malformed document changes nothing.
#include "hub/identity/SourcedFields.h"

#include "hub/identity/IdentityStore.h"
#include "hub/store/Database.h"
#include "hub/test/StoreOptions.h"
#include "hub/test/TempDir.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <memory>

using namespace hub;

namespace {

Poco::JSON::Object::Ptr parse(const std::string& json) {
    return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

struct SourcedFieldsTest : ::testing::Test {
    test::TempDir dir{"sourced-fields"};
    std::unique_ptr<store::Database> db = std::make_unique<store::Database>(test::storeOptions(dir.path()));
    identity::SourcedFields fields{*db};
    const std::vector<std::string> hrOwns{"employment_status", "title"};

    SourcedFieldsTest() {
        // One person as the directory sync writes it.
        identity::IdentityStore store(*db);
        identity::IdentityStore::Batch batch;
        identity::Person p;
        p.id = "T1998001";
        p.dn = "uid=T1998001,ou=people,dc=campus,dc=example";
        p.entryUuid = "uuid-1";
        p.name = "王建国";
        p.department = "物理学院";
        p.emails = {"wang@campus.example"};
        batch.persons.push_back(p);
        batch.personHashes.push_back(identity::IdentityStore::hashPerson(p));
        store.write(batch, [](Poco::Data::Session&, const identity::IdentityChange&) {});
    }

    std::string value(const std::string& id, const std::string& field) {
        for (const auto& f : fields.of(id))
            if (f.field == field) return f.value + "@" + f.source;
        return "";
    }
};

}  // namespace

TEST_F(SourcedFieldsTest, AppliesOwnedFieldsAndReportsDirectoryConflicts) {
    auto r = parse(fields.submit("hr", hrOwns, R"({"records":[{"id":"T1998001","fields":{
        "title":"教授","employment_status":"active","name":"王老师","department":"物理学院",
        "emails":"wang@campus.example"}}]})"));
    EXPECT_EQ(r->getValue<int>("applied"), 1);
    EXPECT_EQ(r->getValue<int>("unknown_persons"), 0);
    ASSERT_EQ(r->getValue<int>("conflict_count"), 1);  // the name; department and e-mail agree
    auto c = r->getArray("conflicts")->getObject(0);
    EXPECT_EQ(c->getValue<std::string>("field"), "name");
    EXPECT_EQ(c->getValue<std::string>("owner"), "ldap");
    EXPECT_EQ(c->getValue<std::string>("owner_value"), "王建国");
    EXPECT_EQ(value("T1998001", "title"), "教授@hr");
    EXPECT_EQ(value("T1998001", "name"), "");

    // The same again changes nothing.
    r = parse(fields.submit("hr", hrOwns, R"({"records":[{"id":"T1998001","fields":{"title":"教授"}}]})"));
    EXPECT_EQ(r->getValue<int>("applied"), 0);
    EXPECT_EQ(r->getValue<int>("unchanged"), 1);
}

TEST_F(SourcedFieldsTest, AFieldOfAnotherSourceOrOfNobodyIsNotWritten) {
    fields.submit("hr", hrOwns, R"({"records":[{"id":"T1998001","fields":{"title":"教授"}}]})");
    // Another plugin that also claims title: the first writer owns it.
    auto r = parse(fields.submit("research", {"title", "h_index"},
                                 R"({"records":[{"id":"T1998001","fields":{"title":"研究员","h_index":"30","x":"1"}}]})"));
    EXPECT_EQ(r->getValue<int>("conflict_count"), 2);
    auto conflicts = r->getArray("conflicts");
    EXPECT_EQ(conflicts->getObject(0)->getValue<std::string>("owner"), "hr");
    EXPECT_EQ(conflicts->getObject(1)->getValue<std::string>("field"), "x");
    EXPECT_EQ(conflicts->getObject(1)->getValue<std::string>("owner"), "");
    EXPECT_EQ(value("T1998001", "title"), "教授@hr");
    EXPECT_EQ(value("T1998001", "h_index"), "30@research");
    // null removes the source's own value.
    fields.submit("hr", hrOwns, R"({"records":[{"id":"T1998001","fields":{"title":null}}]})");
    EXPECT_EQ(value("T1998001", "title"), "");
}

TEST_F(SourcedFieldsTest, PersonsTheDirectoryLacksAreKeptAndCounted) {
    auto r = parse(fields.submit("hr", hrOwns, R"({"records":[{"id":"E100","fields":{"title":"讲师","name":"新人"}}]})"));
    EXPECT_EQ(r->getValue<int>("unknown_persons"), 1);
    EXPECT_EQ(r->getValue<int>("conflict_count"), 0);  // nothing of the directory's to differ from
    EXPECT_EQ(value("E100", "title"), "讲师@hr");
    EXPECT_EQ(value("E100", "name"), "");
}

TEST_F(SourcedFieldsTest, AMalformedDocumentIsRefusedWholeNamingTheRecord) {
    for (const char* bad : {R"([])", R"({"records":{}})", R"({"records":[{"id":"A","fields":{"title":"x"}},{"id":""}]})",
                            R"({"records":[{"id":"A","fields":{"Title":"x"}}]})",
                            R"({"records":[{"id":"A","fields":{"title":5}}]})", "not json"}) {
        EXPECT_THROW(fields.submit("hr", hrOwns, bad), identity::SourcedFields::InvalidRecords) << bad;
    }
    try {
        fields.submit("hr", hrOwns, R"({"records":[{"id":"A","fields":{"title":"x"}},{"id":"B","fields":[]}]})");
        FAIL() << "accepted";
    } catch (const identity::SourcedFields::InvalidRecords& e) {
        EXPECT_NE(std::string(e.what()).find("records[1]"), std::string::npos) << e.what();
    }
    EXPECT_EQ(value("A", "title"), "") << "nothing of a refused document is written";
    std::string many = R"({"records":[)";
    for (int i = 0; i <= 1000; ++i) many += std::string(i ? "," : "") + R"({"id":"P)" + std::to_string(i) + R"(","fields":{}})";
    EXPECT_THROW(fields.submit("hr", hrOwns, many + "]}"), identity::SourcedFields::InvalidRecords);
}

// A person twice in one call: the later record wins, whether it sets a value
// the earlier removed or removes one the earlier set (PostgreSQL writes the
// call in one statement, which may touch a row once). Values with the array
// literal's quote and backslash, and many records, arrive as they were sent.
TEST_F(SourcedFieldsTest, TheLaterRecordOfOneCallWinsAndValuesArriveIntact) {
    fields.submit("hr", hrOwns, R"({"records":[{"id":"T1998001","fields":{"title":"讲师","employment_status":"在职"}}]})");
    auto r = parse(fields.submit("hr", hrOwns, R"({"records":[
        {"id":"T1998001","fields":{"title":null,"employment_status":"离职"}},
        {"id":"T1998001","fields":{"title":"教授","employment_status":null}}]})"));
    EXPECT_EQ(r->getValue<int>("applied"), 2);
    EXPECT_EQ(value("T1998001", "title"), "教授@hr");
    EXPECT_EQ(value("T1998001", "employment_status"), "");
    r = parse(fields.submit("hr", hrOwns, R"({"records":[
        {"id":"T1998001","fields":{"title":"a \"quoted\" \\ title, {braced}"}},
        {"id":"T1998001","fields":{"title":"副教授 \"2\" \\ {x}"}}]})"));
    EXPECT_EQ(value("T1998001", "title"), "副教授 \"2\" \\ {x}@hr");
    std::string many = R"({"records":[)";
    for (int i = 0; i < 1000; ++i)
        many += std::string(i ? "," : "") + R"({"id":"P)" + std::to_string(i) + R"(","fields":{"title":"t)" +
                std::to_string(i) + R"(","employment_status":"在职"}})";
    r = parse(fields.submit("hr", hrOwns, many + "]}"));
    EXPECT_EQ(r->getValue<int>("applied"), 1000);
    EXPECT_EQ(value("P0", "title"), "t0@hr");
    EXPECT_EQ(value("P999", "title"), "t999@hr");
    EXPECT_EQ(value("P999", "employment_status"), "在职@hr");
}
