#include "hub/ldap/Connection.h"
#include "hub/ldap/Filter.h"
#include "hub/ldap/LdapException.h"
#include "hub/ldaptest/DirectoryGenerator.h"
#include "hub/ldaptest/SharedDirectory.h"
#include "hub/ldaptest/SlapdServer.h"

#include <Poco/Exception.h>

#include <gtest/gtest.h>
#include <ldap.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>

using namespace hub::ldap;
using hub::ldaptest::DirectoryGenerator;
using hub::ldaptest::DirectoryShape;
using hub::ldaptest::SlapdOptions;
using hub::ldaptest::SlapdServer;

namespace {

constexpr std::size_t personCount = 300;

// One plain slapd for the whole executable (a graceful stop costs 1.5 s).
using PlainServer = hub::ldaptest::SharedDirectory<personCount>;
[[maybe_unused]] auto* const plainServer = ::testing::AddGlobalTestEnvironment(new PlainServer);

SearchRequest persons(const std::string& filter = "(objectClass=inetOrgPerson)") {
    SearchRequest r;
    r.base = PlainServer::server().suffix();
    r.filter = filter;
    r.attributes = {"uid", "cn", "mail", "telephoneNumber", "entryUUID"};
    return r;
}

}  // namespace

TEST(Connection, PagedSearchReturnsEveryEntryAcrossPages) {
    auto options = PlainServer::server().connectionOptions();
    options.pageSize = 37;
    Connection c(options);
    std::size_t pages = 0;
    std::set<std::string> uids;
    c.searchPaged(persons(), [&](std::vector<Entry>&& page) {
        ++pages;
        EXPECT_LE(page.size(), 37u);
        for (auto& e : page) uids.insert(e.first("uid"));
    });
    EXPECT_EQ(uids.size(), personCount);
    EXPECT_EQ(pages, (personCount + 36) / 37);
}

TEST(Connection, ThrowingPageHandlerAbandonsTheSearchAndTheConnectionStaysUsable) {
    auto options = PlainServer::server().connectionOptions();
    options.pageSize = 37;
    Connection c(options);
    std::size_t pages = 0;
    // The next page is already requested when the handler throws.
    EXPECT_THROW(c.searchPaged(persons(),
                               [&](std::vector<Entry>&&) {
                                   ++pages;
                                   throw std::runtime_error("handler gives up");
                               }),
                 std::runtime_error);
    EXPECT_EQ(pages, 1u);
    // The next search works (on a new connection when read-ahead had bytes of the
    // abandoned one buffered).
    std::size_t entries = 0;
    c.searchPaged(persons(), [&](std::vector<Entry>&& page) { entries += page.size(); });
    EXPECT_EQ(entries, personCount);
}

TEST(Connection, MultiValuedAttributesAndChineseNamesComeBackIntact) {
    Connection c(PlainServer::server().connectionOptions());
    auto result = c.search(persons());
    ASSERT_EQ(result.size(), personCount);
    std::map<std::string, const Entry*> byUid;
    for (const auto& e : result) byUid[e.first("uid")] = &e;
    for (std::size_t i = 0; i < personCount; ++i) {
        auto expected = PlainServer::generator().person(i);
        const Entry* e = byUid.at(expected.uid);
        EXPECT_EQ(e->values("cn"), expected.cn) << expected.uid;
        EXPECT_EQ(e->values("MAIL"), expected.mails) << "attribute names are case-insensitive";
        EXPECT_EQ(e->values("telephoneNumber"), expected.phones);
        EXPECT_EQ(e->first("entryUUID").size(), 36u);
    }
}

