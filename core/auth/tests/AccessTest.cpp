#include "hub/auth/Access.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <sstream>

using namespace hub::auth;

namespace {

Principal principal(const std::string& subject, const std::string& actingFor = "", std::vector<std::string> roles = {})
{
    Principal p;
    p.subject = subject;
    p.actingFor = actingFor;
    p.roles = std::move(roles);
    return p;
}

Actor actor(const std::string& subject, std::vector<std::string> roles = {})
{
    Actor a;
    a.subject = subject;
    a.roles = std::move(roles);
    return a;
}

Access portalAccess()
{
    return Access({{"portal-backend", true}, {"kiosk", false}});
}

} // namespace

TEST(Access, UserSeesOnlyOwnResources)
{
    const Resource mine{"2023010001", "cs"};
    EXPECT_TRUE(Access::mayAccess(actor("2023010001"), mine));
    EXPECT_FALSE(Access::mayAccess(actor("2023010002"), mine));
    EXPECT_FALSE(Access::mayAccess(actor(""), Resource{"", "cs"})) << "an empty subject owns nothing";
    EXPECT_FALSE(Access::mayAccess(actor("2023010002"), Resource{"", ""}));
}

TEST(Access, DepartmentClerkSeesDepartmentResources)
{
    const Resource application{"2023010001", "cs"};
    EXPECT_TRUE(Access::mayAccess(actor("clerk-1", {"dept:cs:clerk"}), application));
    EXPECT_FALSE(Access::mayAccess(actor("clerk-2", {"dept:math:clerk"}), application));
    EXPECT_TRUE(Access::mayAccess(actor("clerk-3", {"staff", "dept:math:clerk", "dept:cs:clerk"}), application));
    EXPECT_TRUE(Access::mayAccess(actor("教务员", {"dept:计算机学院:clerk"}), Resource{"2023010001", "计算机学院"}));
    // Look-alikes grant nothing.
    for (const std::string& role : std::vector<std::string>{"dept:cs:head", "dept:cs", "dept::clerk", "dept:cs:clerk:x", "dept:c:s:clerk",
                                   "DEPT:cs:clerk", "dept:cs:Clerk", "xdept:cs:clerk", "dept:cs:clerkx", "cs"})
        EXPECT_FALSE(Access::mayAccess(actor("x", {role}), application)) << role;
    EXPECT_FALSE(Access::mayAccess(actor("x", {"dept::clerk"}), Resource{"2023010001", ""}))
        << "a resource without a department is reachable only by its owner";
}

TEST(Access, ListsDepartmentsOfRoles)
{
    EXPECT_EQ(Access::departmentsOf({"staff", "dept:cs:clerk", "dept:math:clerk", "dept:cs:clerk", "dept:x:head"}),
              (std::vector<std::string>{"cs", "math"}));
    EXPECT_TRUE(Access::departmentsOf({}).empty());
    EXPECT_EQ(Access::clerkRole("cs"), "dept:cs:clerk");
    EXPECT_EQ(Access::departmentsOf({Access::clerkRole("计算机学院")}), (std::vector<std::string>{"计算机学院"}));
}

TEST(Access, ResolvesOrdinaryUser)
{
    const ActorResult r = portalAccess().resolveActor(principal("2023010001", "", {"student"}));
    ASSERT_TRUE(r.allowed);
    EXPECT_EQ(r.actor.subject, "2023010001");
    EXPECT_TRUE(r.actor.viaService.empty());
    EXPECT_EQ(r.actor.roles, (std::vector<std::string>{"student"}));
    EXPECT_FALSE(portalAccess().resolveActor(principal("")).allowed);
}

