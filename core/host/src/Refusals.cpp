#include "Refusals.h"

#include "PluginFolder.h"

#include <Poco/Logger.h>

#include <algorithm>

namespace hub::host {

bool Refusals::record(const std::string& path, const std::string& reason, const std::string& stamp) {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(refused_.begin(), refused_.end(), [&](const Refused& r) { return r.refusal.path == path; });
    if (it == refused_.end()) {
        refused_.push_back({{path, reason}, stamp});
        return true;
    }
    it->stamp = stamp;
    if (it->refusal.reason == reason) return false;
    it->refusal.reason = reason;
    return true;
}

void Refusals::refuse(const std::string& path, const std::string& reason, const std::string& stamp) {
    // Said once per reason: a plugin refused again for the same reason at the
    // next rescan is not news.
    if (record(path, reason, stamp)) Poco::Logger::get("hub.host").error("plugin refused: %s", reason);
}

void Refusals::forget(const std::string& path) {
    std::lock_guard lock(mutex_);
    std::erase_if(refused_, [&](const Refused& r) { return r.refusal.path == path; });
}

void Refusals::forgetGone(const PluginFolder& folder, const std::vector<std::string>& manifests) {
    std::lock_guard lock(mutex_);
    std::erase_if(refused_, [&](const Refused& r) {
        return folder.contains(r.refusal.path) &&
               std::find(manifests.begin(), manifests.end(), r.refusal.path) == manifests.end();
    });
}

std::optional<Refusals::Known> Refusals::find(const std::string& path, const std::string& stamp) const {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(refused_.begin(), refused_.end(), [&](const Refused& r) { return r.refusal.path == path; });
    if (it == refused_.end()) return std::nullopt;
    return Known{it->refusal.reason, !it->stamp.empty() && it->stamp == stamp};
}

std::vector<PluginHost::Refusal> Refusals::list() const {
    std::vector<PluginHost::Refusal> out;
    std::lock_guard lock(mutex_);
    out.reserve(refused_.size());
    for (const auto& r : refused_) out.push_back(r.refusal);
    return out;
}

}  // namespace hub::host
