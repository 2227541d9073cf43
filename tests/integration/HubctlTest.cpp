// hubctl against a real hubd (one for the suite) syncing from a private slapd:
// each subcommand, its --json parsed, its exit code; a bad token; a hub down;
// and (HubctlProgressTest) its progress on a terminal.
#include "hub/test/StoreBackend.h"
#include "hub/ldaptest/DirectoryGenerator.h"
#include "hub/ldaptest/SlapdServer.h"
#include "hub/test/ChildProcess.h"
#include "hub/test/Eventually.h"
#include "hub/test/Http.h"
#include "hub/test/Hubd.h"
#include "hub/test/Json.h"
#include "hub/test/StoreBackend.h"
#include "hub/test/TempDir.h"
#include "hub/test/Tokens.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>
#include <Poco/StreamCopier.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using hub::test::bearer;
using hub::test::ChildProcess;
using hub::test::hubdOptions;
using hub::test::parse;
using hub::test::TempDir;

namespace {

const std::string kSecret = "hubctl-test-secret-0123456789-abcdefghijkl";

struct Outcome {
    int code = -1;
    std::string out;
    std::string err;
};

std::string token(const std::string& subject, const std::string& secret = kSecret) {
    return hub::test::token(secret, subject);
}

class HubctlTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        slapd_ = std::make_unique<hub::ldaptest::SlapdServer>(hub::ldaptest::SlapdOptions{});
        hub::ldaptest::DirectoryShape shape;
        shape.persons = 40;
        hub::ldaptest::DirectoryGenerator generator(shape);
        std::string ldif = slapd_->directory() + "/people.ldif";
        generator.writeLdifFile(ldif);
        slapd_->slapadd(ldif);
        slapd_->start();

        dir_ = std::make_unique<TempDir>("hubctl");
        fs::create_directories(dir_->file("plugins"));
        fs::create_directories(dir_->file("flows"));
        fs::copy(std::string(HUB_TEST_SOURCE_DIR) + "/config/flows/enrolment-certificate.bpmn", dir_->file("flows"));
        // A good plugin, and one the hub refuses (its manifest does not match its library).
        for (const char* plugin : {"testkit", "mismatch"})
            fs::copy(std::string(TEST_PLUGINS_DIR) + "/" + plugin, dir_->file(std::string("plugins/") + plugin),
                     fs::copy_options::recursive | fs::copy_options::overwrite_existing);
        dir_->write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_->file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir_->file("var")) + R"(
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <plugins><dir>)" + dir_->file("plugins") + R"(</dir></plugins>
  <flows><dir>)" + dir_->file("flows") + R"(</dir></flows>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity>
    <static>
      <person id="admin" name="Hub operator" audience="staff" roles="hub:admin"/>
      <person id="2023010001" name="张三" department="student-affairs" audience="student"/>
    </static>
    <ldap><uri>)" + slapd_->uri() + "</uri><base>" + slapd_->suffix() + "</base><bindDn>" + slapd_->rootDn() +
                               "</bindDn><passwordFile>" + slapd_->passwordFile() + R"(</passwordFile>
      <connectAttempts>1</connectAttempts></ldap>
    <sync><intervalSeconds>3600</intervalSeconds></sync>
  </identity>
</hub>)");
        hubd_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(*dir_));
        dir_->write("admin.token", token("admin") + "\n");
        dir_->write("student.token", token("2023010001"));
        dir_->write("forged.token", token("admin", "another-secret-0123456789-0123456789-xyz"));
    }
    static void TearDownTestSuite() {
        hubd_.reset();
        dir_.reset();
        slapd_.reset();
    }

    // hubctl with `args` against the suite's hubd as the admin (unless told otherwise).
    static Outcome hubctl(std::vector<std::string> args, const std::string& tokenFile = "admin.token",
                      std::string url = "") {
        if (url.empty()) url = hubd_->url("");
        std::vector<std::string> all = {"--url", url};
        if (!tokenFile.empty()) all.insert(all.end(), {"--token-file", dir_->file(tokenFile)});
        all.insert(all.end(), args.begin(), args.end());
        return runHubctl(all);
    }

    static Outcome runHubctl(const std::vector<std::string>& args, const Poco::Process::Env& env = {}) {
        Poco::Pipe out, err;
        auto handle = Poco::Process::launch(HUBCTL_EXE, args, "", nullptr, &out, &err, env);
        Outcome r;
        // stderr is a line or two; read it on a thread so a long stdout cannot block on it.
        std::thread errReader([&] {
            Poco::PipeInputStream in(err);
            Poco::StreamCopier::copyToString(in, r.err);
        });
        Poco::PipeInputStream in(out);
        Poco::StreamCopier::copyToString(in, r.out);
        errReader.join();
        r.code = handle.wait();
        return r;
    }

    static inline std::unique_ptr<hub::ldaptest::SlapdServer> slapd_;
    static inline std::unique_ptr<TempDir> dir_;
    static inline std::unique_ptr<ChildProcess> hubd_;
};

}  // namespace

