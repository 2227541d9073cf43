#pragma once
// What the process isolation tests share: the crashy test plugin in a real
// hub-plugin-worker, options that make its restarts quick, and small helpers.
#include "hub/host/LoadedPlugin.h"
#include "hub/host/Manifest.h"
#include "hub/host/PluginConfig.h"
#include "hub/host/PluginHost.h"
#include "hub/host/ProcessPlugin.h"
#include "hub/test/Eventually.h"

#include <campushub/plugin.h>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <signal.h>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using hub::host::CallResult;
using hub::host::Caller;
using hub::host::Clock;
using hub::host::LoadError;
using hub::host::LoadedPlugin;
using hub::host::Manifest;
using hub::host::PluginConfig;
using hub::host::PluginHost;
using hub::host::ProcessPlugin;

namespace hub::host::test {

inline const std::string kCrashyDir = HUB_CRASHY_DIR;
inline const std::string kLibrary = kCrashyDir + "/libcrashy.so";

inline Manifest crashyManifest() { return hub::host::readManifest(kCrashyDir + "/plugin.xml"); }

inline ProcessPlugin::Options testOptions() {
    ProcessPlugin::Options o;
    o.workerExecutable = HUB_PLUGIN_WORKER;
    o.concurrency = 2;
    o.backoffInitial = 10ms;
    o.backoffMax = 100ms;
    o.killGrace = 200ms;
    o.stopTimeout = 2000ms;
    o.logLevel = "warning";
    return o;
}

inline std::unique_ptr<ProcessPlugin> start(ProcessPlugin::Options o = testOptions(),
                                            const std::string& config = "{}") {
    return std::make_unique<ProcessPlugin>(crashyManifest(), kLibrary, PluginConfig::fromJson(config), std::move(o));
}

inline CallResult call(hub::host::PluginInstance& p, const std::string& op, const std::string& input = "{}",
                       std::chrono::milliseconds timeout = 10s, const Caller& caller = {"alice", {"student"}, ""}) {
    return p.invoke(op, input, caller, Clock::now() + timeout);
}

inline Poco::JSON::Object::Ptr parse(const std::string& json) {
    Poco::JSON::Parser parser;
    return parser.parse(json).extract<Poco::JSON::Object::Ptr>();
}

inline int workerPid(hub::host::PluginInstance& p) {
    CallResult r = call(p, "pid");
    EXPECT_EQ(r.status, CH_OK) << r.body;
    return r.status == CH_OK ? parse(r.body)->getValue<int>("pid") : 0;
}

inline bool processGone(int pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

/// Waits up to 20 s for something the supervisor does in the background.
template <class Predicate>
bool eventually(Predicate done) {
    return hub::test::waitUntil(done, 20s, 10ms);
}

}  // namespace hub::host::test
