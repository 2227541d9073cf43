#include "TestSupport.h"
#include "hub/catalog/ApplicationValidator.h"
#include "hub/catalog/Catalog.h"

#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

using namespace hub::catalog;

namespace {

const ServiceItem& item(const std::string& id) {
    const ServiceItem* found = test::shippedCatalog()->findById(id);
    if (found == nullptr) throw std::runtime_error("no item " + id);
    return *found;
}

/// An item with one field of every type, built in code so the test does not
/// depend on the sample catalogue's wording.
ServiceItem everyType() {
    ServiceItem i;
    i.id = "every-type";
    i.name = {"全类型", "Every type"};
    auto field = [](std::string id, FieldType type, bool required) {
        FormField f;
        f.id = std::move(id);
        f.label = {"标签" + f.id, "Label " + f.id};
        f.type = type;
        f.required = required;
        return f;
    };
    FormField s = field("name", FieldType::String, true);
    s.maxLength = 4;
    FormField n = field("count", FieldType::Integer, true);
    n.min = 1;
    n.max = 10;
    FormField x = field("amount", FieldType::Number, false);
    x.min = 0.5;
    FormField d = field("day", FieldType::Date, true);
    FormField b = field("agree", FieldType::Boolean, true);
    FormField e = field("kind", FieldType::Enum, true);
    e.options = {{"a", {"甲", "A"}}, {"b", {"乙", "B"}}};
    FormField f = field("scan", FieldType::File, false);
    i.fields = {s, n, x, d, b, e, f};
    i.materials = {{"id-card", {"身份证", "Identity card"}, true},
                   {"photo", {"照片", "Photo"}, true},
                   {"letter", {"介绍信", "Letter"}, false}};
    return i;
}

std::vector<std::string> codesFor(const ValidationResult& r, const std::string& field) {
    std::vector<std::string> out;
    for (const auto& p : r.problems) {
        if (p.field == field) out.push_back(p.code);
    }
    return out;
}

}  // namespace

TEST(ApplicationValidator, AcceptsAGoodApplication) {
    auto r = validateApplication(item("enrolment-certificate"),
                                 R"({"student_id":"2023011234","purpose":"visa","language":"en"})", {});
    EXPECT_TRUE(r.ok()) << r.toJson();
    auto all = validateApplication(everyType(),
                                   R"({"name":"张三丰","count":3,"amount":2.5,"day":"2026-02-28","agree":true,"kind":"b","scan":"upload-17"})",
                                   {"id-card", "photo"});
    EXPECT_TRUE(all.ok()) << all.toJson();
}

TEST(ApplicationValidator, ListsAllMissingMaterialsAtOnce) {
    const ServiceItem& repair = item("residence-permit");  // four materials, three required
    auto r = validateApplication(repair, "{}", {});
    ASSERT_EQ(r.missingMaterials.size(), 3u) << r.toJson();
    EXPECT_EQ(r.missingMaterials[0].id, "passport");
    EXPECT_EQ(r.missingMaterials[1].id, "photo");
    EXPECT_EQ(r.missingMaterials[2].id, "health-certificate");
    EXPECT_EQ(codesFor(r, "materials.passport"), std::vector<std::string>{"material_missing"});
    // Providing one leaves the other two, still together.
    auto r2 = validateApplication(repair, "{}", {"photo", "admission-letter"});
    ASSERT_EQ(r2.missingMaterials.size(), 2u);
    EXPECT_EQ(r2.missingMaterials[0].id, "passport");
    EXPECT_EQ(r2.missingMaterials[1].id, "health-certificate");
    EXPECT_TRUE(validateApplication(repair, "{}", {"passport", "photo", "health-certificate"}).ok());
}

TEST(ApplicationValidator, ReportsEveryBadFieldAndMaterialTogether) {
    auto r = validateApplication(everyType(),
                                 R"({"name":"张三丰李四","count":11,"amount":"2","day":"2026-02-30","agree":"yes",
                                     "kind":"c","scan":42,"extra":1})",
                                 {"photo", "forged-stamp"});
    EXPECT_EQ(codesFor(r, "form.name"), std::vector<std::string>{"too_long"});  // 5 characters > 4
    EXPECT_EQ(codesFor(r, "form.count"), std::vector<std::string>{"out_of_range"});
    EXPECT_EQ(codesFor(r, "form.amount"), std::vector<std::string>{"wrong_type"});
    EXPECT_EQ(codesFor(r, "form.day"), std::vector<std::string>{"invalid_date"});
    EXPECT_EQ(codesFor(r, "form.agree"), std::vector<std::string>{"wrong_type"});
    EXPECT_EQ(codesFor(r, "form.kind"), std::vector<std::string>{"not_an_option"});
    EXPECT_EQ(codesFor(r, "form.scan"), std::vector<std::string>{"wrong_type"});
    EXPECT_EQ(codesFor(r, "form.extra"), std::vector<std::string>{"unknown_field"});
    EXPECT_EQ(codesFor(r, "materials.id-card"), std::vector<std::string>{"material_missing"});
    EXPECT_EQ(codesFor(r, "materials.forged-stamp"), std::vector<std::string>{"unknown_material"});
    EXPECT_EQ(r.problems.size(), 10u) << r.toJson();
    for (const auto& p : r.problems) {
        EXPECT_FALSE(p.message.empty());
        EXPECT_FALSE(p.messageZh.empty());
    }
    // The JSON form of the result is valid JSON listing everything.
    auto json = Poco::JSON::Parser().parse(r.toJson()).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(json->getArray("problems")->size(), 10u);
    EXPECT_EQ(json->getArray("missingMaterials")->size(), 1u);
}

