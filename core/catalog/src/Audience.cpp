#include "hub/catalog/Audience.h"
#include "hub/catalog/ServiceItem.h"

#include <array>

namespace hub::catalog {

namespace {
constexpr std::array<std::pair<std::string_view, Audience>, 4> kAudiences{{
    {"student", Audience::Student},
    {"teacher", Audience::Teacher},
    {"staff", Audience::Staff},
    {"visitor", Audience::Visitor},
}};
}  // namespace

std::optional<AudienceSet> AudienceSet::parse(std::string_view names) {
    AudienceSet set;
    std::size_t pos = 0;
    bool any = false;
    while (pos < names.size()) {
        std::size_t end = names.find_first_of(" ,\t\n", pos);
        if (end == std::string_view::npos) {
            end = names.size();
        }
        std::string_view word = names.substr(pos, end - pos);
        pos = end + 1;
        if (word.empty()) {
            continue;
        }
        bool known = false;
        for (const auto& [name, audience] : kAudiences) {
            if (word == name) {
                set.add(audience);
                known = true;
            }
        }
        if (!known) {
            return std::nullopt;
        }
        any = true;
    }
    if (!any) {
        return std::nullopt;
    }
    return set;
}

std::string AudienceSet::toString() const {
    std::string out;
    for (const auto& [name, audience] : kAudiences) {
        if (has(audience)) {
            if (!out.empty()) {
                out += ' ';
            }
            out += name;
        }
    }
    return out;
}

std::string_view toString(Audience audience) noexcept {
    for (const auto& [name, a] : kAudiences) {
        if (a == audience) {
            return name;
        }
    }
    return "unknown";
}

std::string_view toString(Channel channel) noexcept {
    switch (channel) {
    case Channel::Online: return "online";
    case Channel::Counter: return "counter";
    case Channel::Kiosk: return "kiosk";
    }
    return "unknown";
}

std::optional<Channel> parseChannel(std::string_view name) noexcept {
    if (name == "online") return Channel::Online;
    if (name == "counter") return Channel::Counter;
    if (name == "kiosk") return Channel::Kiosk;
    return std::nullopt;
}

std::string_view toString(FieldType type) noexcept {
    switch (type) {
    case FieldType::String: return "string";
    case FieldType::Integer: return "integer";
    case FieldType::Number: return "number";
    case FieldType::Date: return "date";
    case FieldType::Boolean: return "boolean";
    case FieldType::Enum: return "enum";
    case FieldType::File: return "file";
    }
    return "unknown";
}

const Material* ServiceItem::material(std::string_view materialId) const noexcept {
    for (const auto& m : materials) {
        if (m.id == materialId) return &m;
    }
    return nullptr;
}

const FormField* ServiceItem::field(std::string_view fieldId) const noexcept {
    for (const auto& f : fields) {
        if (f.id == fieldId) return &f;
    }
    return nullptr;
}

}  // namespace hub::catalog
