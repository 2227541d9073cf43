#include "hub/host/PluginLimits.h"

#include <Poco/Util/AbstractConfiguration.h>

namespace hub::host {

PluginLimits PluginLimits::fromConfig(const Poco::Util::AbstractConfiguration& c, const std::string& prefix,
                                      const PluginLimits& fallback) {
    using config::readInt;
    PluginLimits l = fallback;
    l.timeout =
        std::chrono::milliseconds(readInt(c, prefix + ".timeoutMs", static_cast<int>(l.timeout.count()), kTimeoutMs));
    l.concurrency =
        static_cast<std::size_t>(readInt(c, prefix + ".concurrency", static_cast<int>(l.concurrency), kConcurrency));
    l.queue = static_cast<std::size_t>(readInt(c, prefix + ".queue", static_cast<int>(l.queue), kQueue));
    l.failureThreshold = readInt(c, prefix + ".failureThreshold", l.failureThreshold, kFailureThreshold);
    l.openFor = std::chrono::milliseconds(readInt(c, prefix + ".openMs", static_cast<int>(l.openFor.count()), kOpenMs));
    std::string execution = c.getString(prefix + ".execution", l.onEventLoop ? "loop" : "workers");
    if (execution != "workers" && execution != "loop")
        throw config::ConfigError(prefix + ".execution '" + execution.substr(0, 64) + "' must be workers or loop");
    l.onEventLoop = execution == "loop";
    return l;
}

}  // namespace hub::host
