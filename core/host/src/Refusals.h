#pragma once
// Private to core/host.

#include "hub/host/PluginHost.h"

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hub::host {

class PluginFolder;

/// The plugins the host could not load, one per manifest path with the latest
/// reason and the stamp of the plugin's files when refused: a rescan tries a
/// refused plugin again only once its files change, and a reason is logged once,
/// not at every rescan. Thread-safe.
class Refusals {
public:
    /// Records the refusal and logs it when it is news (a new path or another
    /// reason). stamp "" means: try again at every rescan (the files do not say
    /// when the reason goes, e.g. a name already loaded).
    void refuse(const std::string& path, const std::string& reason, const std::string& stamp);
    /// Records it without logging (the caller has); true when it is news.
    bool record(const std::string& path, const std::string& reason, const std::string& stamp);
    /// The plugin at path loaded: its refusal is no longer true.
    void forget(const std::string& path);
    /// Drops the refusals of plugins in folder whose manifest is no longer among
    /// manifests.
    void forgetGone(const PluginFolder& folder, const std::vector<std::string>& manifests);

    struct Known {
        std::string reason;
        bool unchanged;  ///< The files are as they were when refused.
    };
    /// Whether the plugin at path was refused, and if its files (stamp) are
    /// unchanged since.
    std::optional<Known> find(const std::string& path, const std::string& stamp) const;

    std::vector<PluginHost::Refusal> list() const;

private:
    struct Refused {
        PluginHost::Refusal refusal;
        std::string stamp;
    };
    mutable std::mutex mutex_;
    std::vector<Refused> refused_;
};

}  // namespace hub::host