TEST(ApplicationValidator, MissingRequiredFieldsAllReported) {
    auto r = validateApplication(everyType(), R"({"name":"   ","count":null})", {"id-card", "photo"});
    for (const char* f : {"form.name", "form.count", "form.day", "form.agree", "form.kind"}) {
        EXPECT_EQ(codesFor(r, f), std::vector<std::string>{"missing"}) << f;
    }
    EXPECT_TRUE(codesFor(r, "form.amount").empty());  // optional
    EXPECT_EQ(r.problems.size(), 5u) << r.toJson();
}

TEST(ApplicationValidator, TypesAreStrict) {
    ServiceItem i = everyType();
    auto bad = [&](const std::string& json, const std::string& field, const std::string& code) {
        auto r = validateApplication(i, json, {"id-card", "photo"});
        auto codes = codesFor(r, field);
        EXPECT_EQ(codes, std::vector<std::string>{code}) << json << " -> " << r.toJson();
    };
    const std::string base = R"("name":"a","day":"2026-01-01","agree":false,"kind":"a")";
    bad("{" + base + R"(,"count":2.5})", "form.count", "wrong_type");
    bad("{" + base + R"(,"count":"3"})", "form.count", "wrong_type");
    bad("{" + base + R"(,"count":true})", "form.count", "wrong_type");
    bad("{" + base + R"(,"count":0})", "form.count", "out_of_range");
    bad("{" + base + R"(,"count":1,"amount":0.4})", "form.amount", "out_of_range");
    bad(R"({"name":"a","day":"2026-1-1","agree":false,"kind":"a","count":1})", "form.day", "invalid_date");
    bad(R"({"name":"a","day":"2026-01-01","agree":1,"kind":"a","count":1})", "form.agree", "wrong_type");
    bad(R"({"name":"a","day":"2026-01-01","agree":false,"kind":"A","count":1})", "form.kind", "not_an_option");
    // Lone surrogates are refused by the JSON parser; raw invalid bytes by us.
    bad(R"({"name":"\ud800","day":"2026-01-01","agree":false,"kind":"a","count":1})", "form", "invalid_json");
    Poco::JSON::Object::Ptr form = new Poco::JSON::Object;
    form->set("name", std::string("\xC3\x28"));
    form->set("day", "2026-01-01");
    form->set("agree", false);
    form->set("kind", "a");
    form->set("count", 1);
    auto r = validateApplication(i, form, {"id-card", "photo"});
    EXPECT_EQ(codesFor(r, "form.name"), std::vector<std::string>{"invalid_utf8"}) << r.toJson();
    auto raw = validateApplication(i, "{\"name\":\"\xE4\xB8\",\"day\":\"2026-01-01\",\"agree\":false,\"kind\":\"a\",\"count\":1}",
                                   {"id-card", "photo"});
    EXPECT_FALSE(raw.ok()) << "truncated UTF-8 in the body must not pass";
    auto ok = validateApplication(i, "{" + base + R"(,"count":10,"amount":7})", {"id-card", "photo"});
    EXPECT_TRUE(ok.ok()) << ok.toJson();
}

TEST(ApplicationValidator, BadJsonIsOneProblemButMaterialsAreStillListed) {
    for (const char* body : {"", "not json", "[1,2]", "\"text\"", "{\"a\":", "null"}) {
        auto r = validateApplication(everyType(), body, {});
        EXPECT_EQ(codesFor(r, "form"), std::vector<std::string>{"invalid_json"}) << body;
        EXPECT_EQ(r.missingMaterials.size(), 2u) << body;
    }
    // Deeply nested and huge bodies are rejected without crashing.
    std::string deep(100000, '[');
    EXPECT_FALSE(validateApplication(everyType(), deep, {}).ok());
}
