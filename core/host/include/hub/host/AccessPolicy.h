#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::host {

struct Manifest;

/// Who may call one plugin operation: the attributes of its <operation> in
/// plugin.xml, narrowed by the operator in hub.xml. The host checks it before
/// the plugin is called (PluginHost::submit), the same way for in-process and
/// process plugins.
///
/// One rule: a caller holding one of `roles` may call; otherwise a caller of
/// one of `audiences` (any caller when `anyAudience`) may, provided the input's
/// top-level string member named `self`, when set, equals the caller's own id
/// (the user a service account acts for, else the token's subject). An
/// operation without a policy is refused to everyone.
struct AccessPolicy {
    bool declared = false;               ///< The manifest (or hub.xml) gave one; otherwise every call is refused.
    bool anyAudience = false;            ///< access="authenticated": every signed-in caller.
    std::vector<std::string> audiences;  ///< student, teacher, staff, visitor.
    std::vector<std::string> roles;      ///< e.g. dept:student-affairs:clerk, hub:admin.
    std::string self;                    ///< Input member that must equal the caller's id; empty: none.
    bool disabled = false;               ///< Turned off in hub.xml (enabled="false").
    bool fromHubConfig = false;          ///< The manifest declared none; hub.xml supplied it.
    /// webhook="true": run only for the vendor's signed callbacks (POST
    /// /api/v1/webhooks/{plugin}/{operation}), never for a user or service token.
    bool webhook = false;

    /// Why this caller may not call with this input; empty when allowed. `user`
    /// is the caller's own id: the person a service account acts for, else the
    /// subject. `input` is the call's JSON (already checked to be valid JSON);
    /// only its top-level `self` member is read, without building a document.
    std::string refusal(std::string_view user, const std::vector<std::string>& callerRoles,
                        const std::vector<std::string>& callerAudiences, std::string_view input) const;

    /// The policy as one line, for logs and refusals: "audiences student, self
    /// student_id, or roles dept:student-affairs:clerk".
    std::string describe() const;
};

/// What the top level of a JSON object says about one member.
enum class MemberLookup { Found, Missing, NotString, Repeated, NotObject };

/// Finds the string member `name` at the top level of the JSON text `json` (SAX,
/// no document; escapes decoded in names and value). A member that occurs more
/// than once is Repeated: plugins' parsers disagree on which one wins, so the
/// host never guesses. Text that is not valid JSON is NotObject.
MemberLookup findTopLevelString(std::string_view json, std::string_view name, std::string& value);

/// Applies the operator's narrowing from the hub config's plugins subtree
/// (`plugin[@name=P].operation[@name=O]` with attributes roles, audiences, self,
/// access, enabled) to the manifest's operations. hub.xml may only narrow a
/// policy the manifest declares: a role or audience the manifest does not list,
/// another self field, or dropping self throws std::invalid_argument naming the
/// key (`plugins.plugin[@name=P].operation[@name=O][@roles]`). An operation the
/// manifest leaves without a policy may get one from hub.xml (the migration
/// path for manifests older than policies). An operation hub.xml names that
/// the manifest lacks is an error too.
void applyOperatorPolicies(Manifest& manifest, const Poco::Util::AbstractConfiguration* plugins);

}  // namespace hub::host
