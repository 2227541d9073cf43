// Every program we ship answers --help and --version on stdout and exits 0,
// without starting anything (issue 20: the peers' --help started the peer on
// its default endpoint).
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <sys/wait.h>
#include <vector>

namespace {

struct Program {
    const char* name;
    const char* path;
    const char* version;  // what --version must say after the name
};

const std::vector<Program> programs = {
    {"hub-portal-consumer", PORTAL_CONSUMER_EXE, "(CampusHub) " HUB_PROJECT_VERSION},
    {"hub-approval-engine", APPROVAL_ENGINE_EXE, "(CampusHub) " HUB_PROJECT_VERSION},
    {"hubctl", HUBCTL_EXE, "(CampusHub) " HUB_PROJECT_VERSION},
    {"hub-plugin-worker", PLUGIN_WORKER_EXE, "(CampusHub) " HUB_PROJECT_VERSION},
    {"hub-sim-student-affairs", SIM_STUDENT_AFFAIRS_EXE, "(CampusHub) " HUB_PROJECT_VERSION},
    {"campushub-conformance", CONFORMANCE_EXE, "(CampusHub SDK) " HUB_SDK_VERSION},
};

struct Outcome {
    int exitCode = -1;  // 124: still running after the time limit (timeout(1))
    std::string out;    // stdout only
};

// Runs `path flag` with stderr discarded, ended by timeout(1) if it does not exit.
Outcome run(const std::string& path, const std::string& flag) {
    std::string command = "timeout -s KILL 20 '" + path + "' " + flag + " 2>/dev/null";
    Outcome r;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return r;
    std::array<char, 4096> buffer{};
    std::size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.out.append(buffer.data(), n);
    int status = ::pclose(pipe);
    r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

// Holds a loopback port for the test's duration, if it is free: a program that
// tried to bind it would fail (and so not exit 0).
std::optional<Poco::Net::ServerSocket> hold(int port) {
    try {
        return Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
    } catch (const Poco::Exception&) {
        return std::nullopt;  // someone else's; the exit code and output still tell
    }
}

}  // namespace

TEST(ProgramOptions, HelpPrintsUsageAndExits) {
    // The peers' default ports (portal 5601, engine 5602).
    auto portal = hold(5601);
    auto engine = hold(5602);
    for (const auto& p : programs) {
        for (const char* flag : {"--help", "-h"}) {
            Outcome r = run(p.path, flag);
            EXPECT_EQ(r.exitCode, 0) << p.name << " " << flag << " (124: it did not exit)\n" << r.out;
            EXPECT_NE(r.out.find("usage"), std::string::npos) << p.name << " " << flag << ":\n" << r.out;
            EXPECT_NE(r.out.find(p.name), std::string::npos) << p.name << " " << flag << ":\n" << r.out;
            EXPECT_EQ(r.out.find("listening"), std::string::npos) << p.name << " started:\n" << r.out;
        }
    }
    // Nothing took the ports: they are still the test's.
    if (portal) {
        EXPECT_EQ(portal->address().port(), 5601);
    }
    if (engine) {
        EXPECT_EQ(engine->address().port(), 5602);
    }
}

TEST(ProgramOptions, VersionIsTheProjectVersion) {
    auto portal = hold(5601);
    auto engine = hold(5602);
    for (const auto& p : programs) {
        Outcome r = run(p.path, "--version");
        EXPECT_EQ(r.exitCode, 0) << p.name << " (124: it did not exit)\n" << r.out;
        EXPECT_EQ(r.out.rfind(std::string(p.name) + " " + p.version, 0), 0u) << p.name << ":\n" << r.out;
        EXPECT_EQ(r.out.find("listening"), std::string::npos) << p.name << " started:\n" << r.out;
    }
}
