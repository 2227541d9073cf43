#pragma once

#include "hub/catalog/Snapshot.h"
#include "hub/xml/Error.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
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
class Catalog {
public:
    struct Options {
        std::string directory;   ///< Holds the catalogue files (*.xml, read in name order).
        std::string schemaPath;  ///< The XSD; empty = <directory>/catalog.xsd.
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

    /// Loads a snapshot without publishing it (also used by `hubctl` to check
    /// a catalogue before deploying it). Throws CatalogException.
    static std::shared_ptr<const Snapshot> load(const Options& options, std::uint64_t version = 1);

    const Options& options() const noexcept { return options_; }

private:
    Options options_;
    std::mutex reloadMutex_;
    std::shared_ptr<const Snapshot> current_;  // accessed only via std::atomic_load/store
};

}  // namespace hub::catalog