TEST_F(HubctlTest, StatusAsTableAndJson) {
    auto table = hubctl({"status"});
    ASSERT_EQ(table.code, 0) << table.err << hubd_->output();
    EXPECT_NE(table.out.find("ready:        ready"), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("plugins:      1 loaded"), std::string::npos) << table.out;
    // Which store and which node answered (several hubs behind a load balancer).
    const std::string backend = hub::test::storeOnPostgres() ? "postgresql" : "sqlite";
    EXPECT_NE(table.out.find("store:        " + backend + ", node "), std::string::npos) << table.out;

    auto json = hubctl({"status", "--json"});
    ASSERT_EQ(json.code, 0) << json.err;
    auto status = parse(json.out);
    EXPECT_EQ(status->getObject("ready")->getValue<std::string>("status"), "ready");
    EXPECT_EQ(status->getArray("systems")->size(), 1u);
    EXPECT_TRUE(status->has("sync"));
    EXPECT_EQ(status->getObject("ready")->getObject("store")->getValue<std::string>("backend"), backend);
    EXPECT_FALSE(status->getObject("ready")->getValue<std::string>("node").empty());
}

TEST_F(HubctlTest, PluginsListRefusalsReloadUnload) {
    auto list = hubctl({"--json", "plugins", "list"});
    ASSERT_EQ(list.code, 0) << list.err;
    auto systems = parse(list.out)->getArray("systems");
    ASSERT_EQ(systems->size(), 1u);
    EXPECT_EQ(systems->getObject(0)->getValue<std::string>("name"), "testkit");
    auto table = hubctl({"plugins", "list"});
    EXPECT_EQ(table.out.rfind("NAME", 0), 0u) << table.out;
    EXPECT_NE(table.out.find("testkit"), std::string::npos) << table.out;

    auto refusals = hubctl({"plugins", "refusals", "--json"});
    ASSERT_EQ(refusals.code, 0) << refusals.err;
    auto refused = parse(refusals.out)->getArray("refused");
    ASSERT_EQ(refused->size(), 1u) << refusals.out;
    EXPECT_NE(refused->getObject(0)->getValue<std::string>("path").find("mismatch"), std::string::npos);

    auto reload = hubctl({"plugins", "reload", "testkit", "--json"});
    ASSERT_EQ(reload.code, 0) << reload.err;
    EXPECT_EQ(parse(reload.out)->getValue<std::string>("plugin"), "testkit");

    // An unknown plugin: the hub's 404, reported, exit 1.
    auto unknown = hubctl({"plugins", "unload", "no-such-plugin"});
    EXPECT_EQ(unknown.code, 1);
    EXPECT_NE(unknown.err.find("404"), std::string::npos) << unknown.err;
}

