#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace hub::catalog {
class Snapshot;
}
namespace hub::xml {
struct Error;
}

namespace hub::catalog::test {

/// The repository's config/ folder (shipped sample catalogue and calendar).
std::filesystem::path configDir();

/// The errors, one per line, for a failure message.
std::string errorText(const std::vector<hub::xml::Error>& errors);

/// The shipped sample catalogue, loaded once per test program.
std::shared_ptr<const Snapshot> shippedCatalog();

/// A temporary directory removed with everything in it.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string str() const { return path_.string(); }

    /// Writes `text` to path()/name and returns the full path.
    std::string write(const std::string& name, const std::string& text) const;

private:
    std::filesystem::path path_;
};

/// A temp dir holding a copy of the shipped catalogue (schema + files).
class CatalogCopy : public TempDir {
public:
    CatalogCopy();
};

}  // namespace hub::catalog::test
