#include "hub/identity/IdentityDirectory.h"
#include "hub/identity/Syncer.h"
#include "hub/ldap/Connection.h"
#include "hub/ldaptest/DirectoryGenerator.h"
#include "hub/ldaptest/SharedDirectory.h"
#include "hub/ldaptest/SlapdServer.h"
#include "hub/store/Database.h"
#include "hub/test/StoreOptions.h"

#include <Poco/Data/Session.h>
#include <Poco/File.h>
#include <Poco/JSON/Parser.h>
#include <Poco/TemporaryFile.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <tuple>

using namespace hub::identity;
using hub::ldaptest::DirectoryGenerator;
using hub::ldaptest::DirectoryShape;
using hub::ldaptest::SlapdServer;
using namespace Poco::Data::Keywords;

namespace {

constexpr std::size_t directorySize = 10000;

// One slapd per test executable, loaded once with a 10,000-person directory. Tests that
// change the directory work in their own subtree (ou=<test>) so they do not disturb
// each other.
using DirectoryServer = hub::ldaptest::SharedDirectory<directorySize>;
[[maybe_unused]] auto* const directoryServer = ::testing::AddGlobalTestEnvironment(new DirectoryServer);

// A fresh store per test (SQLite, or a new PostgreSQL database), plus a test
// "outbox" the sink writes into.
struct Fixture {
    Poco::TemporaryFile dir;
    std::unique_ptr<hub::store::Database> db;
    std::vector<IdentityChange> changes;
    Fixture() {
        Poco::File(dir.path()).createDirectories();
        db = std::make_unique<hub::store::Database>(hub::test::storeOptions(dir.path()));
        auto s = db->session();
        s << "CREATE TABLE test_outbox (kind TEXT, subject TEXT, id TEXT, data TEXT)", now;
    }
    ChangeSink sink() {
        return [this](Poco::Data::Session& s, const IdentityChange& c) {
            std::string kind = toString(c.kind), subject = c.subject, id = c.id, data = c.toJson();
            s << hub::store::sql(s, "INSERT INTO test_outbox VALUES(?,?,?,?)"), use(kind), use(subject), use(id),
                use(data), now;
            changes.push_back(c);
        };
    }
    std::size_t outboxCount() {
        auto s = db->session();
        Poco::Int64 n = 0;
        s << "SELECT COUNT(*) FROM test_outbox", into(n), now;
        return static_cast<std::size_t>(n);
    }
};

SyncOptions optionsFor(const std::string& base) {
    SyncOptions o;
    o.ldap = DirectoryServer::server().connectionOptions();
    o.base = base;
    return o;
}

// Adds a subtree ou=<name> with `count` persons (indexes from `first`), returns its DN.
std::string makeSubtree(const std::string& name, std::size_t first, std::size_t count) {
    auto& server = DirectoryServer::server();
    std::string base = "ou=" + name + "," + server.suffix();
    std::ostringstream ldif;
    ldif << "dn: " << base << "\nchangetype: add\nobjectClass: organizationalUnit\nou: " << name << "\n\n";
    const auto& gen = DirectoryServer::generator();
    for (std::size_t i = first; i < first + count; ++i) {
        std::string record = gen.personAddRecord(i);
        // Re-home the generated person under the subtree.
        auto p = gen.person(i);
        std::string oldDn = hub::ldaptest::ldifLine("dn", p.dn);
        record.replace(0, oldDn.size(), "dn: uid=" + p.uid + "," + base + "\n");
        ldif << record;
    }
    server.ldapModify(ldif.str());
    return base;
}

std::string uidOf(std::size_t i) { return DirectoryServer::generator().person(i).uid; }

}  // namespace

