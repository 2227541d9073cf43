// campushub-conformance: runs the conformance kit on one built plugin.
#include "campushub/testing/conformance.hpp"

#include "campushub/plugin.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <string>

namespace campushub::testing {

namespace {

void usage(std::ostream& out) {
    out << "usage: campushub-conformance [options] <plugin-folder | plugin.xml>\n"
           "\n"
           "Loads the plugin library named by its manifest (dlopen RTLD_NOW|RTLD_LOCAL,\n"
           "entry symbol " CH_PLUGIN_ENTRY_SYMBOL ") and checks it keeps the CampusHub\n"
           "plugin ABI " << CH_ABI_VERSION_MAJOR << "." << CH_ABI_VERSION_MINOR
        << " contract. Exit status 0 when every check passes.\n"
           "\n"
           "options:\n"
           "  --config KEY=VALUE  a value of the plugin's config section (repeatable); required\n"
           "                      keys left out get a placeholder by type\n"
           "  --no-fork           run every case in this process (for valgrind or gdb); a crash\n"
           "                      then ends the run\n"
           "  --timeout SECONDS   a forked case running longer has hung (default 60)\n"
           "  --cycles N          create/destroy cycles in Lifecycle (default 100)\n"
           "  --gtest_filter=...  and the other GoogleTest options, e.g. --gtest_list_tests\n"
           "  --help, --version\n";
}

}  // namespace

int conformanceMain(int argc, char** argv) {
    // Before GoogleTest sees them (it answers --help with its own text).
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            usage(std::cout);
            return 0;
        }
        if (arg == "--version") {
            std::cout << "campushub-conformance (CampusHub SDK) " CAMPUSHUB_SDK_VERSION ", plugin ABI "
                      << CH_ABI_VERSION_MAJOR << "." << CH_ABI_VERSION_MINOR << "\n";
            return 0;
        }
    }
    ::testing::InitGoogleTest(&argc, argv);  // takes the --gtest_ options out of argv
    ConformanceOptions options;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "campushub-conformance: " << arg << " needs a value\n";
                std::exit(2);
            }
            return argv[++i];
        };
        if (arg == "--config") {
            std::string kv = value();
            auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) {
                std::cerr << "campushub-conformance: --config wants KEY=VALUE, got '" << kv << "'\n";
                return 2;
            }
            options.config[kv.substr(0, eq)] = kv.substr(eq + 1);
        } else if (arg == "--no-fork") {
            options.fork = false;
        } else if (arg == "--timeout") {
            options.caseTimeout = std::chrono::seconds(std::atoi(value().c_str()));
            if (options.caseTimeout.count() <= 0) options.caseTimeout = std::chrono::seconds(60);
        } else if (arg == "--cycles") {
            options.lifecycleCycles = std::max(1, std::atoi(value().c_str()));
        } else if (!arg.empty() && arg[0] == '-') {
            std::cerr << "campushub-conformance: unknown option " << arg << "\n";
            usage(std::cerr);
            return 2;
        } else if (options.plugin.empty()) {
            options.plugin = arg;
        } else {
            std::cerr << "campushub-conformance: one plugin at a time (got '" << options.plugin << "' and '" << arg
                      << "')\n";
            return 2;
        }
    }
    if (options.plugin.empty()) {
        usage(std::cerr);
        return 2;
    }

    try {
        PluginManifest m = readPluginManifest(options.plugin);
        std::cout << "campushub-conformance: " << m.name << " " << m.version << " (ABI " << m.abiMajor << "."
                  << m.abiMinor << ") from " << m.libraryPath() << "\n";
        for (const auto& [k, v] : conformanceConfig(m, options.config))
            std::cout << "  config " << k << (options.config.count(k) ? " (given)" : " = " + v + " (placeholder)")
                      << "\n";
    } catch (const std::exception& e) {
        std::cout << "campushub-conformance: " << e.what() << "\n";  // Manifest.IsValid fails with it
    }
    registerConformanceTests(options);
    return RUN_ALL_TESTS();
}

}  // namespace campushub::testing

int main(int argc, char** argv) { return campushub::testing::conformanceMain(argc, argv); }
