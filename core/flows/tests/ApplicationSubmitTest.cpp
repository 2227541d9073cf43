#include "FlowsTestSupport.h"

#include <Poco/Data/Statement.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <barrier>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

using namespace Poco::Data::Keywords;

namespace hub::flows {
namespace {

using test::Fixture;
using test::shippedCatalog;
using test::vehiclePass;
using Outcome = ApplicationService::SubmitResult::Outcome;
using catalog::Audience;
using catalog::AudienceSet;

using test::kTeacher;
using test::kStudent;

Poco::JSON::Object::Ptr parse(const std::string& text) {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
}

std::set<std::string> problemKeys(const catalog::ValidationResult& v) {
    std::set<std::string> out;
    for (const auto& p : v.problems) out.insert(p.field + ":" + p.code);
    return out;
}

TEST(ApplicationSubmitTest, ValidApplicationIsStoredWithDueDateAndFirstTransition) {
    Fixture f;
    auto r = f.service->submit(vehiclePass("t.wang"), shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Created) << r.message;
    ASSERT_TRUE(r.application);
    const Application& a = *r.application;
    EXPECT_EQ(a.itemId, "vehicle-pass");
    EXPECT_EQ(a.applicant, "t.wang");
    EXPECT_EQ(a.submittedBy, "t.wang");
    EXPECT_EQ(a.department, "security");
    EXPECT_EQ(a.handler, "flow:vehicle-pass");
    EXPECT_EQ(a.status, ApplicationStatus::Submitted);
    EXPECT_EQ(a.version, 1);
    EXPECT_EQ(a.submittedAt, "2026-09-30T02:00:00.000Z");
    EXPECT_EQ(a.timeLimitDays, 5);
    // 5 working days after Wed 2026-09-30 across National Day (10-01..10-07)
    // with the make-up Saturday 10-10: 10-08, 10-09, 10-10, 10-12, 10-13.
    EXPECT_EQ(a.dueDate, "2026-10-13");
    EXPECT_FALSE(a.overdue);
    ASSERT_EQ(a.transitions.size(), 1u);
    EXPECT_FALSE(a.transitions[0].from);
    EXPECT_EQ(a.transitions[0].to, ApplicationStatus::Submitted);
    EXPECT_EQ(a.transitions[0].actor, "t.wang");

    Application stored = f.service->get(a.id);
    EXPECT_EQ(toJson(stored), toJson(a));
    auto json = parse(toJson(stored));
    EXPECT_EQ(json->getValue<std::string>("id"), a.id);
    EXPECT_EQ(json->getObject("form")->getValue<std::string>("plate"), "京A12345");
    EXPECT_EQ(json->getArray("materials")->size(), 2u);
    EXPECT_TRUE(json->isNull("completed_at"));
    EXPECT_TRUE(json->isNull("result"));
    EXPECT_EQ(json->getValue<std::string>("due_date"), "2026-10-13");
    EXPECT_FALSE(json->getValue<bool>("overdue"));
    EXPECT_EQ(json->getArray("transitions")->size(), 1u);
    // Chinese is written as UTF-8, not \u escapes.
    EXPECT_NE(toJson(stored).find("京A12345"), std::string::npos);
}

TEST(ApplicationSubmitTest, ActingForRecordsBothPeople) {
    Fixture f;
    auto req = vehiclePass("svc-portal");
    req.actingFor = "t.li";
    auto r = f.service->submit(req, shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Created);
    EXPECT_EQ(r.application->applicant, "t.li");
    EXPECT_EQ(r.application->submittedBy, "svc-portal");
}

TEST(ApplicationSubmitTest, EveryMissingMaterialAndFieldIsListedAtOnce) {
    Fixture f;
    ApplicationService::SubmitRequest req;
    req.subject = "t.wang";
    req.itemId = "vehicle-pass";
    req.formJson = "{}";
    auto r = f.service->submit(req, shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Invalid);
    EXPECT_EQ(problemKeys(r.validation),
              (std::set<std::string>{"form.plate:missing", "materials.driving-license:material_missing",
                                     "materials.staff-card:material_missing"}));
    ASSERT_EQ(r.validation.missingMaterials.size(), 2u);
    EXPECT_EQ(r.validation.missingMaterials[0].name.zh, "机动车行驶证");
    EXPECT_EQ(test::countRows(*f.db, "flows_applications"), 0);
    EXPECT_EQ(test::countRows(*f.db, "flows_transitions"), 0);
}

TEST(ApplicationSubmitTest, WrongFieldTypesAndUnknownFieldsAreAllReported) {
    Fixture f;
    ApplicationService::SubmitRequest req;
    req.subject = "t.wang";
    req.itemId = "research-contract-review";
    req.formJson = R"({"partner": 42, "amount": "lots", "colour": "red"})";
    req.materials = {"contract", "not-a-material"};
    auto r = f.service->submit(req, shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Invalid);
    EXPECT_EQ(problemKeys(r.validation),
              (std::set<std::string>{"form.partner:wrong_type", "form.amount:wrong_type",
                                     "form.colour:unknown_field", "materials.not-a-material:unknown_material"}));
    EXPECT_EQ(test::countRows(*f.db, "flows_applications"), 0);
}

TEST(ApplicationSubmitTest, UnknownItemAndWrongAudienceAreRefused) {
    Fixture f;
    auto req = vehiclePass("s.zhang");
    req.itemId = "no-such-item";
    EXPECT_EQ(f.service->submit(req, shippedCatalog(), kStudent).outcome, Outcome::ItemNotFound);
    // vehicle-pass is for teachers and staff only.
    auto r = f.service->submit(vehiclePass("s.zhang"), shippedCatalog(), kStudent);
    EXPECT_EQ(r.outcome, Outcome::NotAllowedForAudience);
    EXPECT_NE(r.message.find("student"), std::string::npos);
    EXPECT_EQ(f.service->submit(vehiclePass("nobody"), shippedCatalog(), AudienceSet()).outcome,
              Outcome::NotAllowedForAudience);
    EXPECT_EQ(test::countRows(*f.db, "flows_applications"), 0);
}

TEST(ApplicationSubmitTest, SameKeySameBodyReplaysTheSameApplication) {
    Fixture f;
    auto req = vehiclePass("t.wang");
    req.idempotencyKey = "key-0001";
    auto first = f.service->submit(req, shippedCatalog(), kTeacher);
    ASSERT_EQ(first.outcome, Outcome::Created);

    // The same request written differently: spacing, material order, duplicates.
    auto again = req;
    again.formJson = "{ \"plate\" : \"京A12345\" }";
    again.materials = {"staff-card", "driving-license", "staff-card"};
    f.clock->advanceSeconds(3600);
    auto second = f.service->submit(again, shippedCatalog(), kTeacher);
    ASSERT_EQ(second.outcome, Outcome::Replayed);
    EXPECT_EQ(second.application->id, first.application->id);
    EXPECT_EQ(second.application->submittedAt, first.application->submittedAt);
    EXPECT_EQ(test::countRows(*f.db, "flows_applications"), 1);

    // A replay is answered even when the catalogue no longer lets it through
    // (here: the caller's audiences changed); the client is only repeating itself.
    EXPECT_EQ(f.service->submit(again, shippedCatalog(), kStudent).outcome, Outcome::Replayed);
}

TEST(ApplicationSubmitTest, SameKeyDifferentBodyIsAConflict) {
    Fixture f;
    auto req = vehiclePass("t.wang");
    req.idempotencyKey = "key-0002";
    ASSERT_EQ(f.service->submit(req, shippedCatalog(), kTeacher).outcome, Outcome::Created);

    auto other = vehiclePass("t.wang", "沪B99999");
    other.idempotencyKey = "key-0002";
    auto r = f.service->submit(other, shippedCatalog(), kTeacher);
    EXPECT_EQ(r.outcome, Outcome::IdempotencyConflict);
    EXPECT_FALSE(r.application);

    // Acting for someone else with the same key is a different request too.
    auto forOther = req;
    forOther.actingFor = "t.li";
    EXPECT_EQ(f.service->submit(forOther, shippedCatalog(), kTeacher).outcome, Outcome::IdempotencyConflict);

    // Keys are scoped by subject: another caller may use the same key.
    auto otherCaller = vehiclePass("t.zhao");
    otherCaller.idempotencyKey = "key-0002";
    EXPECT_EQ(f.service->submit(otherCaller, shippedCatalog(), kTeacher).outcome, Outcome::Created);
    EXPECT_EQ(test::countRows(*f.db, "flows_applications"), 2);
    EXPECT_EQ(test::countRows(*f.db, "flows_idempotency"), 2);
}

// An Idempotency-Key's stored request hash covers the form as Poco writes it
// (keys sorted, its own escaping: \b, \f, "/" as is, Chinese as is). A repeat
// after an upgrade must still match, so those bytes must not change, e.g. by
// moving the canonical form to hub::json's writer (which writes \u0008, \u000c).
TEST(ApplicationSubmitTest, StoredRequestHashKeepsItsBytes) {
    Fixture f;
    auto req = vehiclePass("t.wang", R"(京A/\"\\\b\f\t\u0001)");
    req.idempotencyKey = "key-pinned";
    auto r = f.service->submit(req, shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Created) << r.message;
    auto s = f.db->session();
    std::string form, requestHash, stored;
    s << "SELECT form, request_hash FROM flows_applications", into(form), into(requestHash), now;
    s << "SELECT request_hash FROM flows_idempotency", into(stored), now;
    EXPECT_EQ(form, R"({"plate":"京A/\"\\\b\f\t\u0001"})");
    // SHA-256 of the length-prefixed parts: item, applicant, that form, the materials.
    EXPECT_EQ(requestHash, "5d66297498d6e51f75d97b527f38f51684d4366d7b5a692884056deffef5cb95");
    EXPECT_EQ(stored, requestHash);
}

TEST(ApplicationSubmitTest, InvalidRequestsDoNotConsumeTheKey) {
    Fixture f;
    auto bad = vehiclePass("t.wang");
    bad.materials.clear();
    bad.idempotencyKey = "key-0003";
    EXPECT_EQ(f.service->submit(bad, shippedCatalog(), kTeacher).outcome, Outcome::Invalid);
    auto good = vehiclePass("t.wang");
    good.idempotencyKey = "key-0003";
    EXPECT_EQ(f.service->submit(good, shippedCatalog(), kTeacher).outcome, Outcome::Created);
}

TEST(ApplicationSubmitTest, MalformedIdempotencyKeysAreRefused) {
    Fixture f;
    for (std::string key : {std::string(), std::string(256, 'k'), std::string("has space"), std::string("中文"),
                            std::string("tab\there")}) {
        auto req = vehiclePass("t.wang");
        req.idempotencyKey = key;
        auto r = f.service->submit(req, shippedCatalog(), kTeacher);
        EXPECT_EQ(r.outcome, Outcome::Invalid) << key;
        EXPECT_EQ(problemKeys(r.validation), std::set<std::string>{"idempotencyKey:invalid_idempotency_key"});
    }
    EXPECT_EQ(test::countRows(*f.db, "flows_applications"), 0);
}

TEST(ApplicationSubmitTest, SixteenConcurrentDuplicatesMakeExactlyOneApplication) {
    Fixture f;
    constexpr int kThreads = 16;
    std::barrier start(kThreads);
    std::mutex mutex;
    std::vector<Outcome> outcomes;
    std::set<std::string> ids;
    std::vector<std::string> errors;
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&] {
            auto req = vehiclePass("t.wang");
            req.idempotencyKey = "concurrent-key";
            start.arrive_and_wait();
            try {
                auto r = f.service->submit(req, shippedCatalog(), kTeacher);
                std::lock_guard lock(mutex);
                outcomes.push_back(r.outcome);
                if (r.application) ids.insert(r.application->id);
            } catch (const std::exception& e) {
                std::lock_guard lock(mutex);
                errors.push_back(e.what());
            }
        });
    }
    for (auto& t : threads) t.join();
    ASSERT_TRUE(errors.empty()) << errors.front();
    ASSERT_EQ(outcomes.size(), static_cast<std::size_t>(kThreads));
    EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), Outcome::Created), 1);
    EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), Outcome::Replayed), kThreads - 1);
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_EQ(test::countRows(*f.db, "flows_applications"), 1);
    EXPECT_EQ(test::countRows(*f.db, "flows_transitions"), 1);
    EXPECT_EQ(test::countRows(*f.db, "flows_idempotency"), 1);
}