TEST(Syncer, FullSyncOfTenThousandPersons) {
    Fixture f;
    auto options = optionsFor(DirectoryServer::server().suffix());
    // The generated directory keeps its role groups under ou=groups.
    options.mapping.roleGroups.base = hub::identity::normalizeDn("ou=groups," + DirectoryServer::server().suffix());
    Syncer syncer(*f.db, options, f.sink());
    SyncReport r = syncer.runFull();
    ASSERT_TRUE(r.success) << r.error;
    IdentityDirectory dir(*f.db);
    EXPECT_GE(dir.activeCount(), directorySize);  // other tests' subtrees may add a few
    EXPECT_EQ(r.departed, 0u);
    EXPECT_EQ(f.outboxCount(), r.created) << "every change reported inside its transaction";

    const auto& gen = DirectoryServer::generator();
    for (std::size_t i : {0u, 1u, 97u, 4242u, 9999u}) {
        auto expected = gen.person(i);
        auto p = dir.findById(expected.uid);
        ASSERT_TRUE(p) << expected.uid;
        EXPECT_EQ(p->name, expected.displayName);
        EXPECT_EQ(p->dn, expected.dn);
        EXPECT_EQ(p->department, expected.department);
        EXPECT_EQ(p->emails, expected.mails);
        EXPECT_EQ(p->phones, expected.phones);
        EXPECT_EQ(p->entryUuid.size(), 36u);
        EXPECT_FALSE(p->audience.empty());
        bool admin = DirectoryGenerator::isHallAdmin(i), approver = DirectoryGenerator::isApprover(i);
        EXPECT_EQ(std::count(p->roles.begin(), p->roles.end(), "hall-admins"), admin ? 1 : 0) << i;
        EXPECT_EQ(std::count(p->roles.begin(), p->roles.end(), "approvers"), approver ? 1 : 0) << i;
    }
    // Audience mapping: faculty -> teacher, student -> student.
    for (std::size_t i = 0; i < 50; ++i) {
        auto expected = gen.person(i);
        auto audience = dir.audienceOf(expected.uid);
        bool student = expected.employeeType == "student";
        EXPECT_EQ(std::count(audience.begin(), audience.end(), "student"), student ? 1 : 0) << expected.uid;
    }
    auto st = syncer.status();
    EXPECT_EQ(st.lastStatus, "ok");
    EXPECT_TRUE(st.hasCookie);
    EXPECT_FALSE(st.highWater.empty());

    // A second full run finds nothing to change.
    f.changes.clear();
    SyncReport again = syncer.runFull();
    ASSERT_TRUE(again.success) << again.error;
    EXPECT_EQ(again.created + again.updated + again.departed, 0u);
    EXPECT_TRUE(f.changes.empty());
}

TEST(Syncer, SearchIsPagedAndLiteral) {
    Fixture f;
    std::string base = makeSubtree("search", 20000, 30);
    Syncer syncer(*f.db, optionsFor(base));
    ASSERT_TRUE(syncer.runFull().success);
    IdentityDirectory dir(*f.db);
    auto first = dir.search("u002", 10);
    EXPECT_EQ(first.persons.size(), 10u);
    ASSERT_FALSE(first.nextCursor.empty());
    auto second = dir.search("u002", 10, first.nextCursor);
    auto third = dir.search("u002", 10, second.nextCursor);
    EXPECT_EQ(second.persons.size() + third.persons.size(), 20u);
    EXPECT_TRUE(third.nextCursor.empty());
    EXPECT_LT(first.persons.back().id, second.persons.front().id);
    // Wildcards and filter syntax are literals, not patterns.
    for (const char* hostile : {"%", "_", "*)(uid=*", "admin)(|(uid=*", "' OR '1'='1", "\\"})
        EXPECT_TRUE(dir.search(hostile, 10).persons.empty()) << hostile;
    EXPECT_FALSE(dir.findById("*"));
    EXPECT_FALSE(dir.findById(""));
    EXPECT_TRUE(dir.rolesOf("nobody").empty());
}

class Incremental : public ::testing::TestWithParam<SyncOptions::Method> {};

