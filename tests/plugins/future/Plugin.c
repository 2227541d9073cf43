/* "future_*": plugins written in plain C11 against campushub/plugin.h whose
 * table claims an ABI minor newer than the hub's (FUTURE_MINOR), to test the
 * look-up by capability: required_services is FUTURE_REQUIRES (a list of
 * string literals) or, when that is not defined, NULL. Also "needs_kv": the
 * hub's own minor, requiring kv_get, for a worker process (which has no
 * key-value state) to refuse. One operation, "ping". */
#include <campushub/plugin.h>

#include <string.h>

#ifndef FUTURE_NAME
#define FUTURE_NAME "future"
#endif
#ifndef FUTURE_MINOR
#define FUTURE_MINOR (CH_ABI_VERSION_MINOR + 1)
#endif

static int instance;

static ch_status create(const ch_host_api* api, ch_host* host, ch_buffer config, ch_plugin** out, ch_sink error) {
    (void)api;
    (void)host;
    (void)config;
    (void)error;
    *out = (ch_plugin*)&instance;
    return CH_OK;
}

static void destroy(ch_plugin* plugin) {
    (void)plugin;
}

static void describe(ch_plugin* plugin, ch_sink sink) {
    static const char json[] = "{\"name\":\"" FUTURE_NAME "\",\"version\":\"0.1.0\","
                               "\"operations\":[{\"name\":\"ping\",\"description\":\"Answers pong\"}]}";
    (void)plugin;
    sink.fn(sink.ctx, CH_OK, json, sizeof json - 1);
}

static void invoke(ch_plugin* plugin, ch_call* call, ch_buffer operation, ch_buffer input, ch_sink sink) {
    static const char pong[] = "{\"pong\":true}";
    static const char unknown[] = "unknown operation";
    (void)plugin;
    (void)call;
    (void)input;
    if (operation.length == 4 && memcmp(operation.data, "ping", 4) == 0)
        sink.fn(sink.ctx, CH_OK, pong, sizeof pong - 1);
    else
        sink.fn(sink.ctx, CH_ERR_UNKNOWN_OPERATION, unknown, sizeof unknown - 1);
}

#ifdef FUTURE_REQUIRES
static const char* const required[] = {FUTURE_REQUIRES, NULL};
#define FUTURE_REQUIRED required
#else
#define FUTURE_REQUIRED NULL
#endif

static const ch_plugin_api table = {
    sizeof(ch_plugin_api), CH_ABI_VERSION_MAJOR, FUTURE_MINOR, create, destroy, describe, invoke, NULL, NULL,
    FUTURE_REQUIRED,
};

CH_EXPORT const ch_plugin_api* campushub_plugin_entry(void) {
    return &table;
}
