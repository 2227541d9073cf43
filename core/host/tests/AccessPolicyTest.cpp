// Who may call a plugin operation: the policy a manifest declares, how hub.xml
// may narrow it (and may not widen it), and PluginHost::submit enforcing it
// before the plugin runs, in-process and in a worker process alike. Real test
// plugins (tests/plugins/testkit) with their manifests rewritten per test.
#include "hub/host/AccessPolicy.h"
#include "HostTestSupport.h"
#include "hub/host/Manifest.h"
#include "hub/host/PluginHost.h"

#include <campushub/plugin.h>

#include <Poco/FileStream.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Util/XMLConfiguration.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;
using namespace hub::host;

namespace {

using hub::host::test::kTestPlugins;

// The callers of the tables below.
const Caller kStudentByAudience{"2023010001", {}, "", {"student"}};
const Caller kOtherStudent{"2023010002", {}, "", {"student"}};
const Caller kTeacher{"T1998001", {}, "", {"teacher", "staff"}};
const Caller kClerk{"clerk.test", {"dept:testing:clerk"}, "", {"staff"}};
const Caller kAdmin{"admin", {"hub:admin"}, "", {"staff"}};
const Caller kPortalForStudent{"portal-backend", {}, "2023010001", {"student"}};
const Caller kNobody{};

std::string lookup(std::string_view json, std::string_view name, MemberLookup expected) {
    std::string value = "(untouched)";
    EXPECT_EQ(findTopLevelString(json, name, value), expected) << json;
    return value;
}

TEST(FindTopLevelString, ReadsOneTopLevelStringMemberOnly) {
    EXPECT_EQ(lookup(R"({"student_id":"2023010001","x":1})", "student_id", MemberLookup::Found), "2023010001");
    // Escapes are decoded in the name and the value, as the plugin's parser decodes them.
    EXPECT_EQ(lookup(R"({"student\u005fid":"20230\u0031"})", "student_id", MemberLookup::Found), "202301");
    EXPECT_EQ(lookup(R"({"name":"张三","student_id":"张三"})", "student_id", MemberLookup::Found), "张三");
    // A member of the same name deeper down is not the top-level one.
    EXPECT_EQ(lookup(R"({"x":{"student_id":"a"},"y":[{"student_id":"b"}],"student_id":"c"})", "student_id",
                     MemberLookup::Found),
              "c");
    lookup(R"({"x":{"student_id":"a"}})", "student_id", MemberLookup::Missing);
    lookup("{}", "student_id", MemberLookup::Missing);
    for (const char* value : {"12", "null", "true", "{}", "[\"2023010001\"]", "1.5e3"})
        lookup(std::string(R"({"student_id":)") + value + "}", "student_id", MemberLookup::NotString);
    // Two of them: which one a plugin reads depends on its parser, so neither counts.
    lookup(R"({"student_id":"2023010001","student_id":"2023010002"})", "student_id", MemberLookup::Repeated);
    lookup(R"({"student_id":"2023010001","student\u005fid":"2023010002"})", "student_id", MemberLookup::Repeated);
    for (const char* text : {"[]", R"("student_id")", "", "{", R"({"student_id":"a"} x)", "nul"})
        lookup(text, "student_id", MemberLookup::NotObject);
    lookup(std::string("{\"student_id\":\"a\"}\0{", 20), "student_id", MemberLookup::NotObject);
    // Hostile depth is walked without recursion.
    lookup("{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}", "student_id", MemberLookup::Missing);
}

AccessPolicy studentSelfOrClerk() {
    AccessPolicy p;
    p.declared = true;
    p.audiences = {"student"};
    p.self = "student_id";
    p.roles = {"dept:testing:clerk"};
    return p;
}

std::string refusal(const AccessPolicy& p, const Caller& c, std::string_view input) {
    return p.refusal(c.actingFor.empty() ? c.subject : c.actingFor, c.roles, c.audiences, input);
}

TEST(AccessPolicy, OneRuleRolesElseAudienceAndSelf) {
    auto p = studentSelfOrClerk();
    const std::string own = R"({"student_id":"2023010001"})";
    EXPECT_EQ(refusal(p, kStudentByAudience, own), "");
    EXPECT_EQ(refusal(p, kPortalForStudent, own), "") << "self is the person acted for";
    EXPECT_EQ(refusal(p, kClerk, R"({"student_id":"anyone"})"), "") << "a role needs no self";
    EXPECT_EQ(refusal(p, kClerk, "[]"), "");
    EXPECT_NE(refusal(p, kOtherStudent, own).find("takes only the caller's own id as 'student_id'"), std::string::npos);
    EXPECT_NE(refusal(p, kStudentByAudience, R"({"student_id":2023010001})").find("needs 'student_id'"), std::string::npos);
    EXPECT_NE(refusal(p, kStudentByAudience, "{}").find("needs 'student_id'"), std::string::npos);
    EXPECT_NE(refusal(p, kStudentByAudience, R"({"student_id":"2023010001","student_id":"x"})").find("more than once"),
              std::string::npos);
    EXPECT_NE(refusal(p, kPortalForStudent, R"({"student_id":"portal-backend"})").find("own id"), std::string::npos);
    EXPECT_NE(refusal(p, kTeacher, R"({"student_id":"T1998001"})").find("the caller has none of them"),
              std::string::npos);
    EXPECT_NE(refusal(p, kAdmin, own).find("audiences student (self student_id); roles dept:testing:clerk"),
              std::string::npos);
    EXPECT_NE(refusal(p, kNobody, own).find("authenticated caller"), std::string::npos);
    Caller noAudience{"2023010001", {}, "", {}};
    EXPECT_NE(refusal(p, noAudience, own), "");

    AccessPolicy any;
    any.declared = any.anyAudience = true;
    EXPECT_EQ(refusal(any, kStudentByAudience, "not even json"), "");
    EXPECT_EQ(refusal(any, noAudience, "{}"), "");
    EXPECT_NE(refusal(any, kNobody, "{}"), "");
    any.disabled = true;
    EXPECT_NE(refusal(any, kAdmin, "{}").find("disabled"), std::string::npos);

    AccessPolicy none;
    EXPECT_NE(refusal(none, kAdmin, "{}").find("declares no access policy; see docs/sdk/abi-reference.md"),
              std::string::npos);
}

// A folder of its own holding only a manifest, for readManifest.
class ManifestPolicyTest : public ::testing::Test {
protected:
    void SetUp() override { root_.createDirectories(); }
    std::string read(const std::string& operations) {
        std::string path = root_.path() + "/plugin.xml";
        std::ofstream(path) << "<plugin xmlns=\"urn:campushub:plugin:1\" name=\"p\" version=\"1.0.0\" abi=\"1.0\" "
                               "library=\"libp.so\">\n<operations>\n"
                            << operations << "\n</operations></plugin>\n";
        try {
            manifest_ = readManifest(path);
            return "(accepted)";
        } catch (const ManifestError& e) {
            return e.what();
        }
    }
    Poco::TemporaryFile root_;
    Manifest manifest_;
};

TEST_F(ManifestPolicyTest, ReadsPoliciesAndNamesLineAndFieldOfMistakes) {
    ASSERT_EQ(read("<operation name=\"a\" audiences=\"student teacher\" roles=\"dept:x:clerk hub:admin\" "
                   "self=\"student_id\">说明</operation>\n<operation name=\"b\" access=\"authenticated\"/>\n"
                   "<operation name=\"c\"/>"),
              "(accepted)");
    const auto* a = manifest_.findOperation("a");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->access.declared);
    EXPECT_EQ(a->access.audiences, (std::vector<std::string>{"student", "teacher"}));
    EXPECT_EQ(a->access.roles, (std::vector<std::string>{"dept:x:clerk", "hub:admin"}));
    EXPECT_EQ(a->access.self, "student_id");
    EXPECT_EQ(a->description, "说明");
    EXPECT_TRUE(manifest_.findOperation("b")->access.anyAudience);
    EXPECT_FALSE(manifest_.findOperation("c")->access.declared) << "an old manifest still loads; its calls are refused";

