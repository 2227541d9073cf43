// The conformance kit must notice each way a plugin can break the contract:
// campushub-conformance runs on a test plugin that misbehaves on purpose (its
// config "mode" picks how) and must fail, naming what went wrong, and keep
// going after a crash; on a plugin that keeps the contract it must pass.
#include <campushub/testing/conformance.hpp>

#include "hub/test/TempDir.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct ProgramRun {
    int exitCode = -1;  ///< -1: killed after the timeout; 128 + n: ended by signal n
    std::string output;
};

// Runs a program to its end and collects all it wrote (stdout and stderr).
ProgramRun run(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(180)) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return {};
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(fds[1], 1);
        ::dup2(fds[1], 2);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    ProgramRun result;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool killed = false;
    for (;;) {
        pollfd p{fds[0], POLLIN, 0};
        if (::poll(&p, 1, 200) > 0) {
            char chunk[65536];
            ssize_t n = ::read(fds[0], chunk, sizeof chunk);
            if (n <= 0) break;
            result.output.append(chunk, static_cast<std::size_t>(n));
        }
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            killed = true;
            break;
        }
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!killed) result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

ProgramRun conformance(std::vector<std::string> args) {
    args.insert(args.begin(), CONFORMANCE_PROGRAM);
    return run(std::move(args));
}

ProgramRun misbehaving(const std::string& mode, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--config", "mode=" + mode};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(MISBEHAVING_PLUGIN);
    return conformance(std::move(args));
}

bool has(const std::string& output, const std::string& text) { return output.find(text) != std::string::npos; }

}  // namespace

TEST(ConformanceKit, PassesAPluginThatKeepsTheContract) {
    ProgramRun r = misbehaving("good");
    EXPECT_EQ(r.exitCode, 0) << r.output;
    EXPECT_TRUE(has(r.output, "[  PASSED  ]")) << r.output;
}

TEST(ConformanceKit, PassesTheReferencePlugin) {
    ProgramRun r = conformance({REFERENCE_PLUGIN});
    EXPECT_EQ(r.exitCode, 0) << r.output;
    EXPECT_TRUE(has(r.output, "config base_url = http://conformance.invalid/ (placeholder)")) << r.output;
}

TEST(ConformanceKit, ReportsACrashAndKeepsGoing) {
    ProgramRun r = misbehaving("crash");
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_TRUE(has(r.output, "the plugin CRASHED: signal 11")) << r.output;
    EXPECT_TRUE(has(r.output, "[  FAILED  ] Operation.echo/not_json")) << r.output;
    // The run went on after the crashes: the later suites ran and passed.
    EXPECT_TRUE(has(r.output, "[       OK ] Health.AnswersStatus")) << r.output;
    EXPECT_TRUE(has(r.output, "[       OK ] Operation.echo/empty_object")) << r.output;
}

TEST(ConformanceKit, ReportsAbortAndExit) {
    ProgramRun aborted = misbehaving("abort", {"--gtest_filter=Operation.echo/deep_array_100000"});
    EXPECT_EQ(aborted.exitCode, 1) << aborted.output;
    EXPECT_TRUE(has(aborted.output, "signal 6")) << aborted.output;
    ProgramRun exited = misbehaving("exit", {"--gtest_filter=Operation.echo/truncated"});
    EXPECT_EQ(exited.exitCode, 1) << exited.output;
    EXPECT_TRUE(has(exited.output, "ended the process (exit status 3)")) << exited.output;
}

TEST(ConformanceKit, ReportsAHang) {
    ProgramRun r = misbehaving("hang", {"--timeout", "2", "--gtest_filter=Operation.echo/not_json"});
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_TRUE(has(r.output, "did not answer within 2 s")) << r.output;
}

TEST(ConformanceKit, ReportsOkAnswersToMalformedInput) {
    ProgramRun r = misbehaving("accept");
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_TRUE(has(r.output, "[  FAILED  ] Operation.echo/invalid_utf8_in_string")) << r.output;
    EXPECT_TRUE(has(r.output, "[  FAILED  ] Operation.echo/embedded_nul")) << r.output;
    EXPECT_TRUE(has(r.output, "must get an error status")) << r.output;
}

TEST(ConformanceKit, ReportsAnswersGivenTwiceOrNever) {
    ProgramRun twice = misbehaving("twice", {"--gtest_filter=Operation.echo/not_json"});
    EXPECT_EQ(twice.exitCode, 1) << twice.output;
    EXPECT_TRUE(has(twice.output, "answered its sink 2 times")) << twice.output;
    ProgramRun silent = misbehaving("silent", {"--gtest_filter=Operation.echo/not_json"});
    EXPECT_EQ(silent.exitCode, 1) << silent.output;
    EXPECT_TRUE(has(silent.output, "answered its sink 0 times")) << silent.output;
}

