#pragma once

#include <Poco/Exception.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hub::events {

/// Thrown for an event that is malformed, oversized or of an unknown type. The
/// message names the attribute that is wrong.
POCO_DECLARE_EXCEPTION(, EventError, Poco::DataFormatException)

/// The event types the hub knows, all under edu.campus.hub.* (see docs/events/).
namespace EventType {
inline constexpr std::string_view Prefix = "edu.campus.hub.";
inline constexpr std::string_view ApplicationSubmitted = "edu.campus.hub.application.submitted";
inline constexpr std::string_view ApplicationStatusChanged =
    "edu.campus.hub.application.status_changed";
inline constexpr std::string_view ApprovalRequested = "edu.campus.hub.approval.requested";
inline constexpr std::string_view ApprovalDecided = "edu.campus.hub.approval.decided";
inline constexpr std::string_view IdentityChanged = "edu.campus.hub.identity.changed";
inline constexpr std::string_view PluginHealthChanged = "edu.campus.hub.plugin.health_changed";
}  // namespace EventType

/// Every known type, in the order above.
const std::vector<std::string>& knownEventTypes();

/// True if `type` is one of knownEventTypes() or was registered (registerEventType).
bool isKnownEventType(std::string_view type);

/// True if `type` is one of knownEventTypes(), the hub's own and the reference
/// adapters' listed there.
bool isBuiltInEventType(std::string_view type);

/// Makes a type a plugin declares in its manifest (<emits>) known, so events of
/// that type can be created and relayed. Thread-safe; registering twice is
/// harmless. Throws EventError for a type not under edu.campus.hub.
void registerEventType(std::string_view type);

/// A CloudEvents 1.0 event in JSON structured mode.
///
/// `data` holds the payload as JSON text (an object for every hub type); it is
/// embedded as JSON, not as a string, when serialized. Events are values: build
/// one with create(), store it with Outbox::append(), and on the receiving side
/// read it back with fromJson(), which validates everything it returns.
struct CloudEvent {
    /// Largest serialized event accepted anywhere (256 KiB); larger input is refused
    /// before it is parsed.
    static constexpr std::size_t DefaultMaxBytes = 256 * 1024;

    std::string specversion = "1.0";
    std::string id;                                  ///< UUID; consumers de-duplicate by it.
    std::string source;                              ///< URI-reference of the producer, e.g. /campus-hub.
    std::string type;                                ///< One of EventType.
    std::string subject;                             ///< What it is about (e.g. the application id); ordering key.
    std::string time;                                ///< RFC 3339, UTC, e.g. 2024-05-01T08:00:00.123456Z.
    std::string datacontenttype = "application/json";
    std::string data = "{}";                         ///< JSON text.

    /// A new event with a random UUID and the current time. Validates (throws
    /// EventError for an unknown type or `dataJson` that is not a JSON object).
    static CloudEvent create(std::string_view type, std::string_view source,
                             std::string_view subject, std::string_view dataJson);

    /// Parses and validates a structured-mode event. Throws EventError naming the
    /// problem: larger than `maxBytes`, not UTF-8, not JSON, nested too deeply,
    /// a missing or mistyped attribute, specversion other than 1.0, an unknown
    /// type, a time that is not RFC 3339, a content type other than JSON, or
    /// data_base64.
    static CloudEvent fromJson(std::string_view json, std::size_t maxBytes = DefaultMaxBytes);

    /// Serializes to one line of JSON. Validates first (throws EventError).
    std::string toJson() const;

    /// Throws EventError if an attribute is missing or wrong (data is parsed).
    void validate() const;
};

/// True if `time` is an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm)).
bool isRfc3339(std::string_view time);

}  // namespace hub::events