    auto error = read("<operation name=\"a\" access=\"authenticated\" audiences=\"student\"/>");
    EXPECT_NE(error.find("plugin.xml:3: operation[@name=a]: access=\"authenticated\" already admits"),
              std::string::npos)
        << error;
    error = read("<operation name=\"a\"/>\n<operation name=\"b\" self=\"student_id\" roles=\"hub:admin\"/>");
    EXPECT_NE(error.find("plugin.xml:4: operation[@name=b]: self binds"), std::string::npos) << error;
    // The schema's part: names, lists, values.
    for (const char* bad : {"audiences=\"students\"", "audiences=\"\"", "roles=\"\"", "roles=\"hub:admin 管理员\"",
                            "roles=\"-x\"", "self=\"1st\"", "self=\"a.b\"", "access=\"anyone\""}) {
        error = read(std::string("<operation name=\"a\" ") + bad + "/>");
        EXPECT_NE(error.find("plugin.xml:3:"), std::string::npos) << bad << ": " << error;
    }
}

// webhook="true": the vendor's signed callbacks only (core/api WebhookRoutes);
// alone, and never admitted through the ordinary policy check.
TEST_F(ManifestPolicyTest, WebhookOperationsStandAlone) {
    ASSERT_EQ(read("<operation name=\"a\" webhook=\"true\">回调</operation>\n<operation name=\"b\" webhook=\"false\" "
                   "roles=\"hub:admin\"/>"),
              "(accepted)");
    const auto* a = manifest_.findOperation("a");
    ASSERT_TRUE(a);
    EXPECT_TRUE(a->access.webhook);
    EXPECT_TRUE(a->access.declared);
    EXPECT_NE(a->access.refusal("admin", {"hub:admin"}, {"staff"}, "{}").find("is a webhook"), std::string::npos);
    EXPECT_FALSE(manifest_.findOperation("b")->access.webhook);
    for (const char* with : {"roles=\"hub:admin\"", "audiences=\"student\"", "access=\"authenticated\""}) {
        auto error = read(std::string("<operation name=\"a\" webhook=\"true\" ") + with + "/>");
        EXPECT_NE(error.find("plugin.xml:3: operation[@name=a]: a webhook is called only by the vendor"),
                  std::string::npos)
            << with << ": " << error;
    }
    EXPECT_NE(read("<operation name=\"a\" webhook=\"yes\"/>").find("plugin.xml:3:"), std::string::npos);
}

