#pragma once

#include <string>

namespace hub::test {

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir
{
public:
    /// Creates "<tmp>/<prefix>-<random>".
    explicit TempDir(const std::string& prefix = "campushub-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    /// The directory, without a trailing slash.
    const std::string& path() const { return _path; }

    /// path() + "/" + name (the file is not created).
    std::string file(const std::string& name) const;

    /// Writes `content` to file(name) and returns its path.
    std::string write(const std::string& name, const std::string& content) const;

private:
    std::string _path;
};

/// A TCP port on 127.0.0.1 that was free a moment ago, from below the kernel's
/// ephemeral range (which bind(0) and connect() hand out to anyone). Prefer
/// letting the server bind port 0 and report its port; use this only for
/// programs that cannot.
int freePort();

} // namespace hub::test