TEST(Access, ServiceAccountActsForUserOnlyWhenAllowed)
{
    const Access access = portalAccess();
    const ActorResult acting = access.resolveActor(principal("portal-backend", "张三", {"dept:cs:clerk"}));
    ASSERT_TRUE(acting.allowed) << acting.reason;
    EXPECT_EQ(acting.actor.subject, "张三");
    EXPECT_EQ(acting.actor.viaService, "portal-backend");
    EXPECT_TRUE(acting.actor.roles.empty()) << "the service's own roles never pass to the user";

    const ActorResult kiosk = access.resolveActor(principal("kiosk", "张三"));
    EXPECT_FALSE(kiosk.allowed);
    EXPECT_FALSE(kiosk.reason.empty());

    const ActorResult user = access.resolveActor(principal("2023010001", "2023010002"));
    EXPECT_FALSE(user.allowed) << "an ordinary user cannot act for another";

    const ActorResult self = access.resolveActor(principal("2023010001", "2023010001"));
    EXPECT_TRUE(self.allowed);
    EXPECT_EQ(self.actor.subject, "2023010001");

    // A service account without acting-for is just itself.
    const ActorResult service = access.resolveActor(principal("kiosk"));
    ASSERT_TRUE(service.allowed);
    EXPECT_EQ(service.actor.subject, "kiosk");

    EXPECT_TRUE(access.isServiceAccount("kiosk"));
    EXPECT_FALSE(access.isServiceAccount("2023010001"));
    EXPECT_FALSE(Access().resolveActor(principal("portal-backend", "张三")).allowed) << "none configured, none allowed";
}

TEST(Access, ReadsServiceAccountsFromConfig)
{
    std::istringstream xml("<hub><auth><serviceAccounts>"
                           "<account><subject>portal-backend</subject><mayActFor>true</mayActFor>"
                           "<actForAudiences>student teacher</actForAudiences>"
                           "<actForRoles>dept:library:clerk</actForRoles></account>"
                           "<account><subject>kiosk</subject></account>"
                           "</serviceAccounts></auth></hub>");
    Poco::AutoPtr<Poco::Util::XMLConfiguration> config(new Poco::Util::XMLConfiguration(xml));
    const Access access = Access::fromConfig(*config);
    ASSERT_EQ(access.serviceAccounts().size(), 2u);
    EXPECT_EQ(access.serviceAccounts()[0].subject, "portal-backend");
    EXPECT_TRUE(access.serviceAccounts()[0].mayActFor);
    EXPECT_FALSE(access.serviceAccounts()[1].mayActFor);
    EXPECT_EQ(access.serviceAccounts()[0].actForAudiences, (std::vector<std::string>{"student", "teacher"}));
    EXPECT_EQ(access.serviceAccounts()[0].actForRoles, (std::vector<std::string>{"dept:library:clerk"}));
    EXPECT_TRUE(access.resolveActor(principal("portal-backend", "u1")).allowed);
    EXPECT_FALSE(access.resolveActor(principal("kiosk", "u1")).allowed);

    Poco::AutoPtr<Poco::Util::MapConfiguration> map(new Poco::Util::MapConfiguration);
    map->setString("auth.serviceAccounts.account[0].subject", "portal");
    map->setString("auth.serviceAccounts.account[0].mayActFor", "yes");
    map->setString("auth.serviceAccounts.account[0].actForAudiences", "student,teacher");
    const Access fromMap = Access::fromConfig(*map);
    ASSERT_EQ(fromMap.serviceAccounts().size(), 1u);
    EXPECT_TRUE(fromMap.serviceAccounts()[0].mayActFor);

    Poco::AutoPtr<Poco::Util::MapConfiguration> empty(new Poco::Util::MapConfiguration);
    EXPECT_TRUE(Access::fromConfig(*empty).serviceAccounts().empty());

    std::istringstream bad("<hub><auth><serviceAccounts><account><mayActFor>true</mayActFor></account>"
                           "</serviceAccounts></auth></hub>");
    Poco::AutoPtr<Poco::Util::XMLConfiguration> badConfig(new Poco::Util::XMLConfiguration(bad));
    EXPECT_THROW(Access::fromConfig(*badConfig), Poco::InvalidArgumentException);
}

