#pragma once

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

protected:
    void initialize(Poco::Util::Application& self) override;
    void defineOptions(Poco::Util::OptionSet& options) override;
    void handleConfig(const std::string& name, const std::string& value);
    void handleHelp(const std::string& name, const std::string& value);
    void handleDefine(const std::string& name, const std::string& value);
    int main(const std::vector<std::string>& args) override;

private:
    std::string configFile_;
    std::vector<std::pair<std::string, std::string>> defines_;
    bool helpRequested_ = false;
};

}  // namespace hub::app