TEST_F(HubctlTest, SyncRunThenStatus) {
    // The schedule's first run comes a second after the start. Let it finish
    // first: one that came after the directory change below would write it,
    // where this test needs the stored persons left as they were.
    for (int i = 0; i < 300; ++i) {
        auto state = hubctl({"sync", "status", "--json"});
        ASSERT_EQ(state.code, 0) << state.err;
        auto json = parse(state.out);
        if (!json->getValue<std::string>("lastRunAt").empty() && !json->getValue<bool>("running")) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    auto run = hubctl({"sync", "run", "--full", "--json"}, "admin.token");
    ASSERT_EQ(run.code, 0) << run.err;
    auto report = parse(run.out);
    EXPECT_EQ(report->getValue<std::string>("lastStatus"), "ok") << run.out;
    EXPECT_EQ(report->getValue<int>("activePersons"), 40);

    // Nothing to do after the run; the preview's table and JSON say so.
    auto preview = hubctl({"sync", "preview", "--json"});
    ASSERT_EQ(preview.code, 0) << preview.err;
    auto counts = parse(preview.out);
    EXPECT_EQ(counts->getValue<int>("read"), 40);
    EXPECT_EQ(counts->getValue<int>("unchanged"), 40);
    EXPECT_EQ(counts->getArray("departments")->size(), 0u);
    EXPECT_EQ(hubctl({"sync", "preview"}).out, "nothing to do: 40 persons read, all as stored\n");

    auto status = hubctl({"sync", "status"});
    ASSERT_EQ(status.code, 0) << status.err;
    EXPECT_NE(status.out.find("active persons: 40"), std::string::npos) << status.out;

    // A person leaves the directory: the preview names them under their
    // department, and the stored persons stay as they are until a run.
    hub::ldaptest::DirectoryShape shape;
    shape.persons = 40;
    auto leaving = hub::ldaptest::DirectoryGenerator(shape).person(7);
    slapd_->ldapModify("dn: " + leaving.dn + "\nchangetype: delete\n\n");
    auto departing = hubctl({"sync", "preview", "--json"});
    ASSERT_EQ(departing.code, 0) << departing.err;
    auto after = parse(departing.out);
    EXPECT_EQ(after->getValue<int>("depart"), 1);
    EXPECT_EQ(after->getValue<int>("activePersons"), 40);
    auto departments = after->getArray("departments");
    ASSERT_EQ(departments->size(), 1u) << departing.out;
    EXPECT_EQ(departments->getObject(0)->getArray("departed")->getElement<std::string>(0), leaving.uid);
    auto table = hubctl({"sync", "preview"});
    EXPECT_NE(table.out.find(leaving.uid), std::string::npos) << table.out;
    EXPECT_NE(table.out.find("nothing was written"), std::string::npos) << table.out;
    EXPECT_NE(hubctl({"sync", "status"}).out.find("active persons: 40"), std::string::npos);
}

TEST_F(HubctlTest, DeadLettersListAndReplay) {
    auto list = hubctl({"events", "dead-letters", "list", "--json"});
    ASSERT_EQ(list.code, 0) << list.err;
    EXPECT_EQ(parse(list.out)->getArray("items")->size(), 0u);
    EXPECT_EQ(hubctl({"events", "dead-letters", "list"}).out, "no dead letters\n");

    auto replay = hubctl({"events", "dead-letters", "replay", "--consumer", "portal", "--json"});
    ASSERT_EQ(replay.code, 0) << replay.err;
    auto replayed = parse(replay.out);
    EXPECT_EQ(replayed->getValue<int>("replayed"), 0);
    EXPECT_EQ(replayed->getObject("consumers")->getValue<int>("portal"), 0);
    // --id alone is a usage error: it names one consumer's event.
    EXPECT_EQ(hubctl({"events", "dead-letters", "replay", "--id", "x"}).code, 2);
}

TEST_F(HubctlTest, AuditSearchByPersonAndTime) {
    ASSERT_EQ(hubctl({"plugins", "refusals"}).code, 0);
    auto found = hubctl({"audit", "search", "--person", "admin", "--since", "2000-01-01", "--json"});
    ASSERT_EQ(found.code, 0) << found.err;
    auto items = parse(found.out)->getArray("items");
    ASSERT_GT(items->size(), 0u);
    bool sawRefusals = false;
    for (std::size_t i = 0; i < items->size(); ++i) {
        auto row = items->getObject(static_cast<unsigned>(i));
        EXPECT_EQ(row->getValue<std::string>("subject"), "admin");
        sawRefusals |= row->getValue<std::string>("operation") == "GET /admin/plugins";
    }
    EXPECT_TRUE(sawRefusals) << found.out;

    auto future = hubctl({"audit", "search", "--person", "admin", "--since", "2999-01-01", "--json"});
    ASSERT_EQ(future.code, 0) << future.err;
    EXPECT_EQ(parse(future.out)->getArray("items")->size(), 0u);
    EXPECT_EQ(hubctl({"audit", "search", "--person", "nobody"}).out, "nothing found\n");
    // A malformed time is the hub's 400, not an empty answer.
    auto bad = hubctl({"audit", "search", "--since", "yesterday"});
    EXPECT_EQ(bad.code, 1);
    EXPECT_NE(bad.err.find("ISO 8601"), std::string::npos) << bad.err;
}

// Issue 18: who read whose data (--accessed), and the retention job and legal holds.
TEST_F(HubctlTest, AuditSearchByPersonAccessedAndRetention) {
    auto look = hub::test::httpRequest("GET", hubd_->url("/api/v1/identities/2023010001"), "",
                                       bearer(token("admin")));
    ASSERT_NE(look.status, 403) << look.body;
    // The admin's look is queued for the trail as its answer leaves: search until it is there.
    Outcome found;
    EXPECT_TRUE(hub::test::waitUntil([&] {
        found = hubctl({"audit", "search", "--accessed", "2023010001", "--json"});
        return found.code == 0 && found.out.find("GET /api/v1/identities/2023010001") != std::string::npos;
    })) << found.out << found.err;
    auto items = parse(found.out)->getArray("items");
    for (std::size_t i = 0; i < items->size(); ++i)
        EXPECT_EQ(items->getObject(static_cast<unsigned>(i))->getValue<std::string>("person"), "2023010001");
    EXPECT_EQ(hubctl({"audit", "search", "--accessed", "nobody-at-all"}).out, "nothing found\n");

    auto run = hubctl({"retention", "run", "--json"});
    ASSERT_EQ(run.code, 0) << run.err;
    auto report = parse(run.out);
    EXPECT_EQ(report->getValue<std::string>("actor"), "admin");
    EXPECT_TRUE(report->getObject("kinds")->has("applications")) << run.out;
    auto table = hubctl({"retention", "runs", "--limit", "1"});
    ASSERT_EQ(table.code, 0) << table.err;
    EXPECT_NE(table.out.find("applications"), std::string::npos) << table.out;
    // A student runs nothing (403: exit 3); an unknown application has no hold (404: exit 1).
    EXPECT_EQ(hubctl({"retention", "run"}, "student.token").code, 3);
    auto unknown = hubctl({"retention", "hold", "no-such-application", "--reason", "案件 17"});
    EXPECT_EQ(unknown.code, 1);
    EXPECT_NE(unknown.err.find("no application"), std::string::npos) << unknown.err;
    EXPECT_EQ(hubctl({"retention", "hold", "no-such-application"}).code, 2) << "--reason is required";
}

TEST_F(HubctlTest, CatalogValidateOffline) {
    auto good = runHubctl({"catalog", "validate", CATALOG_DIR, "--json"});
    ASSERT_EQ(good.code, 0) << good.err << good.out;
    EXPECT_TRUE(parse(good.out)->getValue<bool>("valid"));

    TempDir broken("hubctl-catalog");
    for (const auto& entry : fs::directory_iterator(CATALOG_DIR))
        fs::copy(entry.path(), broken.file(entry.path().filename().string()));
    // Line 3 of the taxonomy gets an element the schema does not allow.
    std::string file = broken.file("00-taxonomy.xml");
    std::ifstream in(file);
    std::string text, line;
    for (int n = 1; std::getline(in, line); ++n) text += line + (n == 3 ? "<bogus/>" : "") + "\n";
    in.close();
    broken.write("00-taxonomy.xml", text);
    auto bad = runHubctl({"catalog", "validate", broken.path()});
    EXPECT_EQ(bad.code, 1);
    EXPECT_NE(bad.out.find(file + ":3:"), std::string::npos) << bad.out;
    EXPECT_NE(bad.out.find("bogus"), std::string::npos) << bad.out;
    auto json = runHubctl({"catalog", "validate", broken.path(), "--json"});
    auto errors = parse(json.out)->getArray("errors");
    ASSERT_GT(errors->size(), 0u);
    EXPECT_EQ(errors->getObject(0)->getValue<std::string>("file"), file);
    EXPECT_EQ(errors->getObject(0)->getValue<int>("line"), 3);
    EXPECT_EQ(runHubctl({"catalog", "validate", broken.file("missing")}).code, 2);
}

TEST_F(HubctlTest, FlowsListDeployIncidentsRetryAndValidate) {
    auto list = hubctl({"flows", "list"});
    ASSERT_EQ(list.code, 0) << list.err << list.out;
    EXPECT_NE(list.out.find("enrolment-certificate"), std::string::npos) << list.out;

    // A new file is deployed on `flows deploy`; a refused one fails it and the
    // running versions stay.
    fs::copy(std::string(HUB_TEST_SOURCE_DIR) + "/config/flows/dorm-repair.bpmn", dir_->file("flows"));
    auto deploy = hubctl({"flows", "deploy"});
    ASSERT_EQ(deploy.code, 0) << deploy.err << deploy.out;
    auto json = hubctl({"flows", "list", "--json"});
    ASSERT_EQ(json.code, 0) << json.err;
    EXPECT_EQ(parse(json.out)->getArray("items")->size(), 2u) << json.out;
    dir_->write("flows/broken.bpmn", "<definitions>");
    auto refused = hubctl({"flows", "deploy"});
    EXPECT_EQ(refused.code, 1) << refused.out;
    EXPECT_NE(refused.err.find("broken.bpmn"), std::string::npos) << refused.err;
    fs::remove(dir_->file("flows/broken.bpmn"));
    EXPECT_EQ(parse(hubctl({"flows", "list", "--json"}).out)->getArray("items")->size(), 2u);

    auto incidents = hubctl({"flows", "incidents", "--json"});
    ASSERT_EQ(incidents.code, 0) << incidents.err;
    EXPECT_EQ(parse(incidents.out)->getArray("items")->size(), 0u);
    auto unknown = hubctl({"flows", "retry", "no-such-incident"});
    EXPECT_EQ(unknown.code, 1);
    EXPECT_NE(unknown.err.find("no open incident"), std::string::npos) << unknown.err;

    // Offline: the shipped files pass; a broken one is named with its line.
    auto good = runHubctl({"flows", "validate", std::string(HUB_TEST_SOURCE_DIR) + "/config/flows/travel-abroad.bpmn"});
    EXPECT_EQ(good.code, 0) << good.out;
    dir_->write("bad.bpmn", "<?xml version=\"1.0\"?>\n<bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\">\n"
                            "<bpmn:process id=\"p\" isExecutable=\"true\">\n<bpmn:startEvent id=\"s\"/>\n"
                            "<bpmn:sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"ghost\"/>\n</bpmn:process>\n"
                            "</bpmn:definitions>\n");
    auto bad = runHubctl({"flows", "validate", dir_->file("bad.bpmn"), "--json"});
    EXPECT_EQ(bad.code, 1) << bad.out;
    auto file = parse(bad.out)->getArray("files")->getObject(0);
    EXPECT_FALSE(file->getValue<bool>("valid"));
    auto problems = file->getArray("problems");
    ASSERT_GT(problems->size(), 0u);
    bool ghost = false;
    for (std::size_t i = 0; i < problems->size(); ++i)
        ghost |= problems->getObject(static_cast<unsigned>(i))->getValue<std::string>("message").find("ghost") !=
                 std::string::npos && problems->getObject(static_cast<unsigned>(i))->getValue<int>("line") == 5;
    EXPECT_TRUE(ghost) << bad.out;
}

// hubctl flows message: nothing in this hub waits for a work order, so the
// message is kept for its time-to-live (the first wait that begins takes it;
// delivery itself: FlowMessagesTest, ShippedFlowsRunTest); an id seen before is
// a duplicate; bad options are usage errors that never reach the hub.
TEST_F(HubctlTest, FlowsMessageKeepsRefusesDuplicatesAndChecksItsOptions) {
    auto kept = hubctl({"flows", "message", "logistics.work_order_completed", "--key", "WO-7", "--vars",
                        R"({"repair_note":"已修复"})", "--id", "wo-7-done"});
    ASSERT_EQ(kept.code, 0) << kept.err << kept.out;
    EXPECT_NE(kept.out.find("message wo-7-done kept"), std::string::npos) << kept.out;
    auto duplicate = hubctl({"flows", "message", "logistics.work_order_completed", "--key", "WO-7", "--id", "wo-7-done"});
    EXPECT_EQ(duplicate.code, 1) << duplicate.out;
    EXPECT_NE(duplicate.err.find("came before"), std::string::npos) << duplicate.err;

    auto json = hubctl({"flows", "message", "logistics.work_order_completed", "--key", "WO-8", "--ttl", "60", "--json"});
    ASSERT_EQ(json.code, 0) << json.err;
    auto answer = parse(json.out);
    EXPECT_EQ(answer->getValue<std::string>("status"), "buffered");
    EXPECT_EQ(answer->getArray("delivered")->size(), 0u);
    EXPECT_GT(answer->getValue<Poco::Int64>("expiresAt"), 0);

    auto none = hubctl({"flows", "message", "logistics.work_order_completed", "--key", "WO-9", "--ttl", "0"});
    EXPECT_EQ(none.code, 1);
    EXPECT_NE(none.err.find("no running instance waits"), std::string::npos) << none.err;

    for (const std::vector<std::string>& usage :
         {std::vector<std::string>{"flows", "message", "x.done", "--key", "K", "--vars", "{bad"},
          {"flows", "message", "x.done", "--key", "K", "--vars", "[1]"},
          {"flows", "message", "x.done"},
          {"flows", "message", "x.done", "--key", "K", "--ttl", "-1"},
          {"flows", "message", "--key", "K"}}) {
        auto r = hubctl(usage);
        EXPECT_EQ(r.code, 2) << usage.back() << ": " << r.err;
    }
    EXPECT_EQ(hubctl({"flows", "message", "x.done", "--key", "K"}, "student.token").code, 3);
}

TEST_F(HubctlTest, TokenMintsWhatTheHubAccepts) {
    auto minted = runHubctl({"token", "--config", dir_->file("hub.xml"), "--sub", "admin", "--ttl", "60"});
    ASSERT_EQ(minted.code, 0) << minted.err;
    ASSERT_FALSE(minted.out.empty());
    dir_->write("minted.token", minted.out);
    EXPECT_EQ(hubctl({"plugins", "list"}, "minted.token").code, 0);
    EXPECT_EQ(runHubctl({"token", "--config", dir_->file("hub.xml")}).code, 2) << "--sub is required";
}

TEST_F(HubctlTest, ExitCodesForUsageTokensAndAnUnreachableHub) {
    EXPECT_EQ(runHubctl({}).code, 2);
    EXPECT_EQ(runHubctl({"no-such-command"}).code, 2);
    EXPECT_EQ(runHubctl({"plugins", "reload"}).code, 2) << "NAME is required";

    // The token from the environment, and none at all.
    auto fromEnv = runHubctl({"--url", hubd_->url(""), "plugins", "list"}, {{"HUBCTL_TOKEN", token("admin")}});
    EXPECT_EQ(fromEnv.code, 0) << fromEnv.err;
    auto none = runHubctl({"--url", hubd_->url(""), "plugins", "list"});
    EXPECT_EQ(none.code, 3);
    EXPECT_NE(none.err.find("no token"), std::string::npos) << none.err;

    // A token signed with another key: 401; a valid one without hub:admin: 403.
    auto forged = hubctl({"plugins", "refusals"}, "forged.token");
    EXPECT_EQ(forged.code, 3);
    EXPECT_NE(forged.err.find("refused the token (401)"), std::string::npos) << forged.err;
    auto student = hubctl({"plugins", "refusals"}, "student.token");
    EXPECT_EQ(student.code, 3);
    EXPECT_NE(student.err.find("(403)"), std::string::npos) << student.err;

    // Nothing listens there.
    int closed = hub::ldaptest::freeLoopbackPort();
    auto down = hubctl({"status"}, "admin.token", "http://127.0.0.1:" + std::to_string(closed));
    EXPECT_EQ(down.code, 3);
    EXPECT_NE(down.err.find("cannot reach the hub"), std::string::npos) << down.err;

    // The URL from the config's http section when no --url is given.
    TempDir config("hubctl-config");
    config.write("hub.xml", "<hub><http><address>0.0.0.0</address><port>" + std::to_string(hubd_->port()) +
                                "</port></http></hub>");
    auto fromConfig =
        runHubctl({"--config", config.file("hub.xml"), "--token-file", dir_->file("admin.token"), "plugins", "list"});
    EXPECT_EQ(fromConfig.code, 0) << fromConfig.err;
}

TEST_F(HubctlTest, BashCompletion) {
    auto script = runHubctl({"completion", "bash"});
    ASSERT_EQ(script.code, 0) << script.err;
    TempDir dir("hubctl-completion");
    dir.write("hubctl.bash", script.out);
    // bash itself: the script loads, registers the function, and completes
    // command groups, subcommands and options.
    auto complete = [&](const std::string& line) {
        dir.write("probe.sh", "source '" + dir.file("hubctl.bash") + "'\ncomplete -p hubctl\n" +
                                  "COMP_WORDS=(" + line + ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n" +
                                  "_hubctl\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n");
        Poco::Pipe out;
        auto handle = Poco::Process::launch("/bin/bash", {dir.file("probe.sh")}, nullptr, &out, nullptr);
        Poco::PipeInputStream in(out);
        std::string text;
        Poco::StreamCopier::copyToString(in, text);
        EXPECT_EQ(handle.wait(), 0) << text;
        return text;
    };
    std::string top = complete("hubctl ''");
    EXPECT_NE(top.find("complete -F _hubctl hubctl"), std::string::npos) << top;
    for (const char* word : {"status\n", "plugins\n", "sync\n", "events\n", "catalog\n", "audit\n", "token\n"})
        EXPECT_NE(top.find(word), std::string::npos) << word << " in:\n" << top;
    std::string plugins = complete("hubctl --json plugins r");
    EXPECT_NE(plugins.find("reload\n"), std::string::npos) << plugins;
    EXPECT_NE(plugins.find("refusals\n"), std::string::npos) << plugins;
    EXPECT_EQ(plugins.find("list\n"), std::string::npos) << plugins;
    std::string dead = complete("hubctl --url http://x events dead-letters replay --");
    EXPECT_NE(dead.find("--consumer\n"), std::string::npos) << dead;
    EXPECT_NE(dead.find("--json\n"), std::string::npos) << dead;
    EXPECT_NE(complete("hubctl flows m").find("message\n"), std::string::npos);
    std::string message = complete("hubctl flows message x.done --");
    for (const char* option : {"--key\n", "--vars\n", "--ttl\n", "--id\n", "--application\n"})
        EXPECT_NE(message.find(option), std::string::npos) << option << " in:\n" << message;
}

// Issue 16, logs: hubd with logging.format = json and masking switched off.
// Every line is one JSON object; the switch-off is announced; the lines a
// request causes on the api pool carry its request id and W3C trace id.
TEST_F(HubctlTest, JsonLogLinesCarryTheRequestAndTraceIds) {
    TempDir dir("hubctl-json-log");
    fs::create_directories(dir.file("plugins"));
    fs::copy(std::string(TEST_PLUGINS_DIR) + "/testkit", dir.file("plugins/testkit"), fs::copy_options::recursive);
    dir.write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir.file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir.file("var")) + R"(
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <plugins><dir>)" + dir.file("plugins") + R"(</dir></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity><static><person id="admin" name="Hub operator" audience="staff" roles="hub:admin"/></static></identity>
  <logging><format>json</format><maskPersonalData>false</maskPersonalData></logging>
</hub>)");
    ChildProcess hubd(HUBD_EXE, hubdOptions(dir));
    const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    auto r = hub::test::httpRequest("POST", hubd.url("/admin/plugins/testkit/reload"), "",
                                    {{"Authorization", "Bearer " + token("admin")},
                                     {"traceparent", "00-" + trace + "-00f067aa0ba902b7-01"}});
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string requestId = r.header("X-Request-Id");
    ASSERT_FALSE(requestId.empty());

    Poco::JSON::Object::Ptr reloaded;
    hub::test::waitUntil(
        [&] {
            std::istringstream lines(hubd.output());
            for (std::string line; std::getline(lines, line);) {
                if (line.find("reloaded") == std::string::npos) continue;
                reloaded = parse(line);
                return true;
            }
            return false;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(20));
    ASSERT_TRUE(reloaded) << hubd.output();
    EXPECT_EQ(reloaded->getValue<std::string>("logger"), "hub.host");
    EXPECT_EQ(reloaded->getValue<std::string>("request_id"), requestId) << hubd.output();
    EXPECT_EQ(reloaded->getValue<std::string>("trace_id"), trace);

    std::istringstream lines(hubd.output());
    bool warned = false;
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] != '{') continue;  // a plugin's own stdout, not a log line
        auto object = parse(line);
        ASSERT_TRUE(object->has("time") && object->has("level") && object->has("message")) << line;
        warned |= object->getValue<std::string>("message").find("maskPersonalData is off") != std::string::npos;
    }
    EXPECT_TRUE(warned) << hubd.output();
}

