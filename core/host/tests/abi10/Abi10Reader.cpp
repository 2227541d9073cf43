// Built against the frozen 1.0 header beside this file (the quote include
// finds campushub/plugin.h here before the SDK's).
#include "campushub/plugin.h"

#include "Abi10Reader.h"

#include <algorithm>
#include <cstring>

namespace abi10 {

namespace {

ch_status create(const ch_host_api*, ch_host*, ch_buffer, ch_plugin**, ch_sink) { return CH_ERR_INTERNAL; }
void destroy(ch_plugin*) {}
void describe(ch_plugin*, ch_sink) {}
void invoke(ch_plugin*, ch_call*, ch_buffer, ch_buffer, ch_sink) {}
void health(ch_plugin*, ch_sink) {}
void onEvent(ch_plugin*, ch_buffer, ch_sink) {}

template <class F>
const void* address(F* f) {
    const void* p;
    std::memcpy(&p, &f, sizeof p);
    return p;
}

}  // namespace

PluginTable readAsHost10(const void* raw) {
    const auto* table = static_cast<const ch_plugin_api*>(raw);
    ch_plugin_api api{};  // what a 1.0 host does: its own struct, zeroed, then the prefix
    std::memcpy(&api, table, std::min<std::size_t>(table->struct_size, sizeof api));
    return {table->struct_size,     api.abi_major,         api.abi_minor,         address(api.create),
            address(api.destroy),   address(api.describe), address(api.invoke),   address(api.health),
            address(api.on_event)};
}

std::size_t pluginApiSize() { return sizeof(ch_plugin_api); }
std::size_t hostApiSize() { return sizeof(ch_host_api); }
std::size_t httpRequestSize() { return sizeof(ch_http_request); }

const void* table10() {
    static const ch_plugin_api table = {sizeof(ch_plugin_api), 1, 0, &create, &destroy, &describe, &invoke, &health,
                                        &onEvent};
    return &table;
}

}  // namespace abi10
