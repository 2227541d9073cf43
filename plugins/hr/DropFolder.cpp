#include "DropFolder.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace hr {

namespace fs = std::filesystem;

namespace {

bool endsWith(const std::string& s, std::string_view suffix) {
    if (s.size() < suffix.size()) return false;
    return std::equal(suffix.rbegin(), suffix.rend(), s.rbegin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
}

bool isExport(const std::string& name) {
    if (name.empty() || name.front() == '.') return false;
    for (auto partial : {".part", ".tmp", ".filepart"})
        if (endsWith(name, partial)) return false;
    return endsWith(name, ".csv");
}

std::string stamp() {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
    return text;
}

// A path in dir for name that does not exist yet.
std::string freshPath(const std::string& dir, const std::string& name) {
    std::string path = dir + "/" + name;
    for (int i = 1; fs::exists(path); ++i) path = dir + "/" + name + "." + std::to_string(i);
    return path;
}

// rename(2); a folder on another file system is copied and synced first, so the
// file is never lost between the two.
void moveFile(const std::string& from, const std::string& to) {
    if (::rename(from.c_str(), to.c_str()) == 0) return;
    if (errno != EXDEV) throw std::runtime_error("cannot move " + from + " to " + to + ": " + std::strerror(errno));
    fs::copy_file(from, to);
    int fd = ::open(to.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
    fs::remove(from);
}

void ensureDir(const std::string& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!fs::is_directory(dir)) throw std::runtime_error("cannot create the folder " + dir + ": " + ec.message());
}

}  // namespace

DropFolder::DropFolder(DropConfig config) : config_(std::move(config)) {
    if (!fs::is_directory(config_.dropDir))
        throw std::runtime_error("drop_dir " + config_.dropDir + " is not a folder");
    if (config_.processedDir.empty()) config_.processedDir = config_.dropDir + "/processed";
    if (config_.quarantineDir.empty()) config_.quarantineDir = config_.dropDir + "/quarantine";
    processing_ = config_.processedDir + "/.processing";
    ensureDir(config_.processedDir);
    ensureDir(processing_);
    ensureDir(config_.quarantineDir);
}

bool DropFolder::openForWriting(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return false;
    bool writing = false;
    if (::fcntl(fd, F_SETLEASE, F_RDLCK) == 0) {
        ::fcntl(fd, F_SETLEASE, F_UNLCK);
        leasesWork_ = true;
    } else if (errno == EAGAIN) {
        writing = true;  // a writer has it open (or it is mapped for writing)
        leasesWork_ = true;
    } else {
        leasesWork_ = false;  // EACCES (not the owner, no CAP_LEASE), EINVAL (NFS...): settle only
    }
    ::close(fd);
    return writing;
}

DropFolder::Look DropFolder::look() {
    Look look;
    for (const auto& entry : fs::directory_iterator(processing_)) {
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file() && isExport(name)) look.leftovers.push_back(entry.path().string());
    }
    struct Found {
        std::string name;
        std::int64_t mtimeNs;
    };
    std::vector<Found> ready;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    std::map<std::string, Seen> stillThere;
    for (const auto& entry : fs::directory_iterator(config_.dropDir)) {
        const std::string name = entry.path().filename().string();
        if (!isExport(name)) continue;
        struct stat st {};
        // Symbolic links are not followed: only files the vendor put there.
        if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        const std::int64_t mtimeNs = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
        const auto size = static_cast<std::uintmax_t>(st.st_size);
        auto it = seen_.find(name);
        Seen seen = it != seen_.end() && it->second.size == size && it->second.mtimeNs == mtimeNs
                        ? it->second
                        : Seen{size, mtimeNs, now};
        stillThere[name] = seen;
        if (!config_.renamedIn && now - seen.since < config_.settle) {
            look.waiting.push_back({name, "settling: size and modification time must stay unchanged for " +
                                              std::to_string(config_.settle.count()) + " s"});
            continue;
        }
        if (openForWriting(entry.path().string())) {
            look.waiting.push_back({name, "open for writing"});
            continue;
        }
        ready.push_back({name, mtimeNs});
    }
    seen_ = std::move(stillThere);
    std::sort(ready.begin(), ready.end(), [](const Found& a, const Found& b) {
        return a.mtimeNs != b.mtimeNs ? a.mtimeNs < b.mtimeNs : a.name < b.name;
    });
    for (auto& f : ready) look.ready.push_back(std::move(f.name));
    return look;
}

std::optional<std::string> DropFolder::claim(const std::string& name) {
    const std::string from = config_.dropDir + "/" + name;
    const std::string to = freshPath(processing_, name);
    if (::rename(from.c_str(), to.c_str()) != 0) {
        if (errno == ENOENT) return std::nullopt;
        throw std::runtime_error("cannot claim " + from + ": " + std::strerror(errno));
    }
    std::lock_guard lock(mutex_);
    seen_.erase(name);
    return to;
}

std::string DropFolder::finish(const std::string& claimedPath, bool rejected) {
    const std::string name = fs::path(claimedPath).filename().string();
    const std::string to =
        freshPath(rejected ? config_.quarantineDir : config_.processedDir, stamp() + "-" + name);
    moveFile(claimedPath, to);
    return to;
}

std::string DropFolder::quarantinePath(const std::string& claimedPath, const std::string& suffix) const {
    return freshPath(config_.quarantineDir, stamp() + "-" + fs::path(claimedPath).filename().string() + suffix);
}

}  // namespace hr