TEST(Connection, FilterInjectionReturnsNothing) {
    Connection c(PlainServer::server().connectionOptions());
    for (const std::string& hostile : std::vector<std::string>{"*)(uid=*", "admin)(|(uid=*", "*", "u0000001)(objectClass=*",
                                std::string("u0000001\0", 9), "\xff\xfe*"}) {
        auto r = c.search(persons("(&(objectClass=inetOrgPerson)(uid=" + escapeFilterValue(hostile) + "))"));
        EXPECT_EQ(r.size(), 0u) << "hostile input matched: " << hostile;
    }
    // The same pattern without escaping would have matched everything: the test can fail.
    auto unescaped = c.search(persons("(&(objectClass=inetOrgPerson)(uid=*))"));
    EXPECT_EQ(unescaped.size(), personCount);
    auto exact = c.search(persons("(uid=" + escapeFilterValue("u0000007") + ")"));
    EXPECT_EQ(exact.size(), 1u);
    auto chinese = c.search(persons("(cn=" + escapeFilterValue(PlainServer::generator().person(1).cn[0]) + ")"));
    EXPECT_GE(chinese.size(), 1u);
}

TEST(Connection, BadFilterIsAClearError) {
    Connection c(PlainServer::server().connectionOptions());
    try {
        c.search(persons("(uid=unbalanced"));
        FAIL() << "expected an exception";
    } catch (const LdapException& e) {
        EXPECT_EQ(e.resultCode(), LDAP_FILTER_ERROR);
        EXPECT_FALSE(e.isConnectionError());
    }
}

TEST(Connection, WrongPasswordFailsWithoutLeakingIt) {
    auto options = PlainServer::server().connectionOptions();
    options.passwordFile.clear();
    options.passwordEnv = "HUB_TEST_LDAP_PW";
    ::setenv("HUB_TEST_LDAP_PW", "Wr0ng-Secret-Value", 1);
    Connection c(options);
    try {
        c.connect();
        FAIL() << "expected an exception";
    } catch (const LdapException& e) {
        EXPECT_EQ(e.resultCode(), LDAP_INVALID_CREDENTIALS);
        EXPECT_EQ(e.displayText().find("Wr0ng-Secret-Value"), std::string::npos);
        EXPECT_NE(e.displayText().find("bind"), std::string::npos);
    }
    ::unsetenv("HUB_TEST_LDAP_PW");
}

TEST(Connection, PasswordFromEnvironmentWorks) {
    auto options = PlainServer::server().connectionOptions();
    options.passwordFile.clear();
    options.passwordEnv = "HUB_TEST_LDAP_PW_OK";
    ::setenv("HUB_TEST_LDAP_PW_OK", "fixture-secret", 1);
    Connection c(options);
    EXPECT_NO_THROW(c.connect());
    ::unsetenv("HUB_TEST_LDAP_PW_OK");
    EXPECT_TRUE(c.isConnected());
}

TEST(Connection, BindDnWithoutPasswordSourceIsRefused) {
    auto options = PlainServer::server().connectionOptions();
    options.passwordFile.clear();
    Connection c(options);
    EXPECT_THROW(c.connect(), Poco::InvalidArgumentException);
    options.passwordEnv = "HUB_TEST_SURELY_UNSET_VARIABLE";
    Connection d(options);
    EXPECT_THROW(d.connect(), Poco::NotFoundException);
}

TEST(Connection, RefusedConnectionIsAConnectionError) {
    auto options = PlainServer::server().connectionOptions();
    options.uri = "ldap://127.0.0.1:" + std::to_string(hub::ldaptest::freeLoopbackPort()) + "/";
    options.connectAttempts = 2;
    Connection c(options);
    try {
        c.connect();
        FAIL() << "expected an exception";
    } catch (const LdapException& e) {
        EXPECT_TRUE(e.isConnectionError()) << e.displayText();
    }
}

TEST(Connection, SilentServerTimesOut) {
    // A socket that accepts connections (via the backlog) but never answers.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    auto options = PlainServer::server().connectionOptions();
    options.uri = "ldap://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
    options.operationTimeout = std::chrono::milliseconds(300);
    options.connectAttempts = 1;
    Connection c(options);
    try {
        c.connect();
        FAIL() << "expected a timeout";
    } catch (const LdapException& e) {
        EXPECT_TRUE(e.isConnectionError()) << e.displayText();
    }
    ::close(fd);
}

TEST(Connection, ReconnectsAfterTheServerComesBack) {
    auto& server = PlainServer::server();
    Connection c(server.connectionOptions());
    EXPECT_EQ(c.search(persons("(uid=u0000001)")).size(), 1u);
    server.stop();
    EXPECT_THROW(c.search(persons("(uid=u0000001)")), LdapException);
    EXPECT_FALSE(c.isConnected());
    server.start();
    EXPECT_EQ(c.search(persons("(uid=u0000001)")).size(), 1u);
}

