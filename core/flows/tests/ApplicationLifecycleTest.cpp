#include "FlowsTestSupport.h"

#include <Poco/Data/Statement.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <barrier>
#include <map>
#include <mutex>
#include <thread>

using namespace Poco::Data::Keywords;

namespace hub::flows {
namespace {

using test::Fixture;
using test::shippedCatalog;
using test::vehiclePass;
using Outcome = ApplicationService::SubmitResult::Outcome;
using S = ApplicationStatus;
using catalog::Audience;
using catalog::AudienceSet;

using test::kTeacher;
using test::kStudent;

std::string submitVehiclePass(Fixture& f, const std::string& subject = "t.wang") {
    auto r = f.service->submit(vehiclePass(subject), shippedCatalog(), kTeacher);
    EXPECT_EQ(r.outcome, Outcome::Created) << r.message;
    return r.application ? r.application->id : std::string();
}

/// Drives a fresh application into `status` along allowed edges.
std::string applicationIn(Fixture& f, S status) {
    std::string id = submitVehiclePass(f);
    static const std::map<S, std::vector<S>> paths = {
        {S::Submitted, {}},
        {S::InReview, {S::InReview}},
        {S::NeedsSupplement, {S::NeedsSupplement}},
        {S::Approved, {S::InReview, S::Approved}},
        {S::Rejected, {S::Rejected}},
        {S::Completed, {S::Completed}},
        {S::Cancelled, {S::Cancelled}},
    };
    for (S step : paths.at(status)) f.service->transition(id, step, "clerk.li", "setting up");
    EXPECT_EQ(f.service->get(id).status, status);
    return id;
}

TEST(ApplicationLifecycleTest, EveryAllowedAndEveryForbiddenTransition) {
    Fixture f;
    int allowed = 0, forbidden = 0;
    for (S from : allApplicationStatuses()) {
        for (S to : allApplicationStatuses()) {
            std::string id = applicationIn(f, from);
            Application before = f.service->get(id);
            if (isAllowedTransition(from, to)) {
                Application after = f.service->transition(id, to, "clerk.li", "because");
                EXPECT_EQ(after.status, to);
                EXPECT_EQ(after.version, before.version + 1);
                EXPECT_EQ(f.service->get(id).status, to);
                ++allowed;
            } else {
                try {
                    f.service->transition(id, to, "clerk.li", "because");
                    ADD_FAILURE() << toString(from) << " -> " << toString(to) << " was allowed";
                } catch (const IllegalTransition& e) {
                    EXPECT_EQ(e.from(), from);
                    EXPECT_EQ(e.to(), to);
                    EXPECT_NE(std::string(e.what()).find(std::string(toString(from))), std::string::npos);
                }
                Application after = f.service->get(id);
                EXPECT_EQ(toJson(after), toJson(before)) << toString(from) << " -> " << toString(to);
                ++forbidden;
            }
        }
    }
    EXPECT_EQ(allowed, 13);
    EXPECT_EQ(forbidden, 36);
}

TEST(ApplicationLifecycleTest, TransitionsRecordWhoWhenWhy) {
    Fixture f;
    std::string id = submitVehiclePass(f);
    f.clock->set("2026-10-08T01:15:00Z");
    f.service->transition(id, S::InReview, "clerk.li", "开始审核");
    f.clock->set("2026-10-09T06:30:00Z");
    f.service->transition(id, S::NeedsSupplement, "clerk.li", "行驶证复印件不清晰");
    f.clock->set("2026-10-09T07:00:00Z");
    f.service->cancel(id, "t.wang", "不再需要");

    Application a = f.service->get(id);
    ASSERT_EQ(a.transitions.size(), 4u);
    EXPECT_EQ(a.version, 4);
    const Transition& review = a.transitions[1];
    EXPECT_EQ(review.sequence, 2);
    EXPECT_EQ(review.from, S::Submitted);
    EXPECT_EQ(review.to, S::InReview);
    EXPECT_EQ(review.actor, "clerk.li");
    EXPECT_EQ(review.at, "2026-10-08T01:15:00.000Z");
    EXPECT_EQ(review.reason, "开始审核");
    EXPECT_EQ(a.transitions[2].reason, "行驶证复印件不清晰");
    EXPECT_EQ(a.transitions[3].actor, "t.wang");
    EXPECT_EQ(a.transitions[3].to, S::Cancelled);
    EXPECT_EQ(a.updatedAt, "2026-10-09T07:00:00.000Z");
    EXPECT_TRUE(a.completedAt.empty());

    // The rows themselves, as another reader of the database sees them.
    Poco::Data::Session s = f.db->session();
    std::vector<std::string> actors, reasons, ats;
    s << store::sql(s, "SELECT actor, reason, at FROM flows_transitions WHERE application_id = ? ORDER BY seq"),
        use(id), into(actors), into(reasons), into(ats), now;
    EXPECT_EQ(actors, (std::vector<std::string>{"t.wang", "clerk.li", "clerk.li", "t.wang"}));
    EXPECT_EQ(reasons[2], "行驶证复印件不清晰");
    EXPECT_EQ(ats[3], "2026-10-09T07:00:00.000Z");
}

TEST(ApplicationLifecycleTest, ReasonAndActorRules) {
    Fixture f;
    std::string id = submitVehiclePass(f);
    EXPECT_THROW(f.service->transition(id, S::Rejected, "clerk.li", ""), InvalidRequest);
    EXPECT_THROW(f.service->transition(id, S::NeedsSupplement, "clerk.li", ""), InvalidRequest);
    EXPECT_THROW(f.service->transition(id, S::InReview, "", ""), InvalidRequest);
    EXPECT_THROW(f.service->transition(id, S::InReview, "clerk\xff", ""), InvalidRequest);
    EXPECT_THROW(f.service->transition(id, S::Rejected, "clerk.li", std::string(5000, 'x')), InvalidRequest);
    EXPECT_THROW(f.service->transition("no-such-id", S::InReview, "clerk.li", ""), ApplicationNotFound);
    EXPECT_EQ(f.service->get(id).version, 1);
    EXPECT_FALSE(f.service->find("no-such-id"));
    EXPECT_THROW(f.service->get("no-such-id"), ApplicationNotFound);
}

TEST(ApplicationLifecycleTest, ExpectedVersionGuardsAgainstLostUpdates) {
    Fixture f;
    std::string id = submitVehiclePass(f);
    f.service->transition(id, S::InReview, "clerk.li", "", 1);
    try {
        f.service->transition(id, S::Approved, "clerk.wu", "", 1);
        FAIL() << "a stale version was accepted";
    } catch (const VersionConflict& e) {
        EXPECT_EQ(e.expected(), 1);
        EXPECT_EQ(e.actual(), 2);
    }
    EXPECT_EQ(f.service->transition(id, S::Approved, "clerk.wu", "", 2).status, S::Approved);
}

TEST(ApplicationLifecycleTest, ConcurrentDecisionsOnOneApplicationLetOneWin) {
    Fixture f;
    std::string id = submitVehiclePass(f);
    constexpr int kThreads = 8;
    std::barrier start(kThreads);
    std::atomic<int> moved{0}, illegal{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            try {
                // Half review, half reject: whichever commits first decides;
                // the others must see the new state and be refused.
                if (i % 2 == 0) {
                    f.service->transition(id, S::Rejected, "clerk." + std::to_string(i), "材料不全");
                } else {
                    f.service->transition(id, S::Cancelled, "t.wang", "");
                }
                ++moved;
            } catch (const IllegalTransition&) {
                ++illegal;
            } catch (...) {
                ++other;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(moved.load(), 1);
    EXPECT_EQ(illegal.load(), kThreads - 1);
    EXPECT_EQ(other.load(), 0);
    Application a = f.service->get(id);
    EXPECT_EQ(a.version, 2);
    EXPECT_EQ(a.transitions.size(), 2u);
}

TEST(ApplicationLifecycleTest, ListFiltersByStatusWithPaging) {
    Fixture f;
    std::vector<std::string> mine;
    for (int i = 0; i < 25; ++i) {
        f.clock->advanceSeconds(60);
        mine.push_back(submitVehiclePass(f, "t.wang"));
    }
    for (int i = 0; i < 5; ++i) submitVehiclePass(f, "t.zhao");
    for (int i = 0; i < 7; ++i) f.service->transition(mine[static_cast<std::size_t>(i)], S::InReview, "clerk.li", "");

    ApplicationService::ListQuery q;
    q.applicant = "t.wang";
    q.pageSize = 10;
    auto all = f.service->list(q);
    EXPECT_EQ(all.total, 25u);
    ASSERT_EQ(all.items.size(), 10u);
    EXPECT_EQ(all.items[0].id, mine[24]);  // newest first
    for (const auto& a : all.items) EXPECT_EQ(a.applicant, "t.wang");

    q.statuses = {S::Submitted};
    q.page = 2;
    auto page2 = f.service->list(q);
    EXPECT_EQ(page2.total, 18u);
    ASSERT_EQ(page2.items.size(), 8u);
    for (const auto& a : page2.items) {
        EXPECT_EQ(a.status, S::Submitted);
        EXPECT_EQ(a.transitions.size(), 1u);
    }
    q.page = 3;
    auto page3 = f.service->list(q);
    EXPECT_EQ(page3.total, 18u);
    EXPECT_TRUE(page3.items.empty());
    q.page = static_cast<std::size_t>(-1);
    EXPECT_TRUE(f.service->list(q).items.empty());

    q.page = 1;
    q.statuses = {S::InReview, S::Cancelled};
    auto review = f.service->list(q);
    EXPECT_EQ(review.total, 7u);
    for (const auto& a : review.items) EXPECT_EQ(a.transitions.back().to, S::InReview);

    q.pageSize = 100000;
    EXPECT_EQ(f.service->list(q).pageSize, ApplicationService::maxPageSize);
    q.page = 0;
    EXPECT_THROW(f.service->list(q), InvalidRequest);
    q.page = 1;
    q.pageSize = 0;
    EXPECT_THROW(f.service->list(q), InvalidRequest);
}

TEST(ApplicationLifecycleTest, DepartmentListingShowsOnlyThatDepartment) {
    Fixture f;
    submitVehiclePass(f, "t.wang");
    submitVehiclePass(f, "t.zhao");
    ApplicationService::SubmitRequest dorm;
    dorm.subject = "s.zhang";
    dorm.itemId = "dorm-change";
    dorm.formJson = R"({"current-room":"3-101","reason":"太吵"})";
    ASSERT_EQ(f.service->submit(dorm, shippedCatalog(), kStudent).outcome, Outcome::Created);

    ApplicationService::ListQuery q;
    q.department = "security";
    auto security = f.service->list(q);
    EXPECT_EQ(security.total, 2u);
    for (const auto& a : security.items) EXPECT_EQ(a.department, "security");
    q.department = "logistics";
    auto logistics = f.service->list(q);
    ASSERT_EQ(logistics.total, 1u);
    EXPECT_EQ(logistics.items[0].applicant, "s.zhang");
    q.department = "nowhere";
    EXPECT_EQ(f.service->list(q).total, 0u);
    q.department.clear();
    EXPECT_EQ(f.service->list(q).total, 3u);
}

TEST(ApplicationLifecycleTest, CancelOnlyWhileOpen) {
    Fixture f;
    std::string id = submitVehiclePass(f);
    Application cancelled = f.service->cancel(id, "t.wang", "填错了");
    EXPECT_EQ(cancelled.status, S::Cancelled);
    EXPECT_EQ(cancelled.transitions.back().reason, "填错了");
    EXPECT_THROW(f.service->cancel(id, "t.wang", "again"), IllegalTransition);
    std::string approved = applicationIn(f, S::Approved);
    EXPECT_THROW(f.service->cancel(approved, "t.wang", ""), IllegalTransition);
}

TEST(ApplicationLifecycleTest, SupplementIsRevalidatedAndReturnsToThePreviousStatus) {
    Fixture f;
    // Submitted without the optional budget sheet; the department asks for it
    // and for a corrected partner name.
    ApplicationService::SubmitRequest req;
    req.subject = "t.wang";
    req.itemId = "research-contract-review";
    req.formJson = R"({"partner":"某某公司","amount":120000})";
    req.materials = {"contract"};
    auto r = f.service->submit(req, shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Created) << r.validation.toJson();
    const std::string id = r.application->id;

    ApplicationService::SupplementRequest sup;
    sup.id = id;
    sup.actor = "t.wang";
    sup.formJson = R"({"partner":"北京某某科技有限公司"})";
    sup.materials = {"budget"};
    EXPECT_THROW(f.service->supplement(sup, shippedCatalog()), IllegalTransition);  // not asked yet

    f.service->transition(id, S::NeedsSupplement, "clerk.li", "请补充经费预算表并写全合作单位名称");

    // A supplement that breaks the form is refused with every problem; nothing changes.
    auto broken = sup;
    broken.formJson = R"({"amount":"很多","partner":""})";
    broken.materials = {"budget", "bogus"};
    try {
        f.service->supplement(broken, shippedCatalog());
        FAIL() << "an invalid supplement was accepted";
    } catch (const ValidationFailed& e) {
        std::set<std::string> keys;
        for (const auto& p : e.validation().problems) keys.insert(p.field + ":" + p.code);
        EXPECT_EQ(keys, (std::set<std::string>{"form.amount:wrong_type", "form.partner:missing",
                                               "materials.bogus:unknown_material"}));
    }
    auto notJson = sup;
    notJson.formJson = "{not json";
    EXPECT_THROW(f.service->supplement(notJson, shippedCatalog()), ValidationFailed);
    EXPECT_EQ(f.service->get(id).status, S::NeedsSupplement);
    EXPECT_EQ(f.service->get(id).version, 2);

    Application after = f.service->supplement(sup, shippedCatalog());
    EXPECT_EQ(after.status, S::Submitted);  // it had not been reviewed yet
    EXPECT_EQ(after.materials, (std::vector<std::string>{"budget", "contract"}));
    EXPECT_EQ(after.transitions.back().actor, "t.wang");
    EXPECT_EQ(after.transitions.back().reason, "supplemented");
    Poco::JSON::Parser parser;
    auto form = parser.parse(f.service->get(id).formJson).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(form->getValue<std::string>("partner"), "北京某某科技有限公司");
    EXPECT_EQ(form->getValue<int>("amount"), 120000);

    // From in_review, a supplement goes back to in_review.
    f.service->transition(id, S::InReview, "clerk.li", "");
    f.service->transition(id, S::NeedsSupplement, "clerk.li", "合同需盖章");
    ApplicationService::SupplementRequest stamped;
    stamped.id = id;
    stamped.actor = "t.wang";
    stamped.materials = {"contract"};
    stamped.reason = "已上传盖章合同";
    Application back = f.service->supplement(stamped, shippedCatalog());
    EXPECT_EQ(back.status, S::InReview);
    EXPECT_EQ(back.transitions.back().reason, "已上传盖章合同");
}

TEST(ApplicationLifecycleTest, DueDateAndOverdueFollowTheShippedCalendar) {
    // Submitted Wednesday 2026-09-30 at 23:30 in the hall (15:30 UTC): the
    // hall's date counts, not UTC's.
    Fixture f("2026-09-30T15:30:00Z");
    std::string id = submitVehiclePass(f);
    EXPECT_EQ(f.service->get(id).dueDate, "2026-10-13");

    // One minute later it is already 10-01 in the hall (a holiday): a 1-day
    // item is due on the first working day after the holiday week.
    f.clock->set("2026-09-30T16:01:00Z");
    ApplicationService::SubmitRequest cert;
    cert.subject = "s.zhang";
    cert.itemId = "enrolment-certificate";
    cert.formJson = R"({"student_id":"2023010101","purpose":"visa"})";
    auto c = f.service->submit(cert, shippedCatalog(), kStudent);
    ASSERT_EQ(c.outcome, Outcome::Created) << c.validation.toJson();
    EXPECT_EQ(c.application->dueDate, "2026-10-08");

    // Last minute of the due day (hall time): not overdue; next day: overdue.
    f.clock->set("2026-10-13T15:59:00Z");
    EXPECT_FALSE(f.service->get(id).overdue);
    f.clock->set("2026-10-13T16:00:00Z");
    EXPECT_TRUE(f.service->get(id).overdue);
    EXPECT_TRUE(f.service->get(c.application->id).overdue);

    // Closed applications: late only if closed after the due date.
    f.clock->set("2026-10-08T03:00:00Z");
    f.service->transition(c.application->id, S::Completed, "hub", "");
    f.clock->set("2026-11-01T03:00:00Z");
    EXPECT_FALSE(f.service->get(c.application->id).overdue);
    f.service->transition(id, S::Rejected, "clerk.li", "逾期未补正");
    EXPECT_TRUE(f.service->get(id).overdue);

    // The overdue flag is never stored: the JSON shows what is true when read.
    ApplicationService::ListQuery q;
    q.statuses = {S::Rejected};
    auto list = f.service->list(q);
    ASSERT_EQ(list.items.size(), 1u);
    EXPECT_NE(toJson(list.items[0]).find("\"overdue\":true"), std::string::npos);
}

TEST(ApplicationLifecycleTest, PluginAnswerCompletesOrRejects) {
    Fixture f;
    ApplicationService::SubmitRequest cert;
    cert.subject = "s.zhang";
    cert.itemId = "certificate-by-plugin";  // the shipped certificate runs its flow
    cert.formJson = R"({"student_id":"2023010101","purpose":"visa","language":"en"})";
    auto submit = [&] {
        auto r = f.service->submit(cert, test::catalogWithPluginItem(), kStudent);
        EXPECT_EQ(r.outcome, Outcome::Created);
        EXPECT_EQ(r.application->handler, "plugin:student_affairs/enrolment_certificate");
        return r.application->id;
    };

    std::string ok = submit();
    f.clock->advanceSeconds(2);
    Application done = f.service->completeFromPlugin(ok, true, R"({"certificate_no":"ZD-2026-0001","message":"已签发"})");
    EXPECT_EQ(done.status, S::Completed);
    EXPECT_EQ(done.completedAt, "2026-09-30T02:00:02.000Z");
    EXPECT_EQ(done.transitions.back().actor, "plugin:student_affairs/enrolment_certificate");
    Poco::JSON::Parser parser;
    auto json = parser.parse(toJson(f.service->get(ok))).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(json->getObject("result")->getValue<std::string>("certificate_no"), "ZD-2026-0001");
    EXPECT_EQ(json->getValue<std::string>("completed_at"), "2026-09-30T02:00:02.000Z");
    EXPECT_THROW(f.service->completeFromPlugin(ok, true, "{}"), IllegalTransition);  // already completed

    std::string failed = submit();
    Application rejected = f.service->completeFromPlugin(failed, false, R"({"detail":"学籍状态异常：休学中"})");
    EXPECT_EQ(rejected.status, S::Rejected);
    EXPECT_EQ(rejected.transitions.back().reason, "学籍状态异常：休学中");
    EXPECT_TRUE(rejected.completedAt.empty());

    std::string garbage = submit();
    Application g = f.service->completeFromPlugin(garbage, true, "<html>502 Bad Gateway</html>", "plugin-host");
    EXPECT_EQ(g.status, S::Rejected);
    EXPECT_EQ(g.transitions.back().actor, "plugin-host");
    EXPECT_NE(g.transitions.back().reason.find("not valid JSON"), std::string::npos);
    EXPECT_TRUE(g.resultJson.empty());

    std::string reviewing = submit();
    f.service->transition(reviewing, S::InReview, "clerk.li", "");
    EXPECT_THROW(f.service->completeFromPlugin(reviewing, true, "{}"), IllegalTransition);
    f.service->transition(reviewing, S::Approved, "clerk.li", "");
    EXPECT_EQ(f.service->completeFromPlugin(reviewing, true, "[1,2]").status, S::Completed);
    EXPECT_EQ(f.service->get(reviewing).resultJson, "[1,2]");
}

}  // namespace
}  // namespace hub::flows
