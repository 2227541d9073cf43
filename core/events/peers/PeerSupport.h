#pragma once
// Small helpers shared by the reference peers (not part of the hub::events API).

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