TEST(Connection, RootDseAdvertisesSyncRepl) {
    Connection c(PlainServer::server().connectionOptions());
    EXPECT_TRUE(c.supportsSyncRepl());
}

namespace {
struct RecordingHandler : SyncHandler {
    std::map<std::string, SyncState> states;  // uuid -> last state
    std::map<std::string, std::string> dns;
    std::set<std::string> deletedIds, presentIds;
    void onEntry(Entry&& e, const std::string& uuid, SyncState s) override {
        states[uuid] = s;
        dns[uuid] = e.dn;
    }
    void onIdSet(const std::vector<std::string>& ids, bool deleted) override {
        for (const auto& id : ids) (deleted ? deletedIds : presentIds).insert(id);
    }
};
}  // namespace

TEST(Connection, SyncRefreshOnlyDeliversContentThenChanges) {
    auto& server = PlainServer::server();
    Connection c(server.connectionOptions());
    SearchRequest r = persons();
    r.attributes = {"uid", "cn"};

    RecordingHandler initial;
    SyncOutcome first = c.syncRefreshOnly(r, "", initial);
    EXPECT_FALSE(first.cookie.empty());
    ASSERT_EQ(initial.states.size(), personCount);
    for (auto& [uuid, s] : initial.states) EXPECT_EQ(s, SyncState::Add);

    // Nothing changed: nothing but (at most) presents.
    RecordingHandler quiet;
    SyncOutcome second = c.syncRefreshOnly(r, first.cookie, quiet);
    for (auto& [uuid, s] : quiet.states) EXPECT_EQ(s, SyncState::Present);

    // Add one, change one, delete one.
    server.ldapModify(PlainServer::generator().personAddRecord(personCount + 1));
    auto changed = PlainServer::generator().person(3);
    server.ldapModify("dn: " + changed.dn + "\nchangetype: modify\nreplace: mail\nmail: changed@campus.example\n\n");
    auto removed = PlainServer::generator().person(4);
    std::string removedUuid;
    for (auto& [uuid, dn] : initial.dns)
        if (dn == removed.dn) removedUuid = uuid;
    ASSERT_FALSE(removedUuid.empty());
    server.ldapModify("dn: " + removed.dn + "\nchangetype: delete\n\n");

    RecordingHandler delta;
    SyncOutcome third = c.syncRefreshOnly(r, second.cookie.empty() ? first.cookie : second.cookie, delta);
    EXPECT_FALSE(third.cookie.empty());
    std::size_t addsOrMods = 0;
    for (auto& [uuid, s] : delta.states)
        if (s == SyncState::Add || s == SyncState::Modify) ++addsOrMods;
    EXPECT_EQ(addsOrMods, 2u);
    bool deleteSeen = delta.deletedIds.count(removedUuid) > 0 ||
                      (delta.states.count(removedUuid) && delta.states[removedUuid] == SyncState::Delete) ||
                      (!third.refreshDeletes && !delta.presentIds.count(removedUuid) && !delta.states.count(removedUuid));
    EXPECT_TRUE(deleteSeen);

    // Put the directory back as the other tests expect it.
    server.ldapModify("dn: uid=" + PlainServer::generator().person(personCount + 1).uid + "," +
                      PlainServer::generator().person(personCount + 1).dn.substr(
                          PlainServer::generator().person(personCount + 1).dn.find(',') + 1) +
                      "\nchangetype: delete\n\n");
    server.ldapModify(PlainServer::generator().personAddRecord(4));
}

