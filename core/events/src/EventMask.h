#pragma once
// Personal data in the events a consumer is sent (docs/events/README.md,
// "Masking"): every field of `data` named personal (at any depth) is masked
// unless the consumer is granted it; the rest of the text is masked like a log
// line (mobile numbers, resident ID numbers, e-mail addresses).

#include <set>
#include <string>
#include <vector>

namespace hub::events {

class EventMask {
public:
    /// `personal`: the field names that hold personal data; `granted`: those
    /// the consumer receives in the clear, or "*" for all (no masking at all).
    EventMask(const std::vector<std::string>& personal, const std::vector<std::string>& granted);

    /// False when the consumer is granted everything: events go out as stored.
    bool active() const { return active_; }

    /// The event (CloudEvents JSON) with its data masked. Text that is not a
    /// JSON object is masked as free text.
    std::string apply(const std::string& eventJson) const;

    /// A masked scalar: its first character and "***" ("2***", "张***");
    /// "" stays "".
    static std::string maskValue(const std::string& text);

private:
    std::set<std::string> masked_;  ///< personal minus granted
    bool active_ = true;
};

}  // namespace hub::events