TEST_P(Incremental, AddModifyRenameDeleteAndGroupChange) {
    auto method = GetParam();
    std::string name = method == SyncOptions::Method::SyncRepl ? "inc-syncrepl" : "inc-timestamp";
    std::size_t first = method == SyncOptions::Method::SyncRepl ? 30000 : 31000;
    std::string base = makeSubtree(name, first, 60);
    auto& server = DirectoryServer::server();
    server.ldapModify("dn: ou=moved," + base + "\nchangetype: add\nobjectClass: organizationalUnit\nou: moved\n\n"
                      "dn: cn=reviewers," + base + "\nchangetype: add\nobjectClass: groupOfNames\ncn: reviewers\n"
                      "member: uid=" + uidOf(first) + "," + base + "\n\n");
    Fixture f;
    auto options = optionsFor(base);
    options.method = method;
    options.mapping.roleGroups.byDn[normalizeDn("cn=reviewers," + base)] = "reviewers";
    Syncer syncer(*f.db, options, f.sink());
    ASSERT_TRUE(syncer.runFull().success);
    IdentityDirectory dir(*f.db);
    ASSERT_EQ(dir.activeCount(), 60u);
    EXPECT_EQ(dir.rolesOf(uidOf(first)), std::vector<std::string>{"reviewers"});
    auto renamedBefore = dir.findById(uidOf(first + 2));
    ASSERT_TRUE(renamedBefore);

    // add, modify, rename (to another unit), delete, and a group membership change
    std::string added = DirectoryServer::generator().personAddRecord(first + 100);
    auto p = DirectoryServer::generator().person(first + 100);
    added.replace(0, hub::ldaptest::ldifLine("dn", p.dn).size(), "dn: uid=" + p.uid + "," + base + "\n");
    server.ldapModify(added);
    server.ldapModify("dn: uid=" + uidOf(first + 1) + "," + base +
                      "\nchangetype: modify\nreplace: mail\nmail: new@campus.example\nmail: second@campus.example\n\n");
    server.ldapModify("dn: uid=" + uidOf(first + 2) + "," + base + "\nchangetype: modrdn\nnewrdn: uid=" +
                      uidOf(first + 2) + "\ndeleteoldrdn: 1\nnewsuperior: ou=moved," + base + "\n\n");
    server.ldapModify("dn: uid=" + uidOf(first + 3) + "," + base + "\nchangetype: delete\n\n");
    server.ldapModify("dn: cn=reviewers," + base + "\nchangetype: modify\nadd: member\nmember: uid=" +
                      uidOf(first + 4) + "," + base + "\n\n");

    f.changes.clear();
    SyncReport r = syncer.runIncremental();
    ASSERT_TRUE(r.success) << r.error;
    EXPECT_EQ(r.method, method == SyncOptions::Method::SyncRepl ? "syncrepl" : "timestamp");

    auto addedP = dir.findById(p.uid);
    ASSERT_TRUE(addedP);
    EXPECT_EQ(addedP->status, PersonStatus::Active);
    auto modified = dir.findById(uidOf(first + 1));
    ASSERT_TRUE(modified);
    EXPECT_EQ(modified->emails, (std::vector<std::string>{"new@campus.example", "second@campus.example"}));
    auto renamed = dir.findById(uidOf(first + 2));
    ASSERT_TRUE(renamed);
    EXPECT_EQ(renamed->entryUuid, renamedBefore->entryUuid);
    EXPECT_EQ(renamed->dn, "uid=" + uidOf(first + 2) + ",ou=moved," + base);
    auto deleted = dir.findById(uidOf(first + 3));
    ASSERT_TRUE(deleted);
    EXPECT_EQ(deleted->status, PersonStatus::Departed);
    EXPECT_TRUE(dir.rolesOf(uidOf(first + 3)).empty());
    EXPECT_EQ(dir.rolesOf(uidOf(first + 4)), std::vector<std::string>{"reviewers"});
    EXPECT_EQ(dir.activeCount(), 60u);  // +1 added, -1 departed

    std::set<std::string> created, updated, departed;
    for (const auto& c : f.changes) {
        if (c.subject != "person") continue;
        (c.kind == ChangeKind::Created ? created : c.kind == ChangeKind::Updated ? updated : departed).insert(c.id);
    }
    EXPECT_EQ(created, std::set<std::string>{p.uid});
    EXPECT_EQ(departed, std::set<std::string>{uidOf(first + 3)});
    EXPECT_TRUE(updated.count(uidOf(first + 1)));
    EXPECT_TRUE(updated.count(uidOf(first + 2)));
    EXPECT_TRUE(updated.count(uidOf(first + 4)));
    EXPECT_EQ(f.outboxCount(), f.changes.size() + 60 + 3);  // + the full sync's creations

    // Nothing changed since: an increment is quiet.
    f.changes.clear();
    SyncReport quiet = syncer.runIncremental();
    ASSERT_TRUE(quiet.success) << quiet.error;
    EXPECT_EQ(quiet.created + quiet.updated + quiet.departed, 0u);
}

