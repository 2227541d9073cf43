#include "hub/test/TmpfsMount.h"

#include <Poco/Path.h>
#include <Poco/UUIDGenerator.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <vector>

namespace hub::test {

namespace {

// Once per process: a mount namespace of our own, with nothing propagating
// back to the machine's. "" on success, else why not.
const std::string& privateNamespace()
{
    static const std::string error = [] {
        if (::unshare(CLONE_NEWNS) != 0)
            return std::string("cannot create a mount namespace (unshare: ") + std::strerror(errno) +
                   "); tmpfs fault-injection tests need root or CAP_SYS_ADMIN";
        if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            return std::string("cannot make mounts private (mount --make-rprivate /: ") + std::strerror(errno) + ")";
        return std::string();
    }();
    return error;
}

std::system_error failure(const std::string& what)
{
    return std::system_error(errno, std::generic_category(), what);
}

} // namespace

std::string TmpfsMount::unavailable()
{
    static const std::string why = [] {
        if (!privateNamespace().empty())
            return privateNamespace();
        try
        {
            TmpfsMount probe(64 * 1024, "campushub-mount-probe");
        }
        catch (const std::exception& e)
        {
            return std::string("cannot mount a tmpfs: ") + e.what();
        }
        return std::string();
    }();
    return why;
}

TmpfsMount::TmpfsMount(std::size_t bytes, const std::string& prefix)
    : _options("size=" + std::to_string(bytes) + ",mode=0755")
{
    if (!privateNamespace().empty())
        throw std::system_error(std::make_error_code(std::errc::operation_not_permitted), privateNamespace());
    Poco::Path base(Poco::Path::temp());
    base.pushDirectory(prefix + "-" + Poco::UUIDGenerator::defaultGenerator().createRandom().toString());
    _path = base.toString();
    if (!_path.empty() && _path.back() == '/')
        _path.pop_back();
    if (::mkdir(_path.c_str(), 0700) != 0)
        throw failure("mkdir " + _path);
    if (::mount("tmpfs", _path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, _options.c_str()) != 0)
    {
        auto error = failure("mount -t tmpfs " + _path);
        ::rmdir(_path.c_str());
        throw error;
    }
    _mounted = true;
}

TmpfsMount::~TmpfsMount()
{
    if (_mounted)
        ::umount2(_path.c_str(), MNT_DETACH);
    ::rmdir(_path.c_str());
}

std::string TmpfsMount::file(const std::string& name) const
{
    return _path + "/" + name;
}

void TmpfsMount::remountReadOnly()
{
    if (::mount("tmpfs", _path.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, _options.c_str()) != 0)
        throw failure("mount -o remount,ro " + _path);
}

void TmpfsMount::remountReadWrite()
{
    if (::mount("tmpfs", _path.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, _options.c_str()) != 0)
        throw failure("mount -o remount,rw " + _path);
}

std::size_t TmpfsMount::fill(const std::string& name, std::size_t leave)
{
    const std::string path = file(name);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        throw failure("open " + path);
    std::vector<char> chunk(1 << 16, 'x');
    std::size_t total = 0;
    // Big writes first, then ever smaller ones for what is left of the last page.
    for (std::size_t size = chunk.size(); size > 0; size /= 2)
    {
        for (;;)
        {
            const ssize_t n = ::write(fd, chunk.data(), size);
            if (n > 0)
            {
                total += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno != ENOSPC)
            {
                auto error = failure("write " + path);
                ::close(fd);
                throw error;
            }
            break;
        }
    }
    if (leave > 0)
    {
        total = total > leave ? total - leave : 0;
        if (::ftruncate(fd, static_cast<off_t>(total)) != 0)
        {
            auto error = failure("truncate " + path);
            ::close(fd);
            throw error;
        }
    }
    ::close(fd);
    return total;
}

std::size_t TmpfsMount::available() const
{
    struct statvfs fs
    {
    };
    if (::statvfs(_path.c_str(), &fs) != 0)
        throw failure("statvfs " + _path);
    return static_cast<std::size_t>(fs.f_bavail) * fs.f_frsize;
}

} // namespace hub::test
