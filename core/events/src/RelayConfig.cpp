#include "hub/events/RelayConfig.h"

#include <Poco/Exception.h>
#include <Poco/StringTokenizer.h>

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

bool ConsumerConfig::wants(const std::string& type) const {
    if (types.empty()) return true;
    for (const auto& prefix : types)
        if (type.compare(0, prefix.size(), prefix) == 0) return true;
    return false;
}

RelayConfig RelayConfig::fromConfiguration(const Poco::Util::AbstractConfiguration& c) {
    RelayConfig r;
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
        cc.serverPublicKeyFile = c.getString(base + "serverPublicKeyFile", "");
        r.consumers.push_back(std::move(cc));
    }
    r.publishEndpoint = c.getString("publish.endpoint", "");
    r.inboundEndpoint = c.getString("inbound.endpoint", "");
    if (c.has("inbound.types")) r.inboundTypes = commaList(c.getString("inbound.types"));
    try {
        r.curve.enabled = c.getBool("curve.enabled", false);
    } catch (const Poco::SyntaxException&) {
        throw Poco::InvalidArgumentException("events.curve.enabled is not a boolean: '" +
                                             c.getString("curve.enabled", "") + "'");
    }
    r.curve.publicKeyFile = c.getString("curve.publicKeyFile", "");
    r.curve.secretKeyFile = c.getString("curve.secretKeyFile", "");
    r.curve.authorizedKeysFile = c.getString("curve.authorizedKeysFile", "");
    r.pollIntervalMs = intKey(c, "relay.pollIntervalMs", r.pollIntervalMs);
    int batch = intKey(c, "relay.batchSize", static_cast<int>(r.batchSize));
    requireRange("relay.batchSize", batch, 1, 100000);
    r.batchSize = static_cast<std::size_t>(batch);
    r.flushIntervalMs = intKey(c, "relay.flushIntervalMs", r.flushIntervalMs);
    int maxBytes = intKey(c, "relay.maxEventBytes", static_cast<int>(r.maxEventBytes));
    requireRange("relay.maxEventBytes", maxBytes, 1024, 64 * 1024 * 1024);
    r.maxEventBytes = static_cast<std::size_t>(maxBytes);
    r.retentionHours = intKey(c, "relay.retentionHours", r.retentionHours);
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
        if (curve.enabled && cc.serverPublicKeyFile.empty())
            throw Poco::InvalidArgumentException(base + "serverPublicKeyFile is required with CURVE");
    }
    for (const auto& t : inboundTypes)
        if (!isKnownEventType(t))
            throw Poco::InvalidArgumentException("events.inbound.types: unknown event type '" + t + "'");
    requireRange("relay.pollIntervalMs", pollIntervalMs, 1, 60000);
    requireRange("relay.flushIntervalMs", flushIntervalMs, 0, 60000);
    requireRange("relay.retentionHours", retentionHours, 0, 24 * 365 * 10);
    if (curve.enabled) {
        if (curve.publicKeyFile.empty() || curve.secretKeyFile.empty())
            throw Poco::InvalidArgumentException(
                "events.curve.publicKeyFile and events.curve.secretKeyFile are required with CURVE");
        if ((!inboundEndpoint.empty() || !publishEndpoint.empty()) && curve.authorizedKeysFile.empty())
            throw Poco::InvalidArgumentException(
                "events.curve.authorizedKeysFile is required with CURVE on the inbound or publish socket");
    }
}

}  // namespace hub::events