INSTANTIATE_TEST_SUITE_P(BothMethods, Incremental,
                         ::testing::Values(SyncOptions::Method::SyncRepl, SyncOptions::Method::Timestamp),
                         [](const ::testing::TestParamInfo<SyncOptions::Method>& param) {
                             return param.param == SyncOptions::Method::SyncRepl ? std::string("SyncRepl")
                                                                                : std::string("Timestamp");
                         });

TEST(Syncer, SlapdStoppedMidwayDeletesNothingAndNextRunRecovers) {
    Fixture f;
    auto options = optionsFor(DirectoryServer::server().suffix());
    options.ldap.pageSize = 500;
    Syncer first(*f.db, options);
    ASSERT_TRUE(first.runFull().success);
    IdentityDirectory dir(*f.db);
    std::size_t active = dir.activeCount();
    ASSERT_GE(active, directorySize);

    auto& server = DirectoryServer::server();
    options.onProgress = [&](std::size_t read) {
        if (read >= 2000 && server.isRunning()) server.stop();
    };
    Syncer interrupted(*f.db, options);
    SyncReport r = interrupted.runFull();
    EXPECT_FALSE(r.success);
    EXPECT_FALSE(r.error.empty());
    EXPECT_EQ(r.departed, 0u);
    EXPECT_EQ(dir.activeCount(), active);
    EXPECT_EQ(interrupted.status().lastStatus, "failed");

    // The increment also fails cleanly while the server is down.
    SyncReport down = interrupted.runIncremental();
    EXPECT_FALSE(down.success);
    EXPECT_EQ(dir.activeCount(), active);

    server.start();
    options.onProgress = nullptr;
    Syncer recovered(*f.db, options);
    SyncReport ok = recovered.runFull();
    ASSERT_TRUE(ok.success) << ok.error;
    EXPECT_EQ(ok.departed, 0u);
    EXPECT_EQ(dir.activeCount(), active);
    EXPECT_EQ(recovered.status().lastStatus, "ok");
}

TEST(Syncer, DeleteGuardStopsMassDepartures) {
    for (auto method : {SyncOptions::Method::Timestamp, SyncOptions::Method::SyncRepl}) {
        bool repl = method == SyncOptions::Method::SyncRepl;
        std::size_t first = repl ? 40000 : 41000;
        std::string base = makeSubtree(repl ? "guard-repl" : "guard-ts", first, 40);
        Fixture f;
        auto options = optionsFor(base);
        options.method = method;
        Syncer syncer(*f.db, options, f.sink());
        ASSERT_TRUE(syncer.runFull().success);
        IdentityDirectory dir(*f.db);
        for (std::size_t i = 0; i < 3; ++i)  // 3 of 40 = 7.5% > 5%
            DirectoryServer::server().ldapModify("dn: uid=" + uidOf(first + i) + "," + base + "\nchangetype: delete\n\n");
        f.changes.clear();
        SyncReport r = syncer.runIncremental();
        EXPECT_TRUE(r.guarded) << (repl ? "syncrepl" : "timestamp");
        EXPECT_FALSE(r.success);
        EXPECT_EQ(r.departed, 0u);
        EXPECT_EQ(r.wouldDepart, 3u);
        EXPECT_EQ(dir.activeCount(), 40u);
        EXPECT_TRUE(f.changes.empty());
        auto st = syncer.status();
        EXPECT_EQ(st.lastStatus, "guarded");
        EXPECT_NE(st.alert.find("delete guard"), std::string::npos);
        // Still guarded next time: the departures are not forgotten.
        EXPECT_TRUE(syncer.runIncremental().guarded);
        // An explicit decision applies them.
        SyncReport forced = syncer.runFull(true);
        ASSERT_TRUE(forced.success) << forced.error;
        EXPECT_EQ(forced.departed, 3u);
        EXPECT_EQ(dir.activeCount(), 37u);
        EXPECT_TRUE(syncer.status().alert.empty());
    }
}

