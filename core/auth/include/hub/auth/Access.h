#pragma once

#include "hub/auth/Principal.h"

#include <string>
#include <string_view>
#include <vector>

namespace Poco::Util {
class AbstractConfiguration;
}

namespace hub::auth {

/// A service account from auth.serviceAccounts.account[n] (e.g. the portal's backend).
struct ServiceAccount
{
    std::string subject;    ///< The `sub` of the service's tokens.
    bool mayActFor = false; ///< May it act on behalf of a user (`on_behalf_of`)?
    /// The audiences of the users it may act for (student, teacher, staff, visitor);
    /// required when mayActFor. Acting for a user, the call carries only these of the user's audiences.
    std::vector<std::string> actForAudiences;
    /// The roles of a user that pass to a call made for them; none unless listed
    /// (never hub:admin or a clerk role unless granted here by name).
    std::vector<std::string> actForRoles;
};

/// The user a request is performed for, after acting-for has been resolved.
struct Actor
{
    std::string subject;            ///< The user whose rights apply.
    std::string viaService;         ///< The service account acting for them; empty for a direct call.
    std::vector<std::string> roles; ///< The user's roles: fill from the identity store (Principal::roles if allowed).
};

/// Something a user may own and a department may handle, e.g. an application.
struct Resource
{
    std::string ownerSubject; ///< The user it belongs to.
    std::string departmentId; ///< The department that handles it; may be empty.
};

/// The outcome of Access::resolveActor(): an Actor, or why the call is forbidden (403).
struct ActorResult
{
    bool allowed = false;
    Actor actor;
    std::string reason; ///< Set when !allowed.
};

/// Authorisation rules for the portal API. All decisions are pure functions of
/// their arguments and the configured service accounts; the caller supplies
/// the user's roles from the identity store.
///
/// - A user sees and changes only their own resources.
/// - A department role `dept:<deptId>:clerk` sees and changes its department's resources.
/// - A service token may act for a user only if its subject is a configured
///   service account with mayActFor=true, and only for users of the audiences
///   it is configured for, with only the roles it is granted (limitActingFor).
class Access
{
public:
    Access() = default;
    explicit Access(std::vector<ServiceAccount> serviceAccounts);

    /// Reads `<prefix>.serviceAccounts.account[n].subject`, `.mayActFor`,
    /// `.actForAudiences` and `.actForRoles` (n = 0, 1, ...; lists separated by
    /// spaces or commas). Throws Poco::InvalidArgumentException naming the key for
    /// an empty subject, an unknown audience, or mayActFor without actForAudiences.
    static Access fromConfig(const Poco::Util::AbstractConfiguration& config, const std::string& prefix = "auth");

    /// Decides whose rights a verified token carries. A token with `actingFor`
    /// resolves to that user (viaService = the token's subject) if the subject
    /// is a service account allowed to act for users, and is refused otherwise.
    /// Roles are copied from the principal (empty unless token roles are allowed).
    ActorResult resolveActor(const Principal& principal) const;

    /// Limits what a call made by service account `service` for a user carries:
    /// keeps only the user's audiences and roles the account is configured for.
    /// Returns why the call is refused (the user holds none of the audiences the
    /// account may act for, an admin or a clerk who is not also a student, say),
    /// or an empty string when it may go on with what was kept.
    std::string limitActingFor(std::string_view service, std::vector<std::string>& audiences,
                               std::vector<std::string>& roles) const;

    /// True if `subject` is a configured service account.
    bool isServiceAccount(std::string_view subject) const;

    /// True if `actor` may see and change `resource`: it is theirs, or it belongs
    /// to a department they hold the clerk role for.
    static bool mayAccess(const Actor& actor, const Resource& resource);

    /// The departments whose resources `roles` grant access to (`dept:<deptId>:clerk`), for list queries.
    static std::vector<std::string> departmentsOf(const std::vector<std::string>& roles);

    /// "dept:<deptId>:clerk".
    static std::string clerkRole(std::string_view departmentId);

    const std::vector<ServiceAccount>& serviceAccounts() const { return _serviceAccounts; }

private:
    std::vector<ServiceAccount> _serviceAccounts;
};

} // namespace hub::auth
