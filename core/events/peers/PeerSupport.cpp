#include "PeerSupport.h"

#include <Poco/Path.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/PropertyFileConfiguration.h>
#include <Poco/Util/XMLConfiguration.h>

#include <hub/common/Version.h>

#include <Poco/File.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

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

bool answeredHelpOrVersion(int argc, char** argv, const std::string& program, const std::string& usage) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            return true;
        }
        if (a == "--version") {
            std::cout << program << " (CampusHub) " << hub::projectVersion << "\n";
            return true;
        }
    }
    return false;
}

PeerKeys loadPeerKeys(const std::string& program, const std::string& publicKeyFile,
                      const std::string& secretKeyFile, const std::string& hubPublicKeyFile) {
    if (publicKeyFile.empty() || secretKeyFile.empty() || hubPublicKeyFile.empty())
        throw Poco::InvalidArgumentException(
            "CURVE needs the peer's key files and the hub's public key file (--public-key, --secret-key, "
            "--hub-public-key); --plaintext runs without authentication");
    PeerKeys keys;
    bool created = false;
    keys.own = hub::zmq::loadOrCreateKeyPair(publicKeyFile, secretKeyFile, &created);
    if (created) std::cerr << program << ": made a CURVE key pair in " << secretKeyFile << " and " << publicKeyFile << '\n';
    std::cout << "public-key " << keys.own.publicKey << std::endl;
    bool told = false;
    while (!Poco::File(hubPublicKeyFile).exists()) {
        if (stopRequested) throw Poco::FileNotFoundException("the hub's public key", hubPublicKeyFile);
        if (!told) {
            std::cerr << program << ": waiting for the hub's public key in " << hubPublicKeyFile
                      << " (hubd writes it at its first start)" << std::endl;
            told = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    keys.hubPublicKey = hub::zmq::readKeyFile(hubPublicKeyFile);
    return keys;
}

void warnPlaintext(const std::string& program) {
    std::cerr << program
              << ": WARNING: --plaintext: no CURVE; anyone who can reach the endpoints can talk to this peer "
                 "and read what it hears. Use it only with a hub run with events.curve.enabled = false.\n";
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
