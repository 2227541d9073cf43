#include "PluginFolder.h"

#include "hub/host/Manifest.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <dirent.h>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>

namespace hub::host {

namespace {

// Identity of what is on disk: a replaced file changes it.
std::string fileStamp(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "-";
    return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) +
           "." + std::to_string(st.st_mtim.tv_nsec);
}

}  // namespace

PluginFolder::PluginFolder(std::string configured) : configured_(std::move(configured)), path_(realPath(configured_)) {}

PluginFolder::~PluginFolder() {
    if (!shadowDir_.empty()) {
        std::error_code ignored;
        std::filesystem::remove_all(shadowDir_, ignored);
    }
}

std::string PluginFolder::realPath(const std::string& path) {
    char resolved[PATH_MAX];
    if (!::realpath(path.c_str(), resolved)) return {};
    return resolved;
}

std::vector<std::string> PluginFolder::manifests() const {
    std::vector<std::string> manifests;
    DIR* dir = path_.empty() ? nullptr : ::opendir(path_.c_str());
    if (!dir) return manifests;
    while (dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] == '.') continue;
        std::string manifest = path_ + "/" + entry->d_name + "/plugin.xml";
        struct stat st {};
        if (::stat(manifest.c_str(), &st) == 0 && S_ISREG(st.st_mode)) manifests.push_back(manifest);
    }
    ::closedir(dir);
    std::sort(manifests.begin(), manifests.end());
    return manifests;
}

bool PluginFolder::contains(const std::string& resolved) const {
    return !path_.empty() && resolved.compare(0, path_.size() + 1, path_ + "/") == 0;
}

std::string PluginFolder::stamp(const std::string& manifestPath, const std::string& library) {
    return fileStamp(manifestPath) + "|" + fileStamp(library);
}

std::string PluginFolder::stamp(const std::string& manifestPath) {
    std::string library;
    try {
        Manifest m = readManifest(manifestPath);
        library = realPath(manifestPath.substr(0, manifestPath.find_last_of('/')) + "/" + m.library);
    } catch (const std::exception&) {
        // No readable manifest: its own stamp says when that changes.
    }
    return stamp(manifestPath, library);
}

std::string PluginFolder::shadowCopy(const std::string& library, const std::string& fileName) {
    if (shadowDir_.empty()) {
        char templ[] = "/tmp/campushub-plugins-XXXXXX";
        if (!::mkdtemp(templ)) throw std::runtime_error("cannot create a folder for the new version");
        shadowDir_ = templ;
    }
    std::string path = shadowDir_ + "/" + std::to_string(++shadowCopies_) + "-" + fileName;
    std::filesystem::copy_file(library, path);
    return path;
}

}  // namespace hub::host