// Issue 13: every group's cn used to be a role wherever the group sat, so a group
// named "hub:admin" made deep in a department's subtree made its members admins.
// Only explicitly mapped groups give roles: by DN, or directly below a roles base.
class RoleGroups : public ::testing::TestWithParam<SyncOptions::Method> {
protected:
    // A subtree of 40 persons with legit role groups under ou=roles and rogue ones
    // deeper down; returns its DN.
    std::string makeDirectory(const std::string& name, std::size_t first) {
        std::string base = makeSubtree(name, first, 40);
        auto member = [&](std::size_t i) { return "member: uid=" + uidOf(first + i) + "," + base + "\n"; };
        DirectoryServer::server().ldapModify(
            "dn: ou=roles," + base + "\nchangetype: add\nobjectClass: organizationalUnit\nou: roles\n\n"
            "dn: cn=hub-admins,ou=roles," + base + "\nchangetype: add\nobjectClass: groupOfNames\ncn: hub-admins\n" +
            member(0) + member(1) + "\n"
            "dn: cn=approvers,ou=roles," + base + "\nchangetype: add\nobjectClass: groupOfNames\ncn: approvers\n" +
            member(2) + "\n"
            // The rogue ones: deep in a subtree anyone in the department may write to.
            "dn: ou=deeper,ou=roles," + base + "\nchangetype: add\nobjectClass: organizationalUnit\nou: deeper\n\n"
            "dn: ou=deep,ou=deeper,ou=roles," + base + "\nchangetype: add\nobjectClass: organizationalUnit\nou: deep\n\n"
            "dn: cn=hub:admin,ou=deep,ou=deeper,ou=roles," + base +
            "\nchangetype: add\nobjectClass: groupOfNames\ncn: hub:admin\n" + member(3) + "\n"
            "dn: cn=hub-admins,ou=deep,ou=deeper,ou=roles," + base +
            "\nchangetype: add\nobjectClass: groupOfNames\ncn: hub-admins\n" + member(4) + "\n"
            "dn: cn=approvers,ou=deeper,ou=roles," + base +
            "\nchangetype: add\nobjectClass: groupOfNames\ncn: approvers\n" + member(5) + "\n");
        return base;
    }
    SyncOptions optionsWithRoles(const std::string& base) {
        auto options = optionsFor(base);
        options.method = GetParam();
        options.mapping.roleGroups.byDn[normalizeDn("cn=hub-admins,ou=roles," + base)] = "hub:admin";
        options.mapping.roleGroups.base = normalizeDn("ou=roles," + base);  // approvers, one level only
        return options;
    }
};