// Installs testkit with its operations' policies replaced, and calls it.
class PolicyHostTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        root_.createDirectories();
        dir_ = root_.path() + "/plugins";
        fs::create_directories(dir_);
        fs::copy(kTestPlugins + "/testkit", dir_ + "/testkit", fs::copy_options::recursive);
        std::ifstream in(dir_ + "/testkit/plugin.xml");
        std::stringstream text;
        text << in.rdbuf();
        std::string xml = text.str();
        auto policy = [&xml](const std::string& op, const std::string& attributes) {
            std::string from = "<operation name=\"" + op + "\" access=\"authenticated\">";
            auto at = xml.find(from);
            ASSERT_NE(at, std::string::npos) << from;
            xml.replace(at, from.size(), "<operation name=\"" + op + "\"" + attributes + ">");
        };
        policy("echo", " audiences=\"student\" self=\"student_id\" roles=\"dept:testing:clerk\"");
        policy("sleep", " roles=\"hub:admin\"");
        policy("fail", "");  // no policy: as a manifest from before policies
        policy("config", " audiences=\"teacher staff\"");
        std::ofstream(dir_ + "/testkit/plugin.xml") << xml;
    }

    std::unique_ptr<PluginHost> makeHost(const std::string& operations = "") {
        std::istringstream in("<plugins><plugin name=\"testkit\"><isolation>" + GetParam() + "</isolation>" +
                              operations + "</plugin></plugins>");
        config_ = new Poco::Util::XMLConfiguration(in);
        PluginHost::Options o;
        o.pluginsDir = dir_;
        o.config = config_;
        o.process.workerExecutable = HUB_PLUGIN_WORKER;
        o.process.logLevel = "warning";
        auto host = std::make_unique<PluginHost>(o);
        host->loadAll();
        return host;
    }

    struct Outcome {
        PluginHost::Submit submit;
        std::string refusal;
        CallResult result;
    };

    static Outcome call(PluginHost& host, const std::string& op, const std::string& input, const Caller& caller) {
        auto promise = std::make_shared<std::promise<CallResult>>();
        auto answer = promise->get_future();
        Outcome out;
        out.submit = host.submit(
            "testkit", op, input, caller, Clock::now() + std::chrono::seconds(10),
            [promise](CallResult r) { promise->set_value(std::move(r)); }, &out.refusal);
        if (out.submit == PluginHost::Submit::Accepted) {
            out.result = answer.get();
        } else {
            // done is not called for a refused call: the plugin never saw it.
            EXPECT_EQ(answer.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
        }
        return out;
    }

    static std::uint64_t callsSeen(const PluginHost& host) {
        for (const auto& s : host.list())
            if (s.name == "testkit") return s.calls;
        return 0;
    }

    Poco::TemporaryFile root_;
    std::string dir_;
    Poco::AutoPtr<Poco::Util::XMLConfiguration> config_;
};