TEST(ApplicationSubmitTest, ConcurrentDistinctSubmissionsAreAllKept) {
    Fixture f;
    constexpr int kThreads = 16;
    std::barrier start(kThreads);
    std::atomic<int> created{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            auto req = vehiclePass("t.wang");
            req.idempotencyKey = "distinct-" + std::to_string(i);
            start.arrive_and_wait();
            if (f.service->submit(req, shippedCatalog(), kTeacher).outcome == Outcome::Created) ++created;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(created.load(), kThreads);
    EXPECT_EQ(test::countRows(*f.db, "flows_applications"), kThreads);
}

TEST(ApplicationSubmitTest, RestartLosesNothing) {
    Fixture f;
    auto req = vehiclePass("t.wang");
    req.idempotencyKey = "restart-key";
    auto created = f.service->submit(req, shippedCatalog(), kTeacher);
    ASSERT_EQ(created.outcome, Outcome::Created);
    f.service->transition(created.application->id, ApplicationStatus::InReview, "clerk.li", "开始审核");
    const std::string before = toJson(f.service->get(created.application->id));

    f.reopen();
    EXPECT_EQ(toJson(f.service->get(created.application->id)), before);
    auto replay = f.service->submit(req, shippedCatalog(), kTeacher);
    ASSERT_EQ(replay.outcome, Outcome::Replayed);
    EXPECT_EQ(replay.application->id, created.application->id);
    EXPECT_EQ(f.db->schemaVersion("flows"), 1);
}

TEST(ApplicationSubmitTest, EventsAreWrittenInTheSameTransaction) {
    Fixture f;
    {
        Poco::Data::Session s = f.db->session();
        s << std::string("CREATE TABLE test_outbox (n ") +
                 (f.db->dialect() == store::Dialect::PostgreSql ? "BIGINT GENERATED BY DEFAULT AS IDENTITY"
                                                                : "INTEGER PRIMARY KEY") +
                 ", type TEXT, subject TEXT, data TEXT)",
            now;
    }
    f.service->setEventSink([](Poco::Data::Session& s, const std::string& type, const std::string& subject,
                               const std::string& data) {
        ASSERT_TRUE(s.isTransaction());
        std::string t = type, sub = subject, d = data;
        s << store::sql(s, "INSERT INTO test_outbox(type, subject, data) VALUES(?, ?, ?)"), use(t), use(sub), use(d),
            now;
    });
    auto r = f.service->submit(vehiclePass("t.wang"), shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Created);
    f.service->transition(r.application->id, ApplicationStatus::InReview, "clerk.li", "");

    Poco::Data::Session s = f.db->session();
    std::vector<std::string> types, subjects, data;
    s << "SELECT type, subject, data FROM test_outbox ORDER BY n", into(types), into(subjects), into(data), now;
    ASSERT_EQ(types.size(), 2u);
    EXPECT_EQ(types[0], "edu.campus.hub.application.submitted");
    EXPECT_EQ(types[1], "edu.campus.hub.application.status_changed");
    EXPECT_EQ(subjects[0], "applications/" + r.application->id);
    EXPECT_EQ(subjects[1], subjects[0]);
    EXPECT_EQ(parse(data[0])->getValue<std::string>("status"), "submitted");
    auto changed = parse(data[1]);
    EXPECT_EQ(changed->getValue<std::string>("from"), "submitted");
    EXPECT_EQ(changed->getValue<std::string>("to"), "in_review");
    EXPECT_EQ(changed->getValue<std::string>("actor"), "clerk.li");
    EXPECT_EQ(changed->getValue<int>("version"), 2);
}

TEST(ApplicationSubmitTest, ThrowingEventSinkRollsEverythingBack) {
    Fixture f;
    bool fail = true;
    f.service->setEventSink([&](Poco::Data::Session&, const std::string&, const std::string&, const std::string&) {
        if (fail) throw std::runtime_error("outbox unavailable");
    });
    auto req = vehiclePass("t.wang");
    req.idempotencyKey = "sink-key";
    EXPECT_THROW(f.service->submit(req, shippedCatalog(), kTeacher), std::runtime_error);
    EXPECT_EQ(test::countRows(*f.db, "flows_applications"), 0);
    EXPECT_EQ(test::countRows(*f.db, "flows_transitions"), 0);
    EXPECT_EQ(test::countRows(*f.db, "flows_idempotency"), 0);

    fail = false;
    auto r = f.service->submit(req, shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Created);  // the key was not burnt by the failed attempt

    fail = true;
    EXPECT_THROW(f.service->transition(r.application->id, ApplicationStatus::InReview, "clerk.li", ""),
                 std::runtime_error);
    Application after = f.service->get(r.application->id);
    EXPECT_EQ(after.status, ApplicationStatus::Submitted);
    EXPECT_EQ(after.version, 1);
    EXPECT_EQ(after.transitions.size(), 1u);
    EXPECT_EQ(test::countRows(*f.db, "flows_transitions"), 1);
}

TEST(ApplicationSubmitTest, HostileInputGetsClearErrorsAndLosesNothing) {
    Fixture f;
    auto kept = f.service->submit(vehiclePass("t.wang", "粤C00001"), shippedCatalog(), kTeacher);
    ASSERT_EQ(kept.outcome, Outcome::Created);
    const std::string keptJson = toJson(*kept.application);

    auto attempt = [&](const std::string& form) {
        auto req = vehiclePass("t.wang");
        req.formJson = form;
        return f.service->submit(req, shippedCatalog(), kTeacher);
    };
    // Huge form: refused before parsing.
    auto huge = attempt("{\"plate\":\"" + std::string(1 << 20, 'x') + "\"}");
    ASSERT_EQ(huge.outcome, Outcome::Invalid);
    EXPECT_EQ(problemKeys(huge.validation), std::set<std::string>{"form:too_large"});
    // Not JSON, not an object, nested too deep.
    for (const std::string& form : {std::string("{\"plate\":"), std::string("[1,2]"), std::string("\"text\""),
                                    std::string(20000, '['), std::string("{\"plate\":\"\xff\xfe\"}")}) {
        auto r = attempt(form);
        ASSERT_EQ(r.outcome, Outcome::Invalid) << form.substr(0, 20);
        EXPECT_TRUE(problemKeys(r.validation).count("form:invalid_json")) << form.substr(0, 20);
    }
    // Over-long value (plate max 10 characters; Chinese counted as characters).
    auto longPlate = attempt("{\"plate\":\"京京京京京京京京京京京\"}");
    EXPECT_EQ(problemKeys(longPlate.validation), std::set<std::string>{"form.plate:too_long"});
    // Invalid UTF-8 in a material id and too many materials.
    auto badMaterial = vehiclePass("t.wang");
    badMaterial.materials.push_back("\xc3\x28");
    auto r = f.service->submit(badMaterial, shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Invalid);
    ASSERT_EQ(r.validation.problems.size(), 1u);
    EXPECT_EQ(r.validation.problems[0].code, "unknown_material");
    EXPECT_NO_THROW(parse(r.validation.toJson()));
    auto many = vehiclePass("t.wang");
    many.materials.assign(10000, "staff-card");
    EXPECT_EQ(problemKeys(f.service->submit(many, shippedCatalog(), kTeacher).validation),
              std::set<std::string>{"materials:too_many"});
    // Invalid UTF-8 in the item id or subject.
    auto badItem = vehiclePass("t.wang");
    badItem.itemId = "vehicle-\xff";
    EXPECT_EQ(f.service->submit(badItem, shippedCatalog(), kTeacher).outcome, Outcome::ItemNotFound);
    EXPECT_THROW(f.service->submit(vehiclePass("bad\xff"), shippedCatalog(), kTeacher), InvalidRequest);
    EXPECT_THROW(f.service->submit(vehiclePass(""), shippedCatalog(), kTeacher), InvalidRequest);

    EXPECT_EQ(test::countRows(*f.db, "flows_applications"), 1);
    EXPECT_EQ(toJson(f.service->get(kept.application->id)), keptJson);
}

TEST(ApplicationSubmitTest, ChineseTextRoundTrips) {
    Fixture f;
    ApplicationService::SubmitRequest req;
    req.subject = "张三";
    req.itemId = "dorm-change";
    req.formJson = R"({"current-room":"东区12栋305","reason":"室友作息不同，申请调换到安静的宿舍。\n谢谢！"})";
    auto r = f.service->submit(req, shippedCatalog(), kStudent);
    ASSERT_EQ(r.outcome, Outcome::Created) << r.validation.toJson();
    f.reopen();
    Application a = f.service->get(r.application->id);
    EXPECT_EQ(a.applicant, "张三");
    auto form = parse(toJson(a))->getObject("form");
    EXPECT_EQ(form->getValue<std::string>("current-room"), "东区12栋305");
    EXPECT_EQ(form->getValue<std::string>("reason"), "室友作息不同，申请调换到安静的宿舍。\n谢谢！");
}

}  // namespace
}  // namespace hub::flows
