// The approval engine's link: approval.requested written with the change to
// in_review (and only then, by the event's type and its parsed "to"), and
// approval.decided applied inside the caller's transaction.
#include "FlowsTestSupport.h"

#include "hub/events/CloudEvent.h"
#include "hub/events/Outbox.h"
#include "hub/flows/ApprovalEngineLink.h"

#include <Poco/Data/Session.h>
#include <Poco/Data/Transaction.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace Poco::Data::Keywords;

namespace hub::flows {
namespace {

using test::Fixture;
using test::shippedCatalog;
using test::vehiclePass;
using Outcome = ApplicationService::SubmitResult::Outcome;

using test::kTeacher;
const std::string kRequested(events::EventType::ApprovalRequested);

// The outbox, its events in order as (type, data).
std::vector<std::pair<std::string, std::string>> outbox(store::Database& db) {
    std::vector<std::string> types, payloads;
    db.session() << "SELECT type, payload FROM events_outbox ORDER BY seq", into(types), into(payloads), now;
    std::vector<std::pair<std::string, std::string>> events;
    for (std::size_t i = 0; i < types.size(); ++i) {
        Poco::JSON::Parser parser;
        auto event = parser.parse(payloads[i]).extract<Poco::JSON::Object::Ptr>();
        std::ostringstream data;
        event->getObject("data")->stringify(data);
        events.emplace_back(types[i], data.str());
    }
    return events;
}

struct LinkFixture : Fixture {
    LinkFixture() {
        events::Outbox::migrate(*db);
        link = std::make_unique<ApprovalEngineLink>(*service, "/campus-hub");
        service->setEventSink(link->outboxSink());
    }
    // Offers one event to the link in its own transaction; whether it asked.
    bool offer(const std::string& type, const std::string& data) {
        Poco::Data::Session s = db->session();
        Poco::Data::Transaction tx(s, true);
        bool asked = link->requestIfEnteringReview(s, type, "applications/a-1", data);
        tx.commit();
        return asked;
    }
    std::unique_ptr<ApprovalEngineLink> link;
};

TEST(ApprovalEngineLinkTest, AFlowItemEnteringReviewAsksTheEngineInTheSameTransaction) {
    LinkFixture f;
    auto request = vehiclePass("t.wang");  // handled by the flow "vehicle-pass"
    request.startReview = true;
    auto r = f.service->submit(request, shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Created);
    auto events = outbox(*f.db);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].first, ApplicationService::submittedEvent);
    EXPECT_EQ(events[1].first, ApplicationService::statusChangedEvent);
    ASSERT_EQ(events[2].first, kRequested);
    Poco::JSON::Parser parser;
    auto task = parser.parse(events[2].second).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(task->getValue<std::string>("applicationId"), r.application->id);
    EXPECT_EQ(task->getValue<std::string>("serviceId"), "vehicle-pass");
    EXPECT_EQ(task->getValue<std::string>("applicant"), "t.wang");
    EXPECT_EQ(task->getValue<std::string>("assignee"), r.application->department);
    EXPECT_FALSE(task->getValue<std::string>("taskId").empty());
}

// The hub used to find the change to in_review as the text "to":"in_review"
// anywhere in the event's data. Read from the parsed object, a change to
// another status whose data holds that text elsewhere asks nothing, and a
// change to in_review written with other spacing still asks.
TEST(ApprovalEngineLinkTest, OnlyAChangeWhoseToIsInReviewAsksNotDataHoldingTheText) {
    LinkFixture f;
    const std::string changed = ApplicationService::statusChangedEvent;
    EXPECT_FALSE(f.offer(changed, R"({"id":"a-1","from":"in_review","to":"approved","previous":{"to":"in_review"}})"));
    EXPECT_FALSE(
        f.offer(changed, R"({"id":"a-1","from":"submitted","to":"needs_supplement","note":{"to":"in_review"}})"));
    EXPECT_FALSE(f.offer(ApplicationService::submittedEvent, R"({"id":"a-1","form":{"to":"in_review"}})"));
    EXPECT_FALSE(f.offer("edu.campus.hub.plugin.health_changed", R"({"to":"in_review"})"));
    EXPECT_FALSE(f.offer(changed, R"({"id":"a-1","to":["in_review"]})"));
    EXPECT_TRUE(f.offer(changed, R"({ "id" : "a-1", "item_id": "vehicle-pass", "to" : "in_review" })"));
    auto events = outbox(*f.db);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].first, kRequested);
    EXPECT_NE(events[0].second.find(R"("applicationId":"a-1")"), std::string::npos);
    EXPECT_THROW(f.offer(changed, "[\"to\",\"in_review\"]"), Poco::Exception);
}

TEST(ApprovalEngineLinkTest, ADecisionMovesTheApplicationAsTheAdmittedPeer) {
    LinkFixture f;
    auto request = vehiclePass("t.wang");
    request.startReview = true;
    auto r = f.service->submit(request, shippedCatalog(), kTeacher);
    ASSERT_EQ(r.outcome, Outcome::Created);
    auto decided = events::CloudEvent::create(
        events::EventType::ApprovalDecided, "/approval-engine", "applications/" + r.application->id,
        R"({"applicationId":")" + r.application->id + R"(","decision":"approved","decidedBy":"someone else"})");
    auto apply = [&](const events::CloudEvent& event) {
        Poco::Data::Session s = f.db->session();
        Poco::Data::Transaction tx(s, true);
        f.link->inboundHandler()(s, event, events::InboundPeer{"approval-engine", true});
        tx.commit();
    };
    apply(decided);
    auto a = f.service->get(r.application->id);
    EXPECT_EQ(a.status, ApplicationStatus::Approved);
    EXPECT_EQ(a.transitions.back().actor, "approval-engine:approval-engine");
    EXPECT_EQ(a.transitions.back().reason, "decided by the approval engine");
    apply(decided);  // the same decision again: nothing more
    EXPECT_EQ(f.service->get(r.application->id).version, a.version);

    auto unknown = events::CloudEvent::create(events::EventType::ApprovalDecided, "/approval-engine",
                                              "applications/none", R"({"applicationId":"none","decision":"rejected"})");
    EXPECT_NO_THROW(apply(unknown));  // acknowledged, not resent forever
    auto maybe = events::CloudEvent::create(events::EventType::ApprovalDecided, "/approval-engine",
                                            "applications/" + r.application->id,
                                            R"({"applicationId":")" + r.application->id + R"(","decision":"maybe"})");
    EXPECT_THROW(apply(maybe), Poco::InvalidArgumentException);
    auto other = events::CloudEvent::create(
        events::EventType::ApprovalRequested, "/approval-engine", "applications/" + r.application->id,
        R"({"applicationId":")" + r.application->id + R"(","decision":"rejected"})");
    EXPECT_THROW(apply(other), Poco::InvalidArgumentException);
    EXPECT_EQ(f.service->get(r.application->id).status, ApplicationStatus::Approved);
}

}  // namespace
}  // namespace hub::flows