TEST_P(PolicyHostTest, RefusesBeforeThePluginRuns) {
    auto host = makeHost();
    ASSERT_TRUE(host->has("testkit")) << (host->refusals().empty() ? "" : host->refusals()[0].reason);
    ASSERT_EQ(host->list()[0].isolation, GetParam());
    using S = PluginHost::Submit;
    struct Row {
        const char* op;
        std::string input;
        const Caller& caller;
        S expected;
        const char* because;  // part of the refusal
    };
    const std::string own = R"({"student_id":"2023010001"})";
    const std::vector<Row> rows = {
        {"echo", own, kStudentByAudience, S::Accepted, ""},
        {"echo", own, kPortalForStudent, S::Accepted, ""},
        {"echo", R"({"student_id":"2023010002"})", kClerk, S::Accepted, ""},
        {"echo", R"({"student_id":"2023010002"})", kStudentByAudience, S::Forbidden, "own id as 'student_id'"},
        {"echo", own, kOtherStudent, S::Forbidden, "own id"},
        {"echo", R"({"student_id":2023010001})", kStudentByAudience, S::Forbidden, "needs 'student_id'"},
        {"echo", "{}", kStudentByAudience, S::Forbidden, "needs 'student_id'"},
        {"echo", "[]", kStudentByAudience, S::Forbidden, "needs 'student_id'"},
        {"echo", R"({"student_id":"2023010001","student_id":"2023010002"})", kStudentByAudience, S::Forbidden, "more than once"},
        {"echo", R"({"student\u005fid":"2023010002"})", kStudentByAudience, S::Forbidden, "own id"},
        {"echo", R"({"x":{"student_id":"2023010001"},"student_id":"2023010002"})", kStudentByAudience, S::Forbidden, "own id"},
        {"echo", R"({"student_id":"portal-backend"})", kPortalForStudent, S::Forbidden, "own id"},
        {"echo", R"({"student_id":"T1998001"})", kTeacher, S::Forbidden, "the caller has none of them"},
        {"echo", R"({"student_id":"admin"})", kAdmin, S::Forbidden, "the caller has none of them"},
        {"sleep", R"({"ms":1})", kAdmin, S::Accepted, ""},
        {"sleep", R"({"ms":1})", kStudentByAudience, S::Forbidden, "is for roles hub:admin"},
        {"config", R"({"key":"greeting"})", kTeacher, S::Accepted, ""},
        {"config", R"({"key":"greeting"})", kStudentByAudience, S::Forbidden, "audiences teacher staff"},
        {"fail", R"({"status":6})", kAdmin, S::Forbidden,
         "operation fail of plugin testkit declares no access policy; see docs/sdk/abi-reference.md"},
        {"caller", "{}", kStudentByAudience, S::Accepted, ""},
        {"caller", "{}", kNobody, S::Forbidden, "needs an authenticated caller"},
    };
    std::uint64_t accepted = 0;
    for (const auto& row : rows) {
        SCOPED_TRACE(std::string(row.op) + " " + row.input + " as '" + row.caller.subject + "'");
        auto out = call(*host, row.op, row.input, row.caller);
        EXPECT_EQ(out.submit, row.expected) << out.refusal;
        if (row.expected == S::Accepted) {
            ++accepted;
            EXPECT_NE(out.result.status, CH_ERR_PERMISSION) << out.result.body;
        } else {
            EXPECT_NE(out.refusal.find(row.because), std::string::npos) << out.refusal;
            EXPECT_EQ(out.refusal.rfind(std::string("operation ") + row.op + " of plugin testkit ", 0), 0u)
                << out.refusal;
        }
    }
    EXPECT_EQ(callsSeen(*host), accepted) << "a refused call reached the plugin";
    // The caller the plugin sees when a service acts for a student.
    auto seen = call(*host, "caller", "{}", kPortalForStudent);
    EXPECT_NE(seen.result.body.find(R"("acting_for":"2023010001")"), std::string::npos) << seen.result.body;
}