namespace {

// hubctl's progress on a terminal (a pty from script(1)): a full sync shows
// the persons the hub has read so far, and a replay advances per dead letter.
// Its own hub, directory and event consumer: a directory large enough, read in
// small pages, that the run is still going when hubctl looks; and a consumer
// that is stopped (connected, silent) while changes turn into dead letters.
class HubctlProgressTest : public ::testing::Test {
protected:
    static constexpr std::size_t kPersons = 3000;
    static constexpr std::size_t kChanged = 60;

    static void SetUpTestSuite() {
        slapd_ = std::make_unique<hub::ldaptest::SlapdServer>(hub::ldaptest::SlapdOptions{});
        hub::ldaptest::DirectoryShape shape;
        shape.persons = kPersons;
        generator_ = std::make_unique<hub::ldaptest::DirectoryGenerator>(shape);
        const std::string ldif = slapd_->directory() + "/people.ldif";
        generator_->writeLdifFile(ldif);
        slapd_->slapadd(ldif);
        slapd_->start();

        dir_ = std::make_unique<TempDir>("hubctl-progress");
        // The consumer: one attempt of 3 s, so a stopped one's events are dead
        // letters at once (a second attempt would find the connection dropped by
        // the heartbeat, and wait for it unsent).
        const int consumerPort = hub::ldaptest::freeLoopbackPort();
        consumer_ = std::make_unique<ChildProcess>(
            PORTAL_CONSUMER_EXE,
            ChildProcess::Options{.args = {"--listen", "tcp://127.0.0.1:" + std::to_string(consumerPort), "--plaintext"}});
        ASSERT_TRUE(hub::test::waitUntil([] { return consumer_->output().find("listening") != std::string::npos; }))
            << consumer_->output();
        fs::create_directories(dir_->file("plugins"));
        dir_->write("hub.xml", R"(<hub>
  <http><port>0</port><portFile>)" + dir_->file("hubd.port") + R"(</portFile></http>
  )" + hub::test::storeXml(dir_->path()) + R"(
  <catalog><dir>)" + std::string(CATALOG_DIR) + R"(</dir></catalog>
  <plugins><dir>)" + dir_->file("plugins") + R"(</dir></plugins>
  <auth><jwt><hs256Secret>)" + kSecret + R"(</hs256Secret><audience>campushub</audience></jwt></auth>
  <identity>
    <static><person id="admin" name="Hub operator" audience="staff" roles="hub:admin"/></static>
    <ldap><uri>)" + slapd_->uri() + "</uri><base>" + slapd_->suffix() + "</base><bindDn>" + slapd_->rootDn() +
                                 "</bindDn><passwordFile>" + slapd_->passwordFile() + R"(</passwordFile>
      <connectAttempts>1</connectAttempts><pageSize>1</pageSize></ldap>
    <sync><intervalSeconds>3600</intervalSeconds></sync>
  </identity>
  <events><curve><enabled>false</enabled></curve><consumers>
    <consumer><name>portal</name><endpoint>tcp://127.0.0.1:)" + std::to_string(consumerPort) + R"(</endpoint>
      <maxAttempts>1</maxAttempts><ackTimeoutMs>3000</ackTimeoutMs><backoffInitialMs>20</backoffInitialMs>
      <backoffMaxMs>50</backoffMaxMs></consumer>
  </consumers></events>
</hub>)");
        hubd_ = std::make_unique<ChildProcess>(HUBD_EXE, hubdOptions(*dir_));
        dir_->write("admin.token", hub::test::token(kSecret, "admin") + "\n");
        // The first run (1 s after the start) stores every person; its events reach the consumer.
        ASSERT_TRUE(hub::test::waitUntil([] { return !status()->getValue<std::string>("lastSuccessAt").empty(); },
                                         std::chrono::seconds(120)))
            << hubd_->output();
        // Each entry the run created is an event. The relay's figures are a snapshot
        // its thread takes every 100 ms or so, which may predate the run's last
        // commit: "depth 0" alone once let the test stop the consumer with 1160
        // events still to come (a loaded PostgreSQL run; they became dead letters).
        // So wait until the consumer has acknowledged that many.
        const long long events = status()->getValue<long long>("created");
        ASSERT_GE(events, static_cast<long long>(kPersons)) << "the first run did not create every person";
        ASSERT_TRUE(hub::test::waitUntil(
            [events] {
                auto c = get("/admin/events/consumers")->getArray("consumers")->getObject(0);
                // delivering: the relay holds the consumer's lease (on PostgreSQL a hub
                // that does not reports no depth of its own).
                return c->getValue<bool>("delivering") && c->getValue<long long>("deliveries") >= events &&
                       c->getValue<long long>("depth") == 0 && c->getValue<long long>("inFlight") == 0;
            },
            std::chrono::seconds(120)))
            << "the first sync's events were not delivered: " << relayFigures();
        ASSERT_EQ(get("/admin/events/consumers")->getValue<long long>("deadLetters"), 0);
    }
    static void TearDownTestSuite() {
        if (consumer_) consumer_->signal(SIGCONT);
        hubd_.reset();
        consumer_.reset();
        dir_.reset();
        slapd_.reset();
        generator_.reset();
    }

