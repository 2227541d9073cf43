#include "hub/flows/ApplicationStatus.h"

#include <gtest/gtest.h>

#include <set>
#include <utility>

namespace hub::flows {
namespace {

using S = ApplicationStatus;

TEST(ApplicationStatusTest, NamesRoundTrip) {
    for (S s : allApplicationStatuses()) {
        auto parsed = parseApplicationStatus(toString(s));
        ASSERT_TRUE(parsed);
        EXPECT_EQ(*parsed, s);
    }
    EXPECT_EQ(toString(S::NeedsSupplement), "needs_supplement");
    EXPECT_EQ(toString(S::InReview), "in_review");
    EXPECT_FALSE(parseApplicationStatus("Submitted"));
    EXPECT_FALSE(parseApplicationStatus(""));
    EXPECT_FALSE(parseApplicationStatus("done"));
}

TEST(ApplicationStatusTest, TransitionTableIsExactlyTheDocumentedOne) {
    const std::set<std::pair<S, S>> allowed = {
        {S::Submitted, S::InReview},       {S::Submitted, S::NeedsSupplement}, {S::Submitted, S::Rejected},
        {S::Submitted, S::Completed},      {S::Submitted, S::Cancelled},       {S::InReview, S::Approved},
        {S::InReview, S::Rejected},        {S::InReview, S::NeedsSupplement},  {S::InReview, S::Cancelled},
        {S::NeedsSupplement, S::Submitted}, {S::NeedsSupplement, S::InReview}, {S::NeedsSupplement, S::Cancelled},
        {S::Approved, S::Completed}};
    int count = 0;
    for (S from : allApplicationStatuses()) {
        for (S to : allApplicationStatuses()) {
            bool expected = allowed.count({from, to}) != 0;
            EXPECT_EQ(isAllowedTransition(from, to), expected) << toString(from) << " -> " << toString(to);
            count += expected ? 1 : 0;
        }
    }
    EXPECT_EQ(count, 13);
}

TEST(ApplicationStatusTest, TerminalStatusesHaveNoWayOut) {
    for (S s : allApplicationStatuses()) {
        bool terminal = s == S::Rejected || s == S::Completed || s == S::Cancelled;
        EXPECT_EQ(isTerminal(s), terminal) << toString(s);
        EXPECT_EQ(allowedTransitions(s).empty(), terminal) << toString(s);
    }
}

}  // namespace
}  // namespace hub::flows
