#pragma once
// Small helpers shared by the reference peers (not part of the hub::events API).

#include <hub/zmq/Curve.h>

#include <Poco/AutoPtr.h>
#include <Poco/Util/AbstractConfiguration.h>

#include <atomic>
#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <unordered_set>

namespace hub::events::peers {

/// --key=value or --key value pairs; a bare --flag maps to "true".
std::map<std::string, std::string> parseArgs(int argc, char** argv);

/// --help and --version, answered before anything else is looked at (nothing is
/// read, bound or connected): prints `usage` (for --help) or "<program>
/// (CampusHub) <version>" on stdout. True if one of them was there: exit 0 then.
bool answeredHelpOrVersion(int argc, char** argv, const std::string& program, const std::string& usage);

/// A peer's CURVE material: its own key pair and the hub's public key.
struct PeerKeys {
    hub::zmq::CurveKeyPair own;
    std::string hubPublicKey;
};

/// Reads (or, when neither file exists, makes: secret 0600) the peer's key pair and
/// prints "public-key <Z85>" on stdout, for whoever lists the peer in hub.xml. Then
/// reads the hub's public key from `hubPublicKeyFile`, waiting for the file while it
/// does not exist yet (hubd writes it at its first start) and no stop is requested.
/// Throws if a file is unusable, or the key files are not given. `program` names
/// the peer in messages on stderr.
PeerKeys loadPeerKeys(const std::string& program, const std::string& publicKeyFile,
                      const std::string& secretKeyFile, const std::string& hubPublicKeyFile);

/// The warning a peer prints on stderr when run with --plaintext.
void warnPlaintext(const std::string& program);

/// Loads a .xml, .ini or .properties file into a configuration (empty if `path` is).
Poco::AutoPtr<Poco::Util::AbstractConfiguration> loadConfig(const std::string& path);

/// Set by SIGINT / SIGTERM.
extern std::atomic<bool> stopRequested;
void installSignalHandlers();

/// Remembers the last `capacity` ids; insert() returns false for one already seen.
/// Consumers de-duplicate by event id: at-least-once delivery repeats events.
class RecentIds {
public:
    explicit RecentIds(std::size_t capacity = 100000) : capacity_(capacity) {}
    bool insert(const std::string& id);
    bool contains(const std::string& id) const { return set_.count(id) > 0; }

private:
    std::size_t capacity_;
    std::unordered_set<std::string> set_;
    std::deque<std::string> order_;
};

}  // namespace hub::events::peers