    static Poco::JSON::Object::Ptr get(const std::string& path) {
        auto r = hub::test::httpRequest("GET", hubd_->url(path), "", bearer(hub::test::token(kSecret, "admin")));
        if (r.status != 200) throw std::runtime_error(path + ": " + std::to_string(r.status) + " " + r.body);
        return parse(r.body);
    }
    static Poco::JSON::Object::Ptr status() { return get("/admin/identity/sync"); }
    // The relay's figures as they are, for a failure's message.
    static std::string relayFigures() {
        return hub::test::httpRequest("GET", hubd_->url("/admin/events/consumers"), "",
                                      bearer(hub::test::token(kSecret, "admin")))
            .body;
    }

    // hubctl with `args` on a terminal: script(1) gives it a pty for stdout and
    // stderr; what it drew there comes back (with the pty's \r\n).
    static std::string onTerminal(const std::vector<std::string>& args) {
        std::string command = std::string(HUBCTL_EXE) + " --url " + hubd_->url("") + " --token-file " +
                              dir_->file("admin.token");
        for (const auto& a : args) command += " " + a;
        Poco::Pipe out;
        auto handle = Poco::Process::launch("script", {"-q", "-e", "-c", command, "/dev/null"}, "", nullptr, &out,
                                            nullptr);
        Poco::PipeInputStream in(out);
        std::string text;
        Poco::StreamCopier::copyToString(in, text);
        EXPECT_EQ(handle.wait(), 0) << text;
        return text;
    }

