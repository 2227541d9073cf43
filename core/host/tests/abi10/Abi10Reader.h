#pragma once
// The other side of the growth rule (plugin.h, "Growing a struct"): code built
// against the frozen 1.0 header (campushub/ here, as released), for the tests
// to check that 1.0 and 1.1 tables read each other. No ch_ type appears here,
// so this header goes into translation units of either version.

#include <cstddef>
#include <cstdint>

namespace abi10 {

/// A ch_plugin_api of any minor as a 1.0 host reads it: the prefix it knows.
struct PluginTable {
    std::uint32_t structSize = 0;
    int major = 0, minor = 0;
    const void* create = nullptr;
    const void* destroy = nullptr;
    const void* describe = nullptr;
    const void* invoke = nullptr;
    const void* health = nullptr;
    const void* onEvent = nullptr;
};
PluginTable readAsHost10(const void* table);

/// sizeof the 1.0 structs.
std::size_t pluginApiSize();
std::size_t hostApiSize();
std::size_t httpRequestSize();

/// A static ch_plugin_api as a 1.0 plugin returns it (functions that answer
/// nothing: only for reading).
const void* table10();

}  // namespace abi10
