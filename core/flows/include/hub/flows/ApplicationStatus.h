#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace hub::flows {

/// Where an application stands. The allowed moves between these states are
/// fixed by isAllowedTransition(); see docs/flows/applications.md.
enum class ApplicationStatus {
    Submitted,        ///< Received, not yet looked at by the department.
    InReview,         ///< A clerk (or a flow) is working on it.
    NeedsSupplement,  ///< Waiting for the applicant to supply what is missing.
    Approved,         ///< Decided in the applicant's favour; completion pending.
    Rejected,         ///< Terminal: refused (also when a plugin operation failed).
    Completed,        ///< Terminal: done, result handed over.
    Cancelled         ///< Terminal: withdrawn by the applicant or the department.
};

/// "submitted", "in_review", "needs_supplement", "approved", "rejected", "completed", "cancelled".
std::string_view toString(ApplicationStatus status) noexcept;

/// The status with this name (exactly as toString() writes it), or nullopt.
std::optional<ApplicationStatus> parseApplicationStatus(std::string_view name) noexcept;

/// Rejected, completed and cancelled: nothing moves out of them.
bool isTerminal(ApplicationStatus status) noexcept;

/// Whether `from` -> `to` is one of the state machine's edges:
///
///     submitted        -> in_review | needs_supplement | rejected | completed | cancelled
///     in_review        -> approved | rejected | needs_supplement | cancelled
///     needs_supplement -> submitted | in_review | cancelled
///     approved         -> completed
///
/// Staying in the same status is never a transition.
bool isAllowedTransition(ApplicationStatus from, ApplicationStatus to) noexcept;

/// The statuses reachable from `from`, in declaration order.
std::vector<ApplicationStatus> allowedTransitions(ApplicationStatus from);

/// Every status, in declaration order.
const std::vector<ApplicationStatus>& allApplicationStatuses();

}  // namespace hub::flows
