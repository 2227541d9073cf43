// The catalogue import (core/catalog CatalogImport): an input is the hall's
// item list as hub-catalog-import reads it (CSV, UTF-8 or GBK), converted
// against the shipped taxonomy. Oracles: convert() never throws; a problem's
// line is within the input; and whatever it writes loads, as the hub would
// load it, beside the shipped taxonomy with exactly the items it counted.
#include "FuzzSupport.h"

#include "hub/catalog/Catalog.h"
#include "hub/catalog/CatalogException.h"
#include "hub/catalog/CatalogImport.h"

#include <Poco/File.h>
#include <Poco/TemporaryFile.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <string>

namespace {

struct Setup {
    Poco::TemporaryFile folder;  // removed at exit
    hub::catalog::Catalog::Options options;
    std::optional<hub::catalog::CatalogImport> import;
    Setup() {
        folder.createDirectories();
        Poco::File(HUB_SOURCE_DIR "/config/catalog/00-taxonomy.xml").copyTo(folder.path());
        options.directory = folder.path();
        options.schemaPath = HUB_SOURCE_DIR "/config/catalog/catalog.xsd";
        import.emplace(hub::catalog::CatalogImport::readKnown(folder.path()), options.schemaPath);
    }
};

Setup& setup() {
    static Setup s;
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    hub::fuzz::quietLogging();
    setup();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    for (bool skipBad : {false, true}) {
        hub::catalog::CatalogImport::Options options;
        options.skipBad = skipBad;
        auto result = setup().import->convert(input, options);
        // A lone CR ends a line too: count both as an upper bound.
        const auto lines = static_cast<std::size_t>(std::count(input.begin(), input.end(), '\n') +
                                                    std::count(input.begin(), input.end(), '\r')) + 1;
        for (const auto& p : result.problems)
            if (p.line > lines) hub::fuzz::fail("problem past the last line", p.toString("input"));
        if (!result.written()) {
            if (result.problems.empty()) hub::fuzz::fail("refused without a problem");
            continue;
        }
        if (!skipBad && !result.problems.empty()) hub::fuzz::fail("written despite bad rows");
        {
            std::ofstream out(setup().options.directory + "/50-input.xml", std::ios::binary | std::ios::trunc);
            out << result.xml;
        }
        try {
            auto snapshot = hub::catalog::Catalog::load(setup().options);
            if (snapshot->items().size() != result.itemsWritten)
                hub::fuzz::fail("loaded item count differs from itemsWritten");
        } catch (const hub::catalog::CatalogException& e) {
            hub::fuzz::fail("the written catalogue does not load", e.what());
        }
    }
    return 0;
}
