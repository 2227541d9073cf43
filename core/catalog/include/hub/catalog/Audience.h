#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hub::catalog {

/// Who a service item is for. An item may serve several audiences.
enum class Audience : std::uint8_t { Student = 1, Teacher = 2, Staff = 4, Visitor = 8 };

/// A set of audiences (a bit mask): the audiences an item serves, or the
/// audiences a caller belongs to.
class AudienceSet {
public:
    constexpr AudienceSet() noexcept = default;
    constexpr explicit AudienceSet(std::uint8_t bits) noexcept : bits_(static_cast<std::uint8_t>(bits & 0x0F)) {}
    constexpr AudienceSet(Audience a) noexcept : bits_(static_cast<std::uint8_t>(a)) {}  // NOLINT: implicit by design

    /// Every audience: for service tokens and operators, never for end users.
    static constexpr AudienceSet all() noexcept { return AudienceSet(0x0F); }

    /// Parses names separated by spaces or commas ("student teacher",
    /// "staff,visitor"); nullopt on an unknown name or an empty list.
    static std::optional<AudienceSet> parse(std::string_view names);

    constexpr AudienceSet& add(Audience a) noexcept {
        bits_ = static_cast<std::uint8_t>(bits_ | static_cast<std::uint8_t>(a));
        return *this;
    }
    constexpr bool has(Audience a) const noexcept { return (bits_ & static_cast<std::uint8_t>(a)) != 0; }
    constexpr bool intersects(AudienceSet o) const noexcept { return (bits_ & o.bits_) != 0; }
    constexpr AudienceSet operator&(AudienceSet o) const noexcept { return AudienceSet(static_cast<std::uint8_t>(bits_ & o.bits_)); }
    constexpr AudienceSet operator|(AudienceSet o) const noexcept { return AudienceSet(static_cast<std::uint8_t>(bits_ | o.bits_)); }
    constexpr bool empty() const noexcept { return bits_ == 0; }
    constexpr std::uint8_t bits() const noexcept { return bits_; }
    constexpr bool operator==(const AudienceSet&) const noexcept = default;

    /// Space-separated names in a fixed order ("student teacher").
    std::string toString() const;

private:
    std::uint8_t bits_ = 0;
};

/// "student", "teacher", "staff", "visitor".
std::string_view toString(Audience audience) noexcept;

/// How an item is delivered: in the online hall, at a counter, or at a 24h kiosk.
enum class Channel : std::uint8_t { Online, Counter, Kiosk };

/// "online", "counter", "kiosk".
std::string_view toString(Channel channel) noexcept;

/// nullopt for anything but the three names (case-sensitive).
std::optional<Channel> parseChannel(std::string_view name) noexcept;

}  // namespace hub::catalog
