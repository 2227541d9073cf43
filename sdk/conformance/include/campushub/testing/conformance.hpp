// CampusHub plugin SDK — the conformance kit: checks that a plugin library and
// its manifest keep the contract of campushub/plugin.h.
//
// The program `campushub-conformance <plugin-folder-or-plugin.xml>` runs it on
// any built plugin. The same checks are a GoogleTest library
// (CampusHub::Conformance, find_package(CampusHubSDK COMPONENTS conformance))
// for a vendor's own test program:
//
//   int main(int argc, char** argv) {
//       ::testing::InitGoogleTest(&argc, argv);
//       campushub::testing::ConformanceOptions options;
//       options.plugin = "build/example";            // folder holding plugin.xml
//       options.config["base_url"] = "http://127.0.0.1:9";
//       campushub::testing::registerConformanceTests(options);
//       return RUN_ALL_TESTS();
//   }
//
// What is checked (docs/sdk/abi-reference.md, "Conformance"):
//   Manifest   plugin.xml is well-formed and follows the hub's rules, and every
//              operation declares an access policy (who may call it).
//   Abi        the entry point returns a static table of ABI major 1, minor no
//              newer than this SDK's, with every required function, and the
//              manifest's abi="" names the same version; every host service in
//              required_services (1.1) exists in this SDK's ABI, and none that a
//              worker lacks when the manifest says isolation="process".
//   Create     create succeeds with the config; without any config it fails
//              cleanly (an error status and one message) or succeeds.
//   Describe   describe answers once with valid JSON whose name, version and
//              operation set equal the manifest's.
//   Operation  every operation answers malformed input (not JSON, truncated,
//              empty, wrong top-level type, invalid UTF-8, embedded NUL, 1 MiB,
//              100,000 levels deep) with an error status, answers odd but valid
//              objects without crashing, and an unknown operation with
//              CH_ERR_UNKNOWN_OPERATION; every answer exactly once, every CH_OK
//              answer valid JSON. Called with an idempotency key and a
//              traceparent (1.1), every HTTP request it makes carries the
//              call's key, if any key, and the call's trace.
//   Health     when present, health answers {"status": "up"|"degraded"|"down"}.
//   Events     when present, on_event survives malformed events.
//   Lifecycle  create/describe/invoke/health/destroy 100 times, and concurrent
//              invokes, without a crash or heap growth. Run the program under
//              valgrind --leak-check=full or build with ASan for an exact leak
//              check.
// Each case runs in a forked child by default, so a crash or a hang is a failed
// test with its signal named, not the end of the run.
#pragma once

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace campushub::testing {

/// plugin.xml as the conformance kit reads it (the same rules as the hub's).
struct PluginManifest {
    struct Operation {
        std::string name;
        std::string description;
        // Its access policy (docs/sdk/abi-reference.md, "Access policies").
        std::string access;                  ///< "authenticated" or empty.
        std::vector<std::string> audiences;  ///< student, teacher, staff, visitor.
        std::vector<std::string> roles;
        std::string self;  ///< Input member bound to the caller's own id; empty: none.
        bool webhook = false;  ///< webhook="true": only the vendor's signed callbacks call it.
        /// True when it declares who may call it; the hub refuses every call otherwise.
        bool hasPolicy() const { return webhook || !access.empty() || !audiences.empty() || !roles.empty(); }
    };
    struct ConfigKey {
        std::string name;
        std::string type;
        bool required = false;
    };

    std::string file;    ///< Path of plugin.xml.
    std::string folder;  ///< Folder holding it (and the library).
    std::string name;
    std::string version;
    int abiMajor = 0;
    int abiMinor = 0;
    std::string library;  ///< File name of the library, beside the manifest.
    std::string isolation = "inproc";
    std::string vendor;
    std::string description;
    std::vector<Operation> operations;
    std::vector<ConfigKey> config;
    /// The FIELD of each <owns><data>identity.person.FIELD</data> (ABI 1.2).
    std::vector<std::string> ownedPersonFields;
    /// The types of <emits><event type="..."/> (ABI 1.2).
    std::vector<std::string> emits;

    /// folder + "/" + library.
    std::string libraryPath() const { return folder + "/" + library; }
};

/// A manifest that breaks the rules: the message names file, line and field.
class ManifestError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Reads a plugin's manifest: `path` is plugin.xml itself or the folder holding
/// it. Throws ManifestError.
PluginManifest readPluginManifest(const std::string& path);

/// What registerConformanceTests checks, and how.
struct ConformanceOptions {
    std::string plugin;  ///< The plugin folder or its plugin.xml.

    /// Config values given to create(), as in the plugin's section of hub.xml.
    /// Required keys of the manifest left out here get a placeholder by type
    /// (url: "http://conformance.invalid/", integer: "1", boolean: "false",
    /// otherwise "conformance").
    std::map<std::string, std::string> config;

    bool fork = true;  ///< Run each case in a child process (crashes and hangs become failures).
    std::chrono::seconds caseTimeout{60};  ///< A forked case still running after this has hung.
    int lifecycleCycles = 100;             ///< Create/destroy cycles in Lifecycle.
};

/// Registers the conformance tests for one plugin with GoogleTest. Call after
/// ::testing::InitGoogleTest and before RUN_ALL_TESTS. A plugin that cannot be
/// read or loaded at all still registers tests, which fail with the reason.
void registerConformanceTests(const ConformanceOptions& options);

/// The placeholder config the kit would use for this manifest (see
/// ConformanceOptions::config), merged with `given`.
std::map<std::string, std::string> conformanceConfig(const PluginManifest& manifest,
                                                     const std::map<std::string, std::string>& given);

/// The main function of the campushub-conformance program.
int conformanceMain(int argc, char** argv);

}  // namespace campushub::testing