TEST(Connection, PagedSearchesAndSyncShareOneConnection) {
    // Paged searches read ahead on a plain connection; the layer must be gone
    // before the sync (which polls the socket itself) and come back after it.
    auto options = PlainServer::server().connectionOptions();
    options.pageSize = 29;
    Connection c(options);
    auto count = [&] {
        std::size_t n = 0, pages = 0;
        c.searchPaged(persons(), [&](std::vector<Entry>&& page) {
            n += page.size();
            ++pages;
            for (const auto& e : page) EXPECT_FALSE(e.first("uid").empty()) << e.dn;
        });
        EXPECT_GT(pages, 1u);
        return n;
    };
    EXPECT_EQ(count(), personCount);
    RecordingHandler content;
    SearchRequest r = persons();
    r.attributes = {"uid"};
    EXPECT_FALSE(c.syncRefreshOnly(r, "", content).cookie.empty());
    EXPECT_EQ(content.states.size(), personCount);
    EXPECT_EQ(count(), personCount);
    EXPECT_TRUE(c.isConnected());
}

TEST(Connection, SyncHandlerExceptionAbortsAndPropagates) {
    Connection c(PlainServer::server().connectionOptions());
    struct Throwing : SyncHandler {
        int seen = 0;
        void onEntry(Entry&&, const std::string&, SyncState) override {
            if (++seen == 10) throw std::runtime_error("handler gave up");
        }
        void onIdSet(const std::vector<std::string>&, bool) override {}
    } handler;
    EXPECT_THROW(c.syncRefreshOnly(persons(), "", handler), std::runtime_error);
    EXPECT_LT(handler.seen, static_cast<int>(personCount));
    // The connection recovers for the next call.
    EXPECT_EQ(c.search(persons("(uid=u0000002)")).size(), 1u);
}

// StartTLS against a server with a test CA.
class TlsConnection : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        SlapdOptions o;
        o.tls = true;
        server_ = std::make_unique<SlapdServer>(o);
        server_->start();
    }
    static void TearDownTestSuite() { server_.reset(); }
    static ConnectionOptions tlsOptions() {
        auto o = server_->connectionOptions();
        o.uri = server_->uri("127.0.0.1");
        o.startTls = true;
        o.caFile = server_->caFile();
        o.connectAttempts = 1;
        return o;
    }
    static inline std::unique_ptr<SlapdServer> server_;
};

TEST_F(TlsConnection, VerifiedStartTlsSucceeds) {
    Connection c(tlsOptions());
    EXPECT_NO_THROW(c.connect());
    SearchRequest root;
    root.scope = Scope::Base;
    root.attributes = {"namingContexts"};
    EXPECT_EQ(c.search(root).size(), 1u);
}

TEST_F(TlsConnection, WrongCaIsRefused) {
    auto o = tlsOptions();
    o.caFile = server_->otherCaFile();
    Connection c(o);
    try {
        c.connect();
        FAIL() << "a certificate from an untrusted CA was accepted";
    } catch (const LdapException& e) {
        EXPECT_EQ(e.operation(), "StartTLS");
    }
}

TEST_F(TlsConnection, VerifiedLdapsSucceedsAndWrongCaIsRefused) {
    auto o = tlsOptions();
    o.uri = server_->ldapsUri("127.0.0.1");
    o.startTls = false;  // TLS from the first byte
    {
        Connection c(o);
        EXPECT_NO_THROW(c.connect());
        SearchRequest root;
        root.scope = Scope::Base;
        root.attributes = {"namingContexts"};
        EXPECT_EQ(c.search(root).size(), 1u);
    }
    o.caFile = server_->otherCaFile();
    Connection refused(o);
    EXPECT_THROW(refused.connect(), LdapException);
}

TEST_F(TlsConnection, WrongHostNameIsRefused) {
    auto o = tlsOptions();
    // The certificate names only 127.0.0.1; libldap checks "localhost" as this
    // machine's host name, which the certificate does not carry.
    o.uri = server_->uri("localhost");
    Connection c(o);
    EXPECT_THROW(c.connect(), LdapException);
}

TEST_F(TlsConnection, VerificationIsOnByDefault) {
    ConnectionOptions defaults;
    EXPECT_TRUE(defaults.verifyCertificate);
    auto o = tlsOptions();
    o.caFile.clear();  // system store: does not know the test CA
    Connection c(o);
    EXPECT_THROW(c.connect(), LdapException);
    // Switching verification off explicitly is the only way past it.
    o.verifyCertificate = false;
    Connection d(o);
    EXPECT_NO_THROW(d.connect());
}