TEST(ConformanceKit, ReportsADescriptionThatDiffersFromTheManifest) {
    ProgramRun r = misbehaving("describe", {"--gtest_filter=Describe.*"});
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_TRUE(has(r.output, "describe says version \"0.9.0\"")) << r.output;
    EXPECT_TRUE(has(r.output, "describes operation \"extra\"")) << r.output;
}

TEST(ConformanceKit, ReportsAKeyOrTraceThatIsNotTheCalls) {
    ProgramRun r = misbehaving("wrong_context", {"--gtest_filter=Operation.echo/PassesTheCallsKeyAndTraceOn"});
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_TRUE(has(r.output, "sent Idempotency-Key 'made-up-key'")) << r.output;
    EXPECT_TRUE(has(r.output, "not of the call's trace")) << r.output;
    ProgramRun good = misbehaving("good", {"--gtest_filter=Operation.echo/PassesTheCallsKeyAndTraceOn"});
    EXPECT_EQ(good.exitCode, 0) << good.output;
}

TEST(ConformanceKit, ReportsARequiredServiceNoHubOfThisSdkHas) {
    ProgramRun r = conformance({"--gtest_filter=Abi.*", FUTURE_MISSING_PLUGIN});
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_TRUE(has(r.output, "required_services names 'blob_store'")) << r.output;
}

TEST(ConformanceKit, ReportsABadHealthAnswer) {
    ProgramRun r = misbehaving("health", {"--gtest_filter=Health.*"});
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_TRUE(has(r.output, "\"status\" must be \"up\", \"degraded\" or \"down\"")) << r.output;
}

TEST(ConformanceKit, ReportsHeapGrowthOverCreateDestroyCycles) {
    ProgramRun r = misbehaving("leak", {"--gtest_filter=Lifecycle.*"});
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_TRUE(has(r.output, "heap in use grew by")) << r.output;
}

TEST(ConformanceKit, ValgrindFindsTheLeakInProcess) {
    std::string valgrind = VALGRIND_PROGRAM;
    if (valgrind.empty()) GTEST_SKIP() << "valgrind is not installed";
    ProgramRun r = run({valgrind, "--leak-check=full", "--error-exitcode=42", CONFORMANCE_PROGRAM, "--no-fork",
                 "--cycles", "10", "--gtest_filter=Lifecycle.CreateDestroy*", "--config", "mode=leak",
                 MISBEHAVING_PLUGIN});
    EXPECT_EQ(r.exitCode, 42) << r.output;
    EXPECT_TRUE(has(r.output, "definitely lost")) << r.output;
}

TEST(ConformanceKit, ReportsABrokenManifestWithFileAndLine) {
    hub::test::TempDir dir("sdk-conformance");
    dir.write("plugin.xml", "<?xml version=\"1.0\"?>\n<plugin xmlns=\"urn:campushub:plugin:1\" "
                            "name=\"Bad Name\" version=\"1.0.0\" abi=\"1.0\" library=\"libx.so\">\n"
                            "  <operations><operation name=\"a\"/></operations>\n</plugin>\n");
    ProgramRun r = conformance({dir.path()});
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_TRUE(has(r.output, dir.path() + "/plugin.xml:2: plugin/@name")) << r.output;
    EXPECT_TRUE(has(r.output, "[  FAILED  ] Manifest.IsValid")) << r.output;
    EXPECT_TRUE(has(r.output, "1 FAILED TEST")) << "only the manifest check runs: " << r.output;
}

TEST(ConformanceKit, ReportsEachOperationWithoutAnAccessPolicy) {
    hub::test::TempDir dir("sdk-conformance");
    dir.write("plugin.xml", "<plugin xmlns=\"urn:campushub:plugin:1\" name=\"old\" version=\"1.0.0\" abi=\"1.0\" "
                            "library=\"libold.so\"><operations>\n<operation name=\"a\">旧</operation>\n"
                            "<operation name=\"b\" roles=\"hub:admin\"/>\n<operation name=\"c\"/>"
                            "</operations></plugin>");
    ProgramRun r = conformance({dir.path(), "--gtest_filter=Manifest.*"});
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_TRUE(has(r.output, "[       OK ] Manifest.IsValid")) << "an old manifest is still valid: " << r.output;
    EXPECT_TRUE(has(r.output, "[  FAILED  ] Manifest.EveryOperationHasAnAccessPolicy")) << r.output;
    EXPECT_TRUE(has(r.output, "operation a declares no access policy")) << r.output;
    EXPECT_TRUE(has(r.output, "operation c declares no access policy")) << r.output;
    EXPECT_FALSE(has(r.output, "operation b declares")) << r.output;
    // The reference plugin and the well-behaved test plugin declare theirs.
    EXPECT_EQ(conformance({REFERENCE_PLUGIN, "--gtest_filter=Manifest.*"}).exitCode, 0);
}

