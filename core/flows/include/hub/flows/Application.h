#pragma once

#include "hub/flows/ApplicationStatus.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hub::flows {

/// One recorded move of an application's state machine.
struct Transition {
    std::int64_t sequence = 0;  ///< 1 for the submission; equals the application version it produced.
    std::optional<ApplicationStatus> from;  ///< Empty for the submission itself.
    ApplicationStatus to = ApplicationStatus::Submitted;
    std::string actor;   ///< Who: a subject (user id, "hub", "plugin:<system>/<operation>").
    std::string at;      ///< When: UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ".
    std::string reason;  ///< Why; may be empty where the state machine does not require one.
};

/// A user's request for a service item, as stored plus what is computed on
/// reading (overdue). Values, no behaviour: ApplicationService owns the rules.
struct Application {
    std::string id;           ///< UUID.
    std::string itemId;       ///< The catalogue item applied for.
    std::string applicant;    ///< The person the application is for (their subject).
    std::string submittedBy;  ///< Who sent it: the applicant, or a service acting for them.
    std::string department;   ///< The item's owning department at submission time.
    std::string handler;      ///< "plugin:<system>/<operation>" or "flow:<flowId>", from the item.
    ApplicationStatus status = ApplicationStatus::Submitted;
    std::string formJson = "{}";          ///< The validated form, a JSON object (normalized: keys sorted).
    std::vector<std::string> materials;   ///< Ids of the materials provided, sorted, unique.
    std::string submittedAt;  ///< UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ".
    std::string updatedAt;    ///< Last change, same format.
    int timeLimitDays = 0;    ///< The item's published limit in working days, at submission time.
    std::string dueDate;      ///< "YYYY-MM-DD" (hall's local calendar): last day for the work.
    bool overdue = false;     ///< Computed when read, never stored; see docs/flows/applications.md.
    std::string completedAt;  ///< When it reached completed; empty otherwise.
    std::string resultJson;   ///< Result handed back (e.g. by a plugin), JSON; empty = none.
    std::int64_t version = 1; ///< Grows by one with every change; for optimistic concurrency.
    std::vector<Transition> transitions;  ///< Oldest first; transitions.size() == version.
};

/// The application as the portal API shows it:
/// {"id","item_id","status","applicant","submitted_by","department","handler",
///  "form":{...},"materials":[...],"submitted_at","updated_at","time_limit_days",
///  "due_date","overdue","completed_at"|null,"result":{...}|null,"version",
///  "transitions":[{"seq","from"|null,"to","actor","at","reason"}...]}.
/// UTF-8 (Chinese) text is written as is, not \u-escaped.
std::string toJson(const Application& application);

}  // namespace hub::flows