TEST_P(RoleGroups, RogueGroupsDeepInASubtreeGiveNoRole) {
    bool repl = GetParam() == SyncOptions::Method::SyncRepl;
    std::size_t first = repl ? 50000 : 51000;
    std::string base = makeDirectory(repl ? "rogue-repl" : "rogue-ts", first);
    Fixture f;
    Syncer syncer(*f.db, optionsWithRoles(base), f.sink());
    ASSERT_TRUE(syncer.runFull().success);
    IdentityDirectory dir(*f.db);
    using Roles = std::vector<std::string>;
    EXPECT_EQ(dir.rolesOf(uidOf(first + 0)), Roles{"hub:admin"});
    EXPECT_EQ(dir.rolesOf(uidOf(first + 1)), Roles{"hub:admin"});
    EXPECT_EQ(dir.rolesOf(uidOf(first + 2)), Roles{"approvers"});
    EXPECT_EQ(dir.rolesOf(uidOf(first + 3)), Roles{}) << "a group named hub:admin deep in the tree made an admin";
    EXPECT_EQ(dir.rolesOf(uidOf(first + 4)), Roles{}) << "a second group with the mapped cn gave its role";
    EXPECT_EQ(dir.rolesOf(uidOf(first + 5)), Roles{}) << "a group below the roles base gave a role";
    // Membership is still recorded, it just confers nothing.
    EXPECT_EQ(dir.findById(uidOf(first + 3))->groups, std::vector<std::string>{"hub:admin"});

    // A rogue group made after the full sync: the increment gives no role either.
    auto& server = DirectoryServer::server();
    server.ldapModify("dn: cn=hub:admin,ou=" + std::string(repl ? "rogue-repl" : "rogue-ts") + "," + server.suffix() +
                      "\nchangetype: add\nobjectClass: groupOfNames\ncn: hub:admin\nmember: uid=" +
                      uidOf(first + 6) + "," + base + "\n\n");
    ASSERT_TRUE(syncer.runIncremental().success);
    EXPECT_EQ(dir.rolesOf(uidOf(first + 6)), Roles{});
    EXPECT_EQ(dir.findById(uidOf(first + 6))->groups, std::vector<std::string>{"hub:admin"});
}

TEST_P(RoleGroups, RemovedPrivilegesAreAppliedEvenWhenTheDeleteGuardHoldsDepartures) {
    bool repl = GetParam() == SyncOptions::Method::SyncRepl;
    std::size_t first = repl ? 52000 : 53000;
    std::string base = makeDirectory(repl ? "revoke-repl" : "revoke-ts", first);
    Fixture f;
    Syncer syncer(*f.db, optionsWithRoles(base), f.sink());
    ASSERT_TRUE(syncer.runFull().success);
    IdentityDirectory dir(*f.db);
    using Roles = std::vector<std::string>;
    ASSERT_EQ(dir.rolesOf(uidOf(first + 1)), Roles{"hub:admin"});
    ASSERT_EQ(dir.rolesOf(uidOf(first + 2)), Roles{"approvers"});

    // Three persons leave (7.5% > 5%: the guard holds them back), one admin loses
    // the membership, and the approvers group is deleted.
    auto& server = DirectoryServer::server();
    for (std::size_t i = 30; i < 33; ++i)
        server.ldapModify("dn: uid=" + uidOf(first + i) + "," + base + "\nchangetype: delete\n\n");
    server.ldapModify("dn: cn=hub-admins,ou=roles," + base + "\nchangetype: modify\ndelete: member\nmember: uid=" +
                      uidOf(first + 1) + "," + base + "\n\n");
    server.ldapModify("dn: cn=approvers,ou=roles," + base + "\nchangetype: delete\n\n");

    SyncReport r = syncer.runIncremental();
    EXPECT_TRUE(r.guarded) << "the guard should hold back the three departures";
    EXPECT_EQ(dir.activeCount(), 40u) << "persons departed despite the guard";
    EXPECT_EQ(dir.rolesOf(uidOf(first + 1)), Roles{}) << "a removed admin kept the role";
    EXPECT_EQ(dir.rolesOf(uidOf(first + 2)), Roles{}) << "a deleted group's role was kept";
    EXPECT_EQ(dir.rolesOf(uidOf(first + 0)), Roles{"hub:admin"});
    EXPECT_NE(syncer.status().alert.find("delete guard"), std::string::npos);

    // Still guarded next time, and the privileges stay removed; a full run too.
    EXPECT_TRUE(syncer.runIncremental().guarded);
    EXPECT_EQ(dir.rolesOf(uidOf(first + 1)), Roles{});
    EXPECT_TRUE(syncer.runFull().guarded);
    EXPECT_EQ(dir.rolesOf(uidOf(first + 1)), Roles{});
    EXPECT_EQ(dir.rolesOf(uidOf(first + 2)), Roles{});
    EXPECT_EQ(dir.activeCount(), 40u);
}

