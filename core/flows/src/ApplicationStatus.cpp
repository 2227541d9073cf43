#include "hub/flows/ApplicationStatus.h"

namespace hub::flows {

std::string_view toString(ApplicationStatus status) noexcept {
    switch (status) {
    case ApplicationStatus::Submitted: return "submitted";
    case ApplicationStatus::InReview: return "in_review";
    case ApplicationStatus::NeedsSupplement: return "needs_supplement";
    case ApplicationStatus::Approved: return "approved";
    case ApplicationStatus::Rejected: return "rejected";
    case ApplicationStatus::Completed: return "completed";
    case ApplicationStatus::Cancelled: return "cancelled";
    }
    return "unknown";
}

const std::vector<ApplicationStatus>& allApplicationStatuses() {
    static const std::vector<ApplicationStatus> all = {
        ApplicationStatus::Submitted, ApplicationStatus::InReview, ApplicationStatus::NeedsSupplement,
        ApplicationStatus::Approved,  ApplicationStatus::Rejected, ApplicationStatus::Completed,
        ApplicationStatus::Cancelled};
    return all;
}

std::optional<ApplicationStatus> parseApplicationStatus(std::string_view name) noexcept {
    for (ApplicationStatus s : allApplicationStatuses()) {
        if (toString(s) == name) return s;
    }
    return std::nullopt;
}

bool isTerminal(ApplicationStatus status) noexcept {
    return status == ApplicationStatus::Rejected || status == ApplicationStatus::Completed ||
           status == ApplicationStatus::Cancelled;
}

bool isAllowedTransition(ApplicationStatus from, ApplicationStatus to) noexcept {
    using S = ApplicationStatus;
    switch (from) {
    case S::Submitted:
        // completed straight from submitted: automatic online items (a plugin
        // answers at once) and items handled on the spot at a counter or kiosk.
        return to == S::InReview || to == S::NeedsSupplement || to == S::Rejected || to == S::Completed ||
               to == S::Cancelled;
    case S::InReview:
        return to == S::Approved || to == S::Rejected || to == S::NeedsSupplement || to == S::Cancelled;
    case S::NeedsSupplement:
        // Back to submitted when the supplement arrives before anyone reviewed it.
        return to == S::Submitted || to == S::InReview || to == S::Cancelled;
    case S::Approved:
        return to == S::Completed;
    case S::Rejected:
    case S::Completed:
    case S::Cancelled:
        return false;
    }
    return false;
}

std::vector<ApplicationStatus> allowedTransitions(ApplicationStatus from) {
    std::vector<ApplicationStatus> out;
    for (ApplicationStatus to : allApplicationStatuses()) {
        if (isAllowedTransition(from, to)) out.push_back(to);
    }
    return out;
}

}  // namespace hub::flows
