#pragma once

#include "hub/catalog/Snapshot.h"
#include "hub/xml/Error.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hub::catalog {

/// The live service catalogue: every *.xml file of a directory, validated
/// against an XSD and cross-checked, published as an immutable Snapshot.
///
/// Readers call snapshot() (lock-free for them in effect: an atomic
/// shared_ptr load) and keep the Snapshot for the length of a request.
/// reload() parses everything into a new Snapshot off to the side and swaps
/// it in atomically; if anything is wrong, the old one stays and the errors
/// are returned. Thread-safe.
///
/// Beside the hub-wide files, each department may have a file of its own,
/// `<departments folder>/<department id>.xml` (docs/catalog/README.md,
/// "A department's own file"): only items of that department, no taxonomy.
/// Its admin replaces, removes or reloads that one file without touching the
/// rest (putDepartment, removeDepartment, reloadDepartment); a full reload()
/// reads it like every other file, with the same rule.
class Catalog {
public:
    struct Options {
        std::string directory;   ///< Holds the catalogue files (*.xml, read in name order).
        std::string schemaPath;  ///< The XSD; empty = <directory>/catalog.xsd.
        /// The departments' own files (<department>.xml), read after the
        /// catalogue folder's; empty = <directory>/departments. May be missing.
        std::string departmentsDirectory;
    };

    /// Result of a reload.
    struct ReloadResult {
        bool ok = false;
        std::uint64_t version = 0;           ///< The version now being served.
        std::vector<hub::xml::Error> errors; ///< Why the reload was refused.
    };

    /// Loads the catalogue; throws CatalogException listing every error (a
    /// hub must not start on a broken catalogue).
    explicit Catalog(Options options);

    /// The current snapshot; never null.
    std::shared_ptr<const Snapshot> snapshot() const;

    /// Re-reads schema and files. On success the new snapshot is served from
    /// the next snapshot() on; on failure nothing changes. Reloads are serialized.
    ReloadResult reload();

    /// What a change to one department's file did. Nothing changed unless ok.
    struct DepartmentResult {
        bool ok = false;
        bool existed = true;                  ///< removeDepartment: there was a file.
        std::uint64_t version = 0;            ///< The version now being served.
        std::vector<hub::xml::Error> errors;  ///< The file is invalid, or clashes with the rest.
        /// The file reaches past its department: another department's item, the
        /// taxonomy, or what `check` refused (the API answers 403 for these).
        std::vector<hub::xml::Error> foreign;
    };

    /// Why an item of a department's file reaches past its department (e.g. it
    /// is handled by another department's plugin); empty when it does not.
    using ItemCheck = std::function<std::string(const ServiceItem&)>;

    /// Checks `xml` as `department`'s own file against the catalogue in
    /// service (its taxonomy and every other file as served now) and, when it
    /// passes, writes it (a temporary file renamed into place) and serves the
    /// result. Refused, the file on disk and the catalogue in service stay.
    DepartmentResult putDepartment(const std::string& department, std::string_view xml, const ItemCheck& check = {});

    /// Deletes `department`'s own file and serves the catalogue without its items.
    DepartmentResult removeDepartment(const std::string& department);

    /// Reads `department`'s own file again (changed on disk), checked as by
    /// putDepartment; every other file stays as served. No file: its items go.
    DepartmentResult reloadDepartment(const std::string& department, const ItemCheck& check = {});

    /// Where `department`'s own file is.
    std::string departmentFile(const std::string& department) const;

    /// Loads a snapshot without publishing it (also used by `hubctl` to check
    /// a catalogue before deploying it). Throws CatalogException.
    static std::shared_ptr<const Snapshot> load(const Options& options, std::uint64_t version = 1);

    const Options& options() const noexcept { return options_; }

private:
    DepartmentResult changeDepartment(const std::string& department, const std::optional<std::string>& xml,
                                      const ItemCheck& check, bool write);

    Options options_;
    std::mutex reloadMutex_;
    std::shared_ptr<const Snapshot> current_;  // accessed only via std::atomic_load/store
};

}  // namespace hub::catalog
