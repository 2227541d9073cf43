#pragma once

#include <cstddef>
#include <string>

namespace hub::test {

/// A small tmpfs for fault-injection tests (a disk that fills, a file system
/// that is read-only), mounted on a fresh folder under the system temp dir and
/// unmounted, folder and all, when the object goes away.
///
/// The first mount moves the test process into a mount namespace of its own
/// (unshare(CLONE_NEWNS), every mount private), so what a test mounts is seen
/// only by the test and the programs it starts afterwards (hubd), and goes away
/// with them even when the test crashes or is killed: nothing is left mounted
/// on the machine. Needs CAP_SYS_ADMIN (root); unavailable() says why not.
///
///     if (auto why = hub::test::TmpfsMount::unavailable(); !why.empty()) GTEST_SKIP() << why;
///     hub::test::TmpfsMount disk(8 << 20);
///     disk.fill("filler");   // ENOSPC from now on
class TmpfsMount
{
public:
    /// Why this process cannot mount a tmpfs ("" when it can). Tries once.
    static std::string unavailable();

    /// Mounts a tmpfs of `bytes` (whole pages). Throws std::system_error.
    explicit TmpfsMount(std::size_t bytes, const std::string& prefix = "campushub-mount");

    /// Unmounts (lazily, should something still hold a file) and removes the folder. Never throws.
    ~TmpfsMount();

    TmpfsMount(const TmpfsMount&) = delete;
    TmpfsMount& operator=(const TmpfsMount&) = delete;

    /// The mount point, without a trailing slash.
    const std::string& path() const { return _path; }

    /// path() + "/" + name.
    std::string file(const std::string& name) const;

    /// Remounts read-only; fails (std::system_error, EBUSY) while a file in it is open for writing.
    void remountReadOnly();

    /// Remounts read-write.
    void remountReadWrite();

    /// Writes into file(name) until the file system is full, down to the last
    /// byte, then gives `leave` bytes back; returns the file's size. Remove the
    /// file to free the space.
    std::size_t fill(const std::string& name, std::size_t leave = 0);

    /// Bytes still free.
    std::size_t available() const;

private:
    std::string _path;
    std::string _options;
    bool _mounted = false;
};

} // namespace hub::test