INSTANTIATE_TEST_SUITE_P(BothMethods, RoleGroups,
                         ::testing::Values(SyncOptions::Method::SyncRepl, SyncOptions::Method::Timestamp),
                         [](const ::testing::TestParamInfo<SyncOptions::Method>& param) {
                             return param.param == SyncOptions::Method::SyncRepl ? std::string("SyncRepl")
                                                                                : std::string("Timestamp");
                         });

TEST(Syncer, BadHugeAndOddValuesDoNotBreakTheStore) {
    auto& server = DirectoryServer::server();
    std::string base = "ou=odd," + server.suffix();
    std::string huge(200000, 'x');
    std::string quotes = "Robert\"); DROP TABLE identity_persons;-- \\ \"O'Neil\"\n\t{}[]";
    std::string emoji = "李 😀 \xe2\x80\x8b zero-width";
    std::string binary("\xff\xfe\x00\x01 not utf-8 \xc3", 16);
    std::ostringstream ldif;
    ldif << "dn: " << base << "\nchangetype: add\nobjectClass: organizationalUnit\nou: odd\n\n";
    ldif << "dn: uid=odd1," << base << "\nchangetype: add\nobjectClass: inetOrgPerson\nuid: odd1\nsn: x\n"
         << hub::ldaptest::ldifLine("cn", quotes) << hub::ldaptest::ldifLine("displayName", huge)
         << hub::ldaptest::ldifLine("description", emoji) << hub::ldaptest::ldifLine("audio", binary) << "\n";
    ldif << "dn: uid=odd2," << base << "\nchangetype: add\nobjectClass: inetOrgPerson\nuid: odd2\nsn: y\n"
         << hub::ldaptest::ldifLine("cn", emoji) << "\n";
    // No uid at all: skipped, not stored under an empty id.
    ldif << "dn: cn=nouid," << base << "\nchangetype: add\nobjectClass: inetOrgPerson\ncn: nouid\nsn: z\n\n";
    server.ldapModify(ldif.str());

    Fixture f;
    auto options = optionsFor(base);
    options.mapping.keepAttributes.push_back("audio");
    options.mapping.keepAttributes.push_back("description");
    options.mapping.nameAttributes = {"displayName", "cn"};
    Syncer syncer(*f.db, options, f.sink());
    SyncReport r = syncer.runFull();
    ASSERT_TRUE(r.success) << r.error;
    EXPECT_EQ(r.skipped, 1u);
    IdentityDirectory dir(*f.db);
    auto odd1 = dir.findById("odd1");
    ASSERT_TRUE(odd1);
    EXPECT_EQ(odd1->name.size(), options.mapping.maxValueBytes);
    auto odd2 = dir.findById("odd2");
    ASSERT_TRUE(odd2);
    EXPECT_EQ(odd2->name, emoji);
    // Every stored JSON document parses, and every change event too.
    Poco::JSON::Parser parser;
    EXPECT_NO_THROW(parser.parse(odd1->attributesJson));
    for (const auto& c : f.changes) {
        Poco::JSON::Parser p;
        EXPECT_NO_THROW(p.parse(c.toJson())) << c.id;
    }
    EXPECT_NE(odd1->attributesJson.find("DROP TABLE"), std::string::npos);  // stored as data
    EXPECT_EQ(dir.activeCount(), 2u);
}

class TlsSync : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        hub::ldaptest::SlapdOptions o;
        o.tls = true;
        server_ = std::make_unique<SlapdServer>(o);
        DirectoryShape shape;
        shape.persons = 50;
        DirectoryGenerator gen(shape);
        std::string ldif = server_->directory() + "/small.ldif";
        gen.writeLdifFile(ldif);
        server_->slapadd(ldif);
        server_->start();
    }
    static void TearDownTestSuite() { server_.reset(); }
    static SyncOptions tlsOptions() {
        SyncOptions o;
        o.ldap = server_->connectionOptions();
        o.ldap.startTls = true;
        o.ldap.caFile = server_->caFile();
        o.ldap.connectAttempts = 1;
        o.base = server_->suffix();
        return o;
    }
    static inline std::unique_ptr<SlapdServer> server_;
};