TEST(ConformanceKit, ReportsAMissingLibrary) {
    hub::test::TempDir dir("sdk-conformance");
    dir.write("plugin.xml", "<plugin xmlns=\"urn:campushub:plugin:1\" name=\"ghost\" version=\"1.0.0\" abi=\"1.0\" "
                            "library=\"libghost.so\"><operations><operation name=\"a\"/></operations></plugin>");
    ProgramRun r = conformance({dir.file("plugin.xml")});
    EXPECT_EQ(r.exitCode, 1) << r.output;
    EXPECT_TRUE(has(r.output, "[       OK ] Manifest.IsValid")) << r.output;
    EXPECT_TRUE(has(r.output, "cannot load " + dir.path() + "/libghost.so")) << r.output;
    EXPECT_TRUE(has(r.output, "[  FAILED  ] Abi.LibraryLoads")) << r.output;
}

TEST(ConformanceKit, RefusesBadCommandLines) {
    EXPECT_EQ(conformance({}).exitCode, 2);
    EXPECT_EQ(conformance({"--config", "novalue", MISBEHAVING_PLUGIN}).exitCode, 2);
    EXPECT_EQ(conformance({"--bogus", MISBEHAVING_PLUGIN}).exitCode, 2);
    EXPECT_EQ(conformance({"--help"}).exitCode, 0);
}

// The manifest reader, directly: hostile and broken manifests.
TEST(PluginManifest, NamesFileLineAndFieldOfEachMistake) {
    hub::test::TempDir dir("sdk-manifest");
    auto error = [&](const std::string& xml) {
        dir.write("plugin.xml", xml);
        try {
            campushub::testing::readPluginManifest(dir.path());
            return std::string("(accepted)");
        } catch (const campushub::testing::ManifestError& e) {
            return std::string(e.what());
        }
    };
    const std::string head = "<plugin xmlns=\"urn:campushub:plugin:1\" name=\"p\" version=\"1.0.0\" abi=\"1.0\" ";
    const std::string ops = "><operations><operation name=\"a\">中文说明</operation></operations></plugin>";
    EXPECT_EQ(error(head + "library=\"libp.so\"" + ops), "(accepted)");
    EXPECT_TRUE(has(error(head + "library=\"../libp.so\"" + ops), "plugin/@library"));
    EXPECT_TRUE(has(error(head + "library=\"/tmp/libp.so\"" + ops), "plugin/@library"));
    EXPECT_TRUE(has(error(head + "library=\"libp.so\" isolation=\"thread\"" + ops), "plugin/@isolation"));
    EXPECT_TRUE(has(error("<plugin name=\"p\"/>"), "namespace must be urn:campushub:plugin:1"));
    EXPECT_TRUE(has(error("<plugin"), "not well-formed XML"));
    EXPECT_TRUE(has(error(head + "library=\"libp.so\"><operations/></plugin>"), "at least one operation"));
    EXPECT_TRUE(has(error(head + "library=\"libp.so\">\n<operations><operation name=\"a\"/>\n<operation name=\"a\"/>"
                                 "</operations></plugin>"),
                    ":3: operation/@name: duplicate operation 'a'"));
    // An entity that would read a local file: refused, never expanded.
    EXPECT_TRUE(has(error("<?xml version=\"1.0\"?><!DOCTYPE plugin [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>" +
                          head + "library=\"libp.so\"><description>&x;</description>" + ops.substr(1)),
                    "DOCTYPE is not allowed"));
    EXPECT_TRUE(has(error(head + "library=\"libp.so\"><surprise/>" + ops.substr(1)), "surprise: unknown element"));
    // Access policies: the kit reads them, and refuses what the hub refuses.
    EXPECT_EQ(error(head + "library=\"libp.so\"><operations><operation name=\"a\" audiences=\"student teacher\" "
                           "self=\"student_id\" roles=\"dept:x:clerk\"/></operations></plugin>"),
              "(accepted)");
    EXPECT_TRUE(has(error(head + "library=\"libp.so\">\n<operations><operation name=\"a\" access=\"authenticated\" "
                                 "audiences=\"student\"/></operations></plugin>"),
                    "plugin.xml:2: operation[@name=a]: access=\"authenticated\" already admits every audience"));
    EXPECT_TRUE(has(error(head + "library=\"libp.so\"><operations><operation name=\"a\" self=\"id\" roles=\"r\"/>"
                                 "</operations></plugin>"),
                    "self binds the input"));
    EXPECT_TRUE(has(error(head + "library=\"libp.so\"><operations><operation name=\"a\" audiences=\"students\"/>"
                                 "</operations></plugin>"),
                    "(plugin.xsd)"));
    // What only the hub's schema (sdk/schema/plugin.xsd) catches, the kit catches too.
    EXPECT_TRUE(has(error(head + "library=\"libp.so\"><operations><operation name=\"a\"/></operations>\n"
                                 "<config><key name=\"k\" type=\"weird\"/></config></plugin>"),
                    "plugin.xml:2: Element '{urn:campushub:plugin:1}key', attribute 'type'"));
    dir.write("plugin.xml", std::string(300 * 1024, ' '));
    EXPECT_TRUE(has(error(std::string(300 * 1024, ' ')), "larger than"));
}
