#include "PeerSupport.h"

#include <Poco/Path.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/PropertyFileConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <csignal>

namespace hub::events::peers {

std::atomic<bool> stopRequested{false};

namespace {
extern "C" void onSignal(int) { stopRequested = true; }
}  // namespace

void installSignalHandlers() {
    struct sigaction sa {};
    sa.sa_handler = onSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

std::map<std::string, std::string> parseArgs(int argc, char** argv) {
    std::map<std::string, std::string> out;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0) continue;
        a = a.substr(2);
        auto eq = a.find('=');
        if (eq != std::string::npos) {
            out[a.substr(0, eq)] = a.substr(eq + 1);
        } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
            out[a] = argv[++i];
        } else {
            out[a] = "true";
        }
    }
    return out;
}

Poco::AutoPtr<Poco::Util::AbstractConfiguration> loadConfig(const std::string& path) {
    if (path.empty()) return new Poco::Util::MapConfiguration;
    std::string ext = Poco::Path(path).getExtension();
    if (ext == "xml") return new Poco::Util::XMLConfiguration(path);
    if (ext == "ini") return new Poco::Util::IniFileConfiguration(path);
    return new Poco::Util::PropertyFileConfiguration(path);
}

bool RecentIds::insert(const std::string& id) {
    if (!set_.insert(id).second) return false;
    order_.push_back(id);
    if (order_.size() > capacity_) {
        set_.erase(order_.front());
        order_.pop_front();
    }
    return true;
}

}  // namespace hub::events::peers