TEST_F(TlsSync, StartTlsWithTheTestCaSyncs) {
    Fixture f;
    Syncer syncer(*f.db, tlsOptions());
    SyncReport r = syncer.runFull();
    ASSERT_TRUE(r.success) << r.error;
    EXPECT_EQ(IdentityDirectory(*f.db).activeCount(), 50u);
}

TEST_F(TlsSync, UnverifiableCertificateStoresNothing) {
    Fixture f;
    auto o = tlsOptions();
    o.ldap.caFile = server_->otherCaFile();
    Syncer syncer(*f.db, o);
    SyncReport r = syncer.runFull();
    EXPECT_FALSE(r.success);
    EXPECT_NE(r.error.find("StartTLS"), std::string::npos) << r.error;
    EXPECT_EQ(IdentityDirectory(*f.db).activeCount(), 0u);
    EXPECT_EQ(syncer.status().lastStatus, "failed");
}

// Issue 16: the preview tells, per department, what a full sync would add,
// change and depart, and writes nothing; the run after it does just that.
TEST(Syncer, PreviewCountsPerDepartmentAndWritesNothing) {
    const std::size_t first = 43000;
    std::string base = makeSubtree("preview", first, 30);
    Fixture f;
    Syncer syncer(*f.db, optionsFor(base), f.sink());
    ASSERT_TRUE(syncer.runFull().success);
    IdentityDirectory dir(*f.db);
    const auto before = syncer.status();
    const std::size_t outboxBefore = f.outboxCount();

    auto& server = DirectoryServer::server();
    server.ldapModify("dn: uid=" + uidOf(first) + "," + base + "\nchangetype: modify\nreplace: mail\nmail: moved@campus.example\n\n");
    for (std::size_t i = 1; i <= 2; ++i)
        server.ldapModify("dn: uid=" + uidOf(first + i) + "," + base + "\nchangetype: delete\n\n");
    const auto& gen = DirectoryServer::generator();
    std::string record = gen.personAddRecord(first + 30);
    record.replace(0, hub::ldaptest::ldifLine("dn", gen.person(first + 30).dn).size(),
                   "dn: uid=" + uidOf(first + 30) + "," + base + "\n");
    server.ldapModify(record);

    SyncPreview preview = syncer.preview();
    EXPECT_EQ(preview.read, 29u);
    EXPECT_EQ(preview.add, 1u);
    EXPECT_EQ(preview.change, 1u);
    EXPECT_EQ(preview.depart, 2u);
    EXPECT_EQ(preview.unchanged, 27u);
    EXPECT_EQ(preview.activePersons, 30u);
    EXPECT_TRUE(preview.guarded) << "2 of 30 is more than 5%";
    std::size_t add = 0, change = 0, depart = 0;
    std::vector<std::string> departed;
    for (const auto& [name, d] : preview.departments) {
        add += d.add;
        change += d.change;
        depart += d.depart;
        departed.insert(departed.end(), d.departed.begin(), d.departed.end());
    }
    EXPECT_EQ(std::tie(add, change, depart), std::make_tuple(1u, 1u, 2u));
    std::sort(departed.begin(), departed.end());
    EXPECT_EQ(departed, (std::vector<std::string>{uidOf(first + 1), uidOf(first + 2)}));
    auto json = Poco::JSON::Parser().parse(preview.toJson()).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(json->getValue<int>("depart"), 2);
    EXPECT_EQ(json->getArray("departments")->size(), preview.departments.size());

    // Nothing written: not the persons, not the outbox, not the sync state.
    EXPECT_EQ(dir.activeCount(), 30u);
    EXPECT_EQ(f.outboxCount(), outboxBefore);
    EXPECT_EQ(syncer.status().lastRunAt, before.lastRunAt);

    SyncReport run = syncer.runFull(true);
    ASSERT_TRUE(run.success) << run.error;
    EXPECT_EQ(run.created, preview.add);
    EXPECT_EQ(run.updated, preview.change);
    EXPECT_EQ(run.departed, preview.depart);
}
