#pragma once
// The drop folder the HR system writes its nightly export to, and when a file in
// it may be read: never while it is being written. A file written in place is
// read once its size and modification time have not changed over the settle
// interval AND no process has it open for writing (a read lease, fcntl
// F_SETLEASE, is refused while any writer has it open); a file the vendor
// renames in when complete is read at once (still not while open for writing).
// A file is claimed by renaming it into processed/.processing/ before it is
// read, so two scans (or two hubs) never read one file twice, and the vendor
// cannot append to it any more; read files go to processed/, files that cannot
// be used to quarantine/, never deleted.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hr {

struct DropConfig {
    std::string dropDir;
    std::string processedDir;   ///< default dropDir/processed
    std::string quarantineDir;  ///< default dropDir/quarantine
    bool renamedIn = false;     ///< arrival "rename": complete when it appears
    std::chrono::seconds settle{30};
};

class DropFolder {
public:
    /// Creates processed/, its .processing/ and quarantine/ when missing. Throws
    /// std::runtime_error when the drop folder is not a readable folder.
    explicit DropFolder(DropConfig config);

    const DropConfig& config() const { return config_; }

    struct Waiting {
        std::string name;
        std::string why;
    };
    struct Look {
        std::vector<std::string> ready;  ///< names in the drop folder, oldest first
        std::vector<Waiting> waiting;
        /// Files claimed by an earlier scan that did not finish (paths in .processing/).
        std::vector<std::string> leftovers;
    };
    /// Which files can be read now. Only *.csv names count; hidden names and
    /// *.part, *.tmp, *.filepart (a vendor's file still being copied) are left alone.
    Look look();

    /// Moves the drop folder's file into .processing/ and returns its new path;
    /// nullopt when it is gone (another scan claimed it).
    std::optional<std::string> claim(const std::string& name);

    /// Moves a claimed file to processed/ (or quarantine/ when rejected) under
    /// a name of its own (the time and its name), and returns the new path.
    std::string finish(const std::string& claimedPath, bool rejected);

    /// A new file in quarantine/ named after the claimed file, with suffix.
    std::string quarantinePath(const std::string& claimedPath, const std::string& suffix) const;

    /// True when some process has the file open for writing; false when none
    /// has, or when the file system or our rights cannot tell (leasesWork()).
    bool openForWriting(const std::string& path);
    /// Whether the last openForWriting could tell (leases need the file's owner
    /// or CAP_LEASE, and a local file system).
    bool leasesWork() const { return leasesWork_; }

private:
    struct Seen {
        std::uintmax_t size = 0;
        std::int64_t mtimeNs = 0;
        std::chrono::steady_clock::time_point since;
    };
    DropConfig config_;
    std::string processing_;
    std::mutex mutex_;
    std::map<std::string, Seen> seen_;
    bool leasesWork_ = true;
};

}  // namespace hr
