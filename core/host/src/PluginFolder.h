#pragma once
// Private to core/host.

#include <string>
#include <vector>

namespace hub::host {

/// The plugins folder on disk (plugins.dir): which plugins it holds, a stamp of
/// each one's files, and private copies of libraries for reloads.
///
/// A plugin is a subfolder with a plugin.xml. Its stamp is the inode, size and
/// modification time of the manifest and of the library the manifest names:
/// files renamed into place, as installers should, change it, so a rescan sees
/// the new version. A reload of an in-process plugin loads a shadow copy of its
/// library (dlopen hands back the library it already has for a path it knows);
/// the copies live in a private temporary folder, removed with this object.
/// Not thread-safe: the host uses it under its reload mutex.
class PluginFolder {
public:
    explicit PluginFolder(std::string configured);
    ~PluginFolder();

    PluginFolder(const PluginFolder&) = delete;
    PluginFolder& operator=(const PluginFolder&) = delete;

    /// The folder as configured, for messages.
    const std::string& configured() const { return configured_; }
    /// The folder with symlinks resolved; empty when it does not exist.
    const std::string& path() const { return path_; }

    /// The manifests of the plugins in it, sorted: a stable, predictable load order.
    std::vector<std::string> manifests() const;
    /// Whether a resolved path lies inside the folder (only code there may run).
    bool contains(const std::string& resolved) const;

    /// The stamp of a plugin whose library (resolved) is known.
    static std::string stamp(const std::string& manifestPath, const std::string& library);
    /// The stamp of a plugin as its folder is now: the manifest, and the library
    /// it names if it can be read.
    static std::string stamp(const std::string& manifestPath);

    /// Copies library to a path of its own (a shadow copy) for loading beside the
    /// version running from library; the caller removes it once loaded (the
    /// mapping stays). Throws std::runtime_error or filesystem_error.
    std::string shadowCopy(const std::string& library, const std::string& fileName);

    /// path with symlinks resolved, or "" when it does not exist.
    static std::string realPath(const std::string& path);

private:
    std::string configured_;
    std::string path_;
    std::string shadowDir_;  // made with the first shadow copy
    unsigned shadowCopies_ = 0;
};

}  // namespace hub::host
