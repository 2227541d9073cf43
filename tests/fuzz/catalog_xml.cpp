// The service catalogue (core/catalog): an input is one catalogue file, loaded
// beside the shipped taxonomy (config/catalog/00-taxonomy.xml: categories and
// departments) and validated against the shipped catalog.xsd, as a reload from
// the admin API does. Catalog::load is documented to throw CatalogException for
// anything wrong.
#include "FuzzSupport.h"

#include "hub/catalog/Catalog.h"
#include "hub/catalog/CatalogException.h"

#include <Poco/File.h>
#include <Poco/TemporaryFile.h>

#include <fstream>

namespace {

const hub::catalog::Catalog::Options& options() {
    static const hub::catalog::Catalog::Options o = [] {
        static Poco::TemporaryFile folder;  // removed at exit
        folder.createDirectories();
        Poco::File(HUB_SOURCE_DIR "/config/catalog/00-taxonomy.xml").copyTo(folder.path());
        hub::catalog::Catalog::Options made;
        made.directory = folder.path();
        made.schemaPath = HUB_SOURCE_DIR "/config/catalog/catalog.xsd";
        return made;
    }();
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    hub::fuzz::quietLogging();
    options();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    {
        std::ofstream out(options().directory + "/50-input.xml", std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        auto snapshot = hub::catalog::Catalog::load(options());
        // What the catalogue routes do with it.
        hub::catalog::Query everything;
        everything.viewer = hub::catalog::AudienceSet::all();
        everything.limit = hub::catalog::Query::maxLimit;
        snapshot->queryJson(everything);
        everything.text = "证明 ID";
        snapshot->queryJson(everything);
        for (const auto& item : snapshot->items()) snapshot->itemJson(item);
    } catch (const hub::catalog::CatalogException&) {
    }
    return 0;
}
