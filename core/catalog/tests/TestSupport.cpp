#include "TestSupport.h"

#include "hub/catalog/Catalog.h"
#include "hub/xml/Error.h"

#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace hub::catalog::test {

std::filesystem::path configDir() {
    return std::filesystem::path(HUB_CONFIG_DIR);
}

TempDir::TempDir() {
    char pattern[] = "/tmp/hub-catalog-test-XXXXXX";
    if (mkdtemp(pattern) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
    auto full = path_ / name;
    std::ofstream out(full, std::ios::binary | std::ios::trunc);
    out << text;
    return full.string();
}

CatalogCopy::CatalogCopy() {
    for (const auto& entry : std::filesystem::directory_iterator(configDir() / "catalog")) {
        if (!entry.is_regular_file()) continue;  // import/: the CSV the hall's items come from
        std::filesystem::copy_file(entry.path(), path() / entry.path().filename());
    }
}

std::shared_ptr<const Snapshot> shippedCatalog() {
    static std::shared_ptr<const Snapshot> snap = Catalog::load({(configDir() / "catalog").string(), ""});
    return snap;
}

std::string errorText(const std::vector<hub::xml::Error>& errors) {
    std::string out;
    for (const auto& e : errors) out += e.toString() + "\n";
    return out;
}

}  // namespace hub::catalog::test