    // The counts a bar or spinner showed: every "N/TOTAL UNIT" or "| N UNIT".
    static std::vector<long long> drawn(const std::string& text, const std::string& unit) {
        std::vector<long long> counts;
        for (auto at = text.find(" " + unit); at != std::string::npos; at = text.find(" " + unit, at + 1)) {
            auto from = text.rfind(' ', at - 1);
            std::string figure = text.substr(from + 1, at - from - 1);
            counts.push_back(std::stoll(figure.substr(0, figure.find('/'))));
        }
        return counts;
    }

    static inline std::unique_ptr<hub::ldaptest::SlapdServer> slapd_;
    static inline std::unique_ptr<hub::ldaptest::DirectoryGenerator> generator_;
    static inline std::unique_ptr<TempDir> dir_;
    static inline std::unique_ptr<ChildProcess> consumer_;
    static inline std::unique_ptr<ChildProcess> hubd_;
};

}  // namespace

TEST_F(HubctlProgressTest, AFullSyncShowsThePersonsTheHubHasReadSoFar) {
    const std::string drawing = onTerminal({"sync", "run", "--full"});
    const auto counts = drawn(drawing, "persons read");
    // At least one look while the persons were being read: more than none, fewer than all.
    ASSERT_FALSE(counts.empty()) << drawing;
    EXPECT_TRUE(std::any_of(counts.begin(), counts.end(),
                            [](long long n) { return n > 0 && n < static_cast<long long>(kPersons); }))
        << drawing;
    EXPECT_TRUE(std::is_sorted(counts.begin(), counts.end())) << drawing;
    EXPECT_NE(drawing.find("/" + std::to_string(kPersons) + " persons read"), std::string::npos)
        << "the bar's total is the active persons stored: " << drawing;
    EXPECT_NE(drawing.find("last run:       full at"), std::string::npos) << drawing;
    EXPECT_EQ(status()->getValue<long long>("personsRead"), static_cast<long long>(kPersons));
}

