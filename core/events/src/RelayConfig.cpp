#include "hub/events/RelayConfig.h"

#include <hub/zmq/Curve.h>

#include <Poco/Exception.h>
#include <Poco/Path.h>
#include <Poco/StringTokenizer.h>

#include <algorithm>
#include <set>

namespace hub::events {

namespace {

std::vector<std::string> commaList(const std::string& text) {
    std::vector<std::string> out;
    Poco::StringTokenizer tok(text, ",", Poco::StringTokenizer::TOK_TRIM | Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    for (const auto& t : tok) out.push_back(t);
    return out;
}

int intKey(const Poco::Util::AbstractConfiguration& c, const std::string& key, int fallback) {
    try {
        return c.getInt(key, fallback);
    } catch (const Poco::SyntaxException&) {
        throw Poco::InvalidArgumentException("events." + key + " is not a number: '" +
                                             c.getString(key, "") + "'");
    }
}

void requireRange(const std::string& key, long long value, long long lo, long long hi) {
    if (value < lo || value > hi)
        throw Poco::InvalidArgumentException("events." + key + " = " + std::to_string(value) +
                                             " is out of range [" + std::to_string(lo) + ", " +
                                             std::to_string(hi) + "]");
}

}  // namespace

std::vector<std::string> defaultPersonalFields() {
    return {"applicant", "submitted_by", "actor",        "name",    "dn",     "emails", "phones",
            "mail",      "email",        "mobile",       "phone",   "id_number", "bank_account",
            "address",   "form",         "result",       "reason",  "comment", "decidedBy"};
}

bool ConsumerConfig::wants(const std::string& type) const {
    if (types.empty()) return true;
    for (const auto& prefix : types)
        if (type.compare(0, prefix.size(), prefix) == 0) return true;
    return false;
}

RelayConfig RelayConfig::fromConfiguration(const Poco::Util::AbstractConfiguration& c,
                                             const std::string& stateDirectory) {
    RelayConfig r;
    const std::vector<std::string> personalFields =
        c.has("masking.personalFields") ? commaList(c.getString("masking.personalFields")) : defaultPersonalFields();
    for (int i = 0;; ++i) {
        std::string base = "consumers.consumer[" + std::to_string(i) + "].";
        if (!c.has(base + "name") && !c.has(base + "endpoint")) break;
        ConsumerConfig cc;
        cc.name = c.getString(base + "name", "");
        cc.endpoint = c.getString(base + "endpoint", "");
        cc.types = commaList(c.getString(base + "types", ""));
        cc.maxAttempts = intKey(c, base + "maxAttempts", cc.maxAttempts);
        cc.ackTimeoutMs = intKey(c, base + "ackTimeoutMs", cc.ackTimeoutMs);
        cc.backoffInitialMs = intKey(c, base + "backoffInitialMs", cc.backoffInitialMs);
        cc.backoffMaxMs = intKey(c, base + "backoffMaxMs", cc.backoffMaxMs);
        int window = intKey(c, base + "window", static_cast<int>(cc.window));
        requireRange(base + "window", window, 1, 100000);
        cc.window = static_cast<std::size_t>(window);
        // Keys raw: getString() would expand a "${" that Z85 text may hold.
        cc.serverPublicKey = c.getRawString(base + "serverPublicKey", "");
        cc.serverPublicKeyFile = c.getString(base + "serverPublicKeyFile", "");
        cc.peer = c.getString(base + "peer", "");
        cc.personalData = commaList(c.getString(base + "personalData", ""));
        cc.personalFields = personalFields;
        r.consumers.push_back(std::move(cc));
    }
    // Indexed, so hub.xml (<peer name="x">) and -D overrides (peers.peer[0].publicKey)
    // read the same way.
    for (int i = 0;; ++i) {
        std::string base = "peers.peer[" + std::to_string(i) + "]";
        if (!c.has(base + "[@name]") && !c.has(base + ".name") && !c.has(base + ".publicKey") &&
            !c.has(base + ".publicKeyFile"))
            break;
        PeerConfig p;
        p.name = c.getString(base + "[@name]", c.getString(base + ".name", ""));
        p.publicKey = c.getRawString(base + ".publicKey", "");  // raw, as serverPublicKey
        p.publicKeyFile = c.getString(base + ".publicKeyFile", "");
        if (c.has(base + ".sockets")) p.sockets = commaList(c.getString(base + ".sockets"));
        r.peers.push_back(std::move(p));
    }
    r.publishEndpoint = c.getString("publish.endpoint", "");
    r.inboundEndpoint = c.getString("inbound.endpoint", "");
    if (c.has("inbound.types")) r.inboundTypes = commaList(c.getString("inbound.types"));
    try {
        r.curve.enabled = c.getBool("curve.enabled", true);
    } catch (const Poco::SyntaxException&) {
        throw Poco::InvalidArgumentException("events.curve.enabled is not a boolean: '" +
                                             c.getString("curve.enabled", "") + "'");
    }
    // An anonymous list of keys cannot say who sent a decision: refuse it rather
    // than ignore it (the operator would believe it still applies).
    if (c.has("curve.authorizedKeysFile"))
        throw Poco::InvalidArgumentException(
            "events.curve.authorizedKeysFile is no longer read: list each peer with its name and key, "
            "events.peers.peer[@name=NAME].publicKey (or .publicKeyFile)");
    std::string stateDir = stateDirectory.empty() ? std::string() : Poco::Path::forDirectory(stateDirectory).toString();
    r.curve.publicKeyFile =
        c.getString("curve.publicKeyFile", stateDirectory.empty() ? "" : stateDir + "hub-curve.pub");
    r.curve.secretKeyFile =
        c.getString("curve.secretKeyFile", stateDirectory.empty() ? "" : stateDir + "hub-curve.key");
    r.pollIntervalMs = intKey(c, "relay.pollIntervalMs", r.pollIntervalMs);
    int batch = intKey(c, "relay.batchSize", static_cast<int>(r.batchSize));
    requireRange("relay.batchSize", batch, 1, 100000);
    r.batchSize = static_cast<std::size_t>(batch);
    r.flushIntervalMs = intKey(c, "relay.flushIntervalMs", r.flushIntervalMs);
    int maxBytes = intKey(c, "relay.maxEventBytes", static_cast<int>(r.maxEventBytes));
    requireRange("relay.maxEventBytes", maxBytes, 1024, 64 * 1024 * 1024);
    r.maxEventBytes = static_cast<std::size_t>(maxBytes);
    r.retentionHours = intKey(c, "relay.retentionHours", r.retentionHours);
    r.leaseTtlMs = intKey(c, "relay.leaseTtlMs", r.leaseTtlMs);
    r.validate();
    return r;
}

void RelayConfig::validate() const {
    std::set<std::string> names;
    for (std::size_t i = 0; i < consumers.size(); ++i) {
        const auto& cc = consumers[i];
        std::string base = "events.consumers.consumer[" + std::to_string(i) + "].";
        if (cc.name.empty()) throw Poco::InvalidArgumentException(base + "name is empty");
        if (!names.insert(cc.name).second)
            throw Poco::InvalidArgumentException(base + "name '" + cc.name + "' is used twice");
        if (cc.endpoint.empty()) throw Poco::InvalidArgumentException(base + "endpoint is empty");
        requireRange(base.substr(7) + "maxAttempts", cc.maxAttempts, 1, 1000000);
        requireRange(base.substr(7) + "ackTimeoutMs", cc.ackTimeoutMs, 1, 86400000);
        requireRange(base.substr(7) + "backoffInitialMs", cc.backoffInitialMs, 0, 86400000);
        requireRange(base.substr(7) + "backoffMaxMs", cc.backoffMaxMs, cc.backoffInitialMs, 86400000);
        requireRange(base.substr(7) + "window", static_cast<long long>(cc.window), 1, 100000);
        if (!cc.serverPublicKey.empty() && !hub::zmq::isValidKey(cc.serverPublicKey))
            throw Poco::InvalidArgumentException(base + "serverPublicKey is not a 40-character Z85 key");
        // A granted field that is not personal is a typo that would leave the
        // consumer's intended field masked without a word.
        for (const auto& field : cc.personalData)
            if (field != "*" && std::find(cc.personalFields.begin(), cc.personalFields.end(), field) ==
                                    cc.personalFields.end())
                throw Poco::InvalidArgumentException(base + "personalData: '" + field +
                                                     "' is not one of events.masking.personalFields");
    }
    // Keys after the shape of every entry, so a duplicate or a bad number is
    // reported as such, not as a missing key.
    for (std::size_t i = 0; i < consumers.size(); ++i) {
        const auto& cc = consumers[i];
        std::string base = "events.consumers.consumer[" + std::to_string(i) + "]";
        std::string peerName = cc.peer.empty() ? cc.name : cc.peer;
        bool peerKnown = std::any_of(peers.begin(), peers.end(), [&](const PeerConfig& p) { return p.name == peerName; });
        if (!cc.peer.empty() && !peerKnown)
            throw Poco::InvalidArgumentException(base + ".peer '" + cc.peer + "' is not in events.peers");
        if (curve.enabled && cc.serverPublicKey.empty() && cc.serverPublicKeyFile.empty() && !peerKnown)
            throw Poco::InvalidArgumentException(
                base + " (" + cc.name + ") has no CURVE key: list it as events.peers.peer[@name=" + cc.name +
                "].publicKey, or set serverPublicKey or serverPublicKeyFile (or opt out: events.curve.enabled = false)");
    }
    std::set<std::string> peerNames, peerKeys;
    for (std::size_t i = 0; i < peers.size(); ++i) {
        const auto& p = peers[i];
        std::string base = "events.peers.peer[" + std::to_string(i) + "]";
        if (p.name.empty()) throw Poco::InvalidArgumentException(base + " has no name");
        if (!peerNames.insert(p.name).second)
            throw Poco::InvalidArgumentException(base + ": name '" + p.name + "' is used twice");
        if (p.publicKey.empty() == p.publicKeyFile.empty())
            throw Poco::InvalidArgumentException(base + " (" + p.name +
                                                 ") needs exactly one of publicKey and publicKeyFile");
        if (!p.publicKey.empty()) {
            if (!hub::zmq::isValidKey(p.publicKey))
                throw Poco::InvalidArgumentException(base + ".publicKey (" + p.name +
                                                     ") is not a 40-character Z85 key");
            if (!peerKeys.insert(p.publicKey).second)
                throw Poco::InvalidArgumentException(base + ".publicKey (" + p.name +
                                                     ") is another peer's key: each peer needs its own");
        }
        for (const auto& socket : p.sockets)
            if (socket != "inbound" && socket != "publish")
                throw Poco::InvalidArgumentException(base + ".sockets: '" + socket +
                                                     "' is neither inbound nor publish");
    }
    for (const auto& t : inboundTypes)
        if (!isKnownEventType(t))
            throw Poco::InvalidArgumentException("events.inbound.types: unknown event type '" + t + "'");
    requireRange("relay.pollIntervalMs", pollIntervalMs, 1, 60000);
    requireRange("relay.flushIntervalMs", flushIntervalMs, 0, 60000);
    requireRange("relay.retentionHours", retentionHours, 0, 24 * 365 * 10);
    requireRange("relay.leaseTtlMs", leaseTtlMs, 1000, 600000);
    bool anySocket = !consumers.empty() || !inboundEndpoint.empty() || !publishEndpoint.empty();
    if (curve.enabled && anySocket && (curve.publicKeyFile.empty() || curve.secretKeyFile.empty()))
        throw Poco::InvalidArgumentException(
            "events.curve.publicKeyFile and events.curve.secretKeyFile are required with CURVE "
            "(hubd puts them beside store.path unless told otherwise)");
}

}  // namespace hub::events
