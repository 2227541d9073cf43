#pragma once

#include "ReloadableConfiguration.h"

#include <Poco/AutoPtr.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/ServerApplication.h>

#include <memory>
#include <string>

namespace hub::app {

/// hubd: the daemon. Poco's ServerApplication gives --daemon, --pidfile and
/// --umask, signal handling (SIGINT/SIGTERM end waitForTerminationRequest) and
/// the logging/config plumbing; this class adds --config and the start/stop
/// order of the hub's parts.
class HubApplication : public Poco::Util::ServerApplication {
public:
    HubApplication();
    ~HubApplication() override;

    /// Call first thing in main(), before any thread exists (threads inherit
    /// the signal mask): blocks SIGTERM, SIGINT, SIGQUIT and SIGHUP in every
    /// thread, so that only the main thread's wait takes them (SIGHUP: a
    /// reload) and a second stop signal during the drain stays pending instead
    /// of ending hubd before the audit flush; and ignores SIGPIPE (a peer gone
    /// is an error code, not the end of hubd).
    static void prepareSignals();

protected:
    void initialize(Poco::Util::Application& self) override;
    void defineOptions(Poco::Util::OptionSet& options) override;
    void handleConfig(const std::string& name, const std::string& value);
    void handleHelp(const std::string& name, const std::string& value);
    void handleVersion(const std::string& name, const std::string& value);
    void handleDefine(const std::string& name, const std::string& value);
    int main(const std::vector<std::string>& args) override;

private:
    std::string configFile_;
    // The configuration's own layers, kept for a reload (Reloader).
    Poco::AutoPtr<Poco::Util::MapConfiguration> defaults_;
    Poco::AutoPtr<ReloadableConfiguration> file_;
    Poco::AutoPtr<Poco::Util::MapConfiguration> overrides_;
    std::vector<std::pair<std::string, std::string>> defines_;
    bool helpRequested_ = false;
    bool versionRequested_ = false;
    std::string loggingError_;  // a bad logging.* key, reported once logging works
};

}  // namespace hub::app
