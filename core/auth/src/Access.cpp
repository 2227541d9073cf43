#include "hub/auth/Access.h"

#include <Poco/Exception.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <algorithm>

namespace hub::auth {

namespace {

constexpr std::string_view kDeptPrefix = "dept:";
constexpr std::string_view kClerkSuffix = ":clerk";

// The department id in "dept:<id>:clerk", or empty if `role` is not such a role.
std::string_view clerkDepartment(std::string_view role)
{
    if (role.size() <= kDeptPrefix.size() + kClerkSuffix.size() || role.substr(0, kDeptPrefix.size()) != kDeptPrefix
        || role.substr(role.size() - kClerkSuffix.size()) != kClerkSuffix)
        return {};
    const std::string_view id = role.substr(kDeptPrefix.size(), role.size() - kDeptPrefix.size() - kClerkSuffix.size());
    // "dept:a:b:clerk" is not a clerk role of department "a:b": ids have no colons.
    return id.find(':') == std::string_view::npos ? id : std::string_view{};
}

} // namespace

Access::Access(std::vector<ServiceAccount> serviceAccounts) : _serviceAccounts(std::move(serviceAccounts)) {}

Access Access::fromConfig(const Poco::Util::AbstractConfiguration& config, const std::string& prefix)
{
    std::vector<ServiceAccount> accounts;
    for (int n = 0;; ++n)
    {
        const std::string base = prefix + ".serviceAccounts.account[" + std::to_string(n) + "]";
        if (!config.has(base) && !config.has(base + ".subject"))
            break;
        ServiceAccount account;
        account.subject = config.getString(base + ".subject", "");
        if (account.subject.empty())
            throw Poco::InvalidArgumentException(base + ".subject: must not be empty");
        account.mayActFor = config.getBool(base + ".mayActFor", false);
        accounts.push_back(std::move(account));
    }
    return Access(std::move(accounts));
}

bool Access::isServiceAccount(std::string_view subject) const
{
    return std::any_of(_serviceAccounts.begin(), _serviceAccounts.end(),
                       [&](const ServiceAccount& a) { return a.subject == subject; });
}

ActorResult Access::resolveActor(const Principal& principal) const
{
    ActorResult result;
    if (principal.subject.empty())
    {
        result.reason = "no subject";
        return result;
    }
    if (principal.actingFor.empty() || principal.actingFor == principal.subject)
    {
        result.allowed = true;
        result.actor.subject = principal.subject;
        result.actor.roles = principal.roles;
        return result;
    }
    const auto account = std::find_if(_serviceAccounts.begin(), _serviceAccounts.end(),
                                      [&](const ServiceAccount& a) { return a.subject == principal.subject; });
    if (account == _serviceAccounts.end())
    {
        result.reason = "the token acts for another user but its subject is not a service account";
        return result;
    }
    if (!account->mayActFor)
    {
        result.reason = "service account is not allowed to act for users";
        return result;
    }
    result.allowed = true;
    result.actor.subject = principal.actingFor;
    result.actor.viaService = principal.subject;
    // The service's own token roles never pass to the user: the caller loads the user's.
    return result;
}

bool Access::mayAccess(const Actor& actor, const Resource& resource)
{
    if (actor.subject.empty())
        return false;
    if (!resource.ownerSubject.empty() && resource.ownerSubject == actor.subject)
        return true;
    if (resource.departmentId.empty())
        return false;
    return std::any_of(actor.roles.begin(), actor.roles.end(),
                       [&](const std::string& role) { return clerkDepartment(role) == resource.departmentId; });
}

std::vector<std::string> Access::departmentsOf(const std::vector<std::string>& roles)
{
    std::vector<std::string> departments;
    for (const std::string& role : roles)
    {
        const std::string_view id = clerkDepartment(role);
        if (!id.empty() && std::find(departments.begin(), departments.end(), id) == departments.end())
            departments.emplace_back(id);
    }
    return departments;
}

std::string Access::clerkRole(std::string_view departmentId)
{
    return std::string(kDeptPrefix) + std::string(departmentId) + std::string(kClerkSuffix);
}

} // namespace hub::auth
