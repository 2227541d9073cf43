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

std::vector<std::string> splitList(const std::string& text)
{
    std::vector<std::string> out;
    std::size_t at = 0;
    while ((at = text.find_first_not_of(" ,\t\r\n", at)) != std::string::npos)
    {
        const std::size_t end = text.find_first_of(" ,\t\r\n", at);
        out.push_back(text.substr(at, end - at));
        at = end;
    }
    return out;
}

bool contains(const std::vector<std::string>& list, std::string_view value)
{
    return std::find(list.begin(), list.end(), value) != list.end();
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
        account.actForAudiences = splitList(config.getString(base + ".actForAudiences", ""));
        account.actForRoles = splitList(config.getString(base + ".actForRoles", ""));
        for (const std::string& a : account.actForAudiences)
            if (a != "student" && a != "teacher" && a != "staff" && a != "visitor")
                throw Poco::InvalidArgumentException(base + ".actForAudiences: '" + a
                                                     + "' is not student, teacher, staff or visitor");
        // Acting for anyone at all is what let a portal token act for an admin:
        // the audiences it serves are named, or it acts for nobody.
        if (account.mayActFor && account.actForAudiences.empty())
            throw Poco::InvalidArgumentException(
                base + ".actForAudiences: required when mayActFor is true (the audiences of the users it acts for, "
                       "e.g. \"student teacher\")");
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

std::string Access::limitActingFor(std::string_view service, std::vector<std::string>& audiences,
                                   std::vector<std::string>& roles) const
{
    const auto account = std::find_if(_serviceAccounts.begin(), _serviceAccounts.end(),
                                      [&](const ServiceAccount& a) { return a.subject == service; });
    if (account == _serviceAccounts.end() || !account->mayActFor)
        return "service account is not allowed to act for users";
    std::erase_if(audiences, [&](const std::string& a) { return !contains(account->actForAudiences, a); });
    std::erase_if(roles, [&](const std::string& r) { return !contains(account->actForRoles, r); });
    if (audiences.empty())
    {
        std::string allowed;
        for (const std::string& a : account->actForAudiences)
            allowed += (allowed.empty() ? "" : ", ") + a;
        return "service account " + account->subject + " acts only for users of the audiences " + allowed
               + "; this user is none of them";
    }
    return {};
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