TEST_P(PolicyHostTest, HubConfigNarrowsDisablesAndSuppliesMissingPolicies) {
    auto host = makeHost(R"(
        <operation name="echo" roles="" />
        <operation name="caller" audiences="teacher" self="subject"/>
        <operation name="config" enabled="false"/>
        <operation name="fail" roles="hub:admin"/>)");
    ASSERT_TRUE(host->has("testkit")) << (host->refusals().empty() ? "" : host->refusals()[0].reason);
    using S = PluginHost::Submit;
    // echo: the clerks' role taken away; the student's own record stays.
    EXPECT_EQ(call(*host, "echo", R"({"student_id":"2023010002"})", kClerk).submit, S::Forbidden);
    EXPECT_EQ(call(*host, "echo", R"({"student_id":"2023010001"})", kStudentByAudience).submit, S::Accepted);
    // caller: from any signed-in caller to teachers about themselves.
    EXPECT_EQ(call(*host, "caller", R"({"subject":"2023010001"})", kStudentByAudience).submit, S::Forbidden);
    EXPECT_EQ(call(*host, "caller", R"({"subject":"T1998001"})", kTeacher).submit, S::Accepted);
    EXPECT_EQ(call(*host, "caller", R"({"subject":"2023010001"})", kTeacher).submit, S::Forbidden);
    auto disabled = call(*host, "config", R"({"key":"greeting"})", kTeacher);
    EXPECT_EQ(disabled.submit, S::Forbidden);
    EXPECT_NE(disabled.refusal.find("disabled by the operator (hub.xml)"), std::string::npos) << disabled.refusal;
    // fail had no policy: hub.xml gave it one.
    EXPECT_EQ(call(*host, "fail", R"({"status":6,"detail":"down"})", kAdmin).submit, S::Accepted);
    EXPECT_EQ(call(*host, "fail", R"({"status":6,"detail":"down"})", kStudentByAudience).submit, S::Forbidden);
    // Untouched operations keep the manifest's policy.
    EXPECT_EQ(call(*host, "sleep", R"({"ms":1})", kAdmin).submit, S::Accepted);
}

TEST_P(PolicyHostTest, HubConfigThatWidensIsRefusedAtLoadWithItsKey) {
    const std::string key = "plugins.plugin[@name=testkit].operation[@name=";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"(<operation name="echo" roles="dept:testing:clerk hub:admin"/>)",
         key + "echo][@roles]: 'hub:admin' is not among the manifest's roles"},
        {R"(<operation name="echo" audiences="student teacher"/>)",
         key + "echo][@audiences]: 'teacher' is not among the manifest's audiences"},
        {R"(<operation name="sleep" access="authenticated"/>)", key + "sleep][@access]: would admit every"},
        {R"(<operation name="echo" self="id"/>)", key + "echo][@self]: the manifest binds 'student_id'"},
        {R"(<operation name="echo" self=""/>)", key + "echo][@self]: the manifest binds 'student_id'"},
        {R"(<operation name="config" audiences="students"/>)", key + "config][@audiences]: 'students' is not"},
        {R"(<operation name="config" enabled="perhaps"/>)", key + "config][@enabled]: must be true or false"},
        {R"(<operation name="drop_table" enabled="false"/>)", key + "drop_table]: plugin testkit has no operation"},
        {R"(<operation roles="hub:admin"/>)", "plugins.plugin[@name=testkit].operation[0][@name]"},
        {R"(<operation name="fail" self="student_id"/>)", key + "fail][@self]: binds the input"},
        {R"(<operation name="echo" roles=""/><operation name="echo" roles=""/>)", key + "echo]: given twice"},
        // A typo must not pass for a tightening.
        {R"(<operation name="echo" role=""/>)", key + "echo]: changes nothing"},
        {R"(<operation name="echo"><roles></roles></operation>)", key + "echo]: give roles, audiences"},
    };
    for (const auto& [operations, expected] : cases) {
        SCOPED_TRACE(operations);
        auto host = makeHost(operations);
        EXPECT_FALSE(host->has("testkit"));
        ASSERT_EQ(host->refusals().size(), 1u);
        EXPECT_NE(host->refusals()[0].reason.find(expected), std::string::npos) << host->refusals()[0].reason;
    }
}

INSTANTIATE_TEST_SUITE_P(Isolation, PolicyHostTest, ::testing::Values("inproc", "process"),
                         [](const ::testing::TestParamInfo<std::string>& isolation) { return isolation.param; });

}  // namespace