TEST(Access, ActingForNeedsTheAudiencesNamedInConfig)
{
    auto error = [](const std::string& account) {
        std::istringstream xml("<hub><auth><serviceAccounts>" + account + "</serviceAccounts></auth></hub>");
        Poco::AutoPtr<Poco::Util::XMLConfiguration> config(new Poco::Util::XMLConfiguration(xml));
        try
        {
            Access::fromConfig(*config);
            return std::string("(accepted)");
        }
        catch (const Poco::InvalidArgumentException& e)
        {
            return e.message();
        }
    };
    // An account that may act for anyone at all is what let a portal token act for an admin.
    EXPECT_EQ(error("<account><subject>portal</subject><mayActFor>true</mayActFor></account>"),
              "auth.serviceAccounts.account[0].actForAudiences: required when mayActFor is true (the audiences of the "
              "users it acts for, e.g. \"student teacher\")");
    EXPECT_EQ(error("<account><subject>k</subject></account><account><subject>portal</subject><mayActFor>true"
                    "</mayActFor><actForAudiences>students</actForAudiences></account>"),
              "auth.serviceAccounts.account[1].actForAudiences: 'students' is not student, teacher, staff or visitor");
    EXPECT_EQ(error("<account><subject>kiosk</subject></account>"), "(accepted)") << "acting for nobody needs none";
}

TEST(Access, ActingForCarriesOnlyTheConfiguredAudiencesAndRoles)
{
    ServiceAccount portal{"portal-backend", true, {"student", "teacher"}, {}};
    ServiceAccount desk{"it-helpdesk", true, {"staff"}, {"dept:it:clerk"}};
    const Access access({portal, desk, {"kiosk", false, {}, {}}});
    struct Row
    {
        std::string service;
        std::vector<std::string> audiences, roles;
        bool allowed;
        std::vector<std::string> keptAudiences, keptRoles;
    };
    const std::vector<Row> rows = {
        // A student: as they are.
        {"portal-backend", {"student"}, {}, true, {"student"}, {}},
        // An admin who is staff only: the portal does not act for them at all.
        {"portal-backend", {"staff"}, {"hub:admin"}, false, {}, {}},
        // A teacher who is also a clerk and an admin: a teacher through the portal, nothing more.
        {"portal-backend", {"teacher", "staff"}, {"dept:academic-affairs:clerk", "hub:admin"}, true, {"teacher"}, {}},
        // Someone the directory does not know (no audiences): refused.
        {"portal-backend", {}, {}, false, {}, {}},
        // The help desk acts for staff, and passes on the one role it was granted by name.
        {"it-helpdesk", {"staff"}, {"dept:it:clerk", "hub:admin"}, true, {"staff"}, {"dept:it:clerk"}},
        {"it-helpdesk", {"student"}, {"dept:it:clerk"}, false, {}, {}},
        // Not allowed to act for anyone, or not a service account.
        {"kiosk", {"student"}, {}, false, {}, {}},
        {"2023010001", {"student"}, {}, false, {}, {}},
    };
    for (const Row& row : rows)
    {
        std::vector<std::string> audiences = row.audiences, roles = row.roles;
        const std::string why = access.limitActingFor(row.service, audiences, roles);
        EXPECT_EQ(why.empty(), row.allowed) << row.service << ": " << why;
        if (!row.allowed)
            continue;
        EXPECT_EQ(audiences, row.keptAudiences) << row.service;
        EXPECT_EQ(roles, row.keptRoles) << row.service;
    }
    std::vector<std::string> audiences = {"staff"}, roles = {"hub:admin"};
    EXPECT_EQ(access.limitActingFor("portal-backend", audiences, roles),
              "service account portal-backend acts only for users of the audiences student, teacher; this user is "
              "none of them");
}
