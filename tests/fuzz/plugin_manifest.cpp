// readManifest (core/host): plugin.xml, read and validated against the SDK's
// schema before any of a plugin's code loads. readManifest takes a path, so each
// input is written to plugin.xml in a folder of this run. Documented to throw
// ManifestError for anything it cannot use (the host refuses the plugin then).
#include "FuzzSupport.h"

#include "hub/host/Manifest.h"

#include <Poco/TemporaryFile.h>

#include <fstream>

namespace {

const std::string& manifestPath() {
    static const std::string path = [] {
        static Poco::TemporaryFile folder;  // removed at exit
        folder.createDirectories();
        return folder.path() + "/plugin.xml";
    }();
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    hub::fuzz::quietLogging();
    manifestPath();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    {
        std::ofstream out(manifestPath(), std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    try {
        hub::host::Manifest m = hub::host::readManifest(manifestPath());
        if (m.name.empty() || m.library.empty()) hub::fuzz::fail("a manifest without a name or library passed");
        if (m.isolation != "inproc" && m.isolation != "process")
            hub::fuzz::fail("a manifest with an unknown isolation passed", m.isolation);
    } catch (const hub::host::ManifestError&) {
    }
    return 0;
}