TEST_F(HubctlProgressTest, AReplayAdvancesPerDeadLetter) {
    // The consumer goes silent; changed persons become events it never acknowledges.
    consumer_->signal(SIGSTOP);
    std::string ldif;
    for (std::size_t i = 0; i < kChanged; ++i)
        ldif += "dn: " + generator_->person(i).dn + "\nchangetype: modify\nreplace: title\ntitle: 改过 " +
                std::to_string(i) + "\n\n";
    slapd_->ldapModify(ldif);
    auto run = hub::test::httpRequest("POST", hubd_->url("/admin/identity/sync?full=1"), "",
                                      bearer(hub::test::token(kSecret, "admin")));
    ASSERT_EQ(run.status, 200) << run.body;
    ASSERT_EQ(parse(run.body)->getValue<long long>("updated"), static_cast<long long>(kChanged)) << run.body;
    // Failing, it shows the relay's figures, the sync's report and the hub's log.
    ASSERT_TRUE(hub::test::waitUntil(
        [] { return get("/admin/events/consumers")->getValue<long long>("deadLetters") == kChanged; },
        std::chrono::seconds(30)))
        << "relay: " << relayFigures() << "\nsync: " << run.body << "\nhubd:\n" << hubd_->output();
    consumer_->signal(SIGCONT);

    const std::string drawing = onTerminal({"events", "dead-letters", "replay"});
    auto counts = drawn(drawing, "dead letters");
    // The bar moved one event at a time, to the whole count.
    std::vector<long long> each;
    for (long long n = 1; n <= static_cast<long long>(kChanged); ++n) each.push_back(n);
    counts.erase(std::remove(counts.begin(), counts.end(), 0), counts.end());
    counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
    EXPECT_EQ(counts, each) << drawing;
    EXPECT_NE(drawing.find("/" + std::to_string(kChanged) + " dead letters"), std::string::npos) << drawing;
    EXPECT_NE(drawing.find(std::to_string(kChanged) + " dead letter(s) queued for delivery again"), std::string::npos)
        << drawing;
    // Delivered this time: the consumer is back.
    EXPECT_TRUE(hub::test::waitUntil(
        [] { return get("/admin/events/consumers")->getValue<long long>("deadLetters") == 0; },
        std::chrono::seconds(30)));
}
