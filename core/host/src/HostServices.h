#pragma once
// Private to core/host: the host's side of the ABI's opaque handles and the
// table of host services (src/HostServices.cpp) that LoadedPlugin lends each
// plugin instance.

#include "hub/host/PluginInstance.h"
#include "hub/host/PluginServices.h"

#include <campushub/plugin.h>

#include <string>
#include <string_view>

// The opaque handles of the ABI, defined on the host's side.
struct ch_host {
    hub::host::PluginServices services;
    std::string name;
};

struct ch_call {
    const hub::host::Caller* caller;
    hub::host::Clock::time_point deadline;
    const hub::host::CallContext* context;  // never null
};

namespace hub::host {

inline std::string_view view(ch_buffer b) {
    return {b.data ? b.data : "", b.data ? b.length : 0};
}
inline ch_buffer buffer(std::string_view s) {
    return {s.data(), s.size()};
}

/// The ch_host_api a plugin gets: log, config_get, call_remaining_ms,
/// call_caller and http_request always; emit_event, kv_* and soap_call only
/// when services has what they need, else NULL, so a plugin can test for them
/// (in hub-plugin-worker: emit_event and kv_*).
ch_host_api hostApiFor(const PluginServices& services);

/// sql_query (src/SqlService.cpp): services.sql's sources that name this plugin.
void hostSqlQuery(ch_host* host, ch_call* call, ch_buffer source, ch_buffer sql, ch_buffer params,
                  ch_sink sink) noexcept;

/// Checks a plugin's required_services (a NULL-terminated list of ch_host_api
/// member names, or NULL) against api: "" when api has every one of them, else
/// why not, naming the first missing service.
std::string missingService(const ch_host_api& api, const char* const* required);

}  // namespace hub::host
