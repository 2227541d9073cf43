/*
 * CampusHub plugin ABI — the only thing that crosses between the hub (hubd)
 * and an adapter plugin library. Pure C, standard headers only.
 *
 * Compatibility policy
 * --------------------
 * CH_ABI_VERSION_MAJOR changes only when something existing changes meaning,
 * type or position. The host refuses a plugin whose major differs from its own.
 *
 * CH_ABI_VERSION_MINOR grows when members are APPENDED to the end of
 * ch_plugin_api or ch_host_api (grouped under a comment naming the minor that
 * added them), or new status codes, log levels or functions are added. Nothing
 * is ever inserted, reordered or removed within a major. The host loads any
 * plugin with the same major and a minor <= its own; a plugin built against a
 * newer minor is refused (it may call services this host lacks).
 *
 * Every struct that crosses starts with `struct_size`: the reader copies the
 * prefix it knows into a zeroed struct, so an older peer sees NULL (or 0) for
 * members it does not know. Optional host services may be NULL: test them.
 *
 * Naming: ch_ types; ch_plugin_api members are implemented by the PLUGIN;
 * ch_host_api members are implemented by the HOST.
 *
 * Ownership
 * ---------
 * - ch_buffer is BORROWED: {data, length}, not NUL-terminated, valid only for
 *   the duration of the call it is passed to. Copy what you keep.
 * - Results travel through a ch_sink: the callee calls sink.fn(sink.ctx, ...)
 *   exactly once before returning; the caller copies the bytes in that call.
 *   Neither side ever frees memory the other allocated.
 * - No C++ exceptions may cross: every plugin entry catches everything.
 * - All JSON is UTF-8.
 *
 * Threads
 * -------
 * The host may call invoke, health and on_event concurrently from several
 * threads on one instance: up to the plugin's configured concurrency at once
 * on its worker threads. With execution "loop" (hub.xml, in-process plugins
 * only) invoke runs on the hub's event-loop threads instead, up to
 * concurrency calls at once there, several interleaved on one thread while
 * each waits in http_request or soap_call; up to min(concurrency, 4) worker
 * threads meanwhile run on_event, health and calls from elsewhere in the hub,
 * so up to concurrency + 4 calls may be in the plugin at once. create and
 * destroy are never concurrent with anything else on that instance.
 */
#ifndef CAMPUSHUB_PLUGIN_H
#define CAMPUSHUB_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define CH_ABI_VERSION_MAJOR 1
#define CH_ABI_VERSION_MINOR 0

/* The one symbol a plugin library exports (see ch_plugin_entry_fn). */
#define CH_PLUGIN_ENTRY_SYMBOL "campushub_plugin_entry"

#if defined(_WIN32)
#define CH_EXPORT __declspec(dllexport)
#else
#define CH_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed byte range (see Ownership). */
typedef struct ch_buffer {
    const char* data;
    size_t length;
} ch_buffer;

/* Outcome of a call. The HTTP status the hub answers with is in brackets. */
typedef enum ch_status {
    CH_OK = 0,
    CH_ERR_INVALID_ARGUMENT = 1,  /* the input is wrong [400] */
    CH_ERR_NOT_FOUND = 2,         /* the thing asked for does not exist [404] */
    CH_ERR_UNKNOWN_OPERATION = 3, /* no such operation [404] */
    CH_ERR_PERMISSION = 4,        /* the caller may not do this [403] */
    CH_ERR_CONFLICT = 5,          /* state forbids it now [409] */
    CH_ERR_UNAVAILABLE = 6,       /* the vendor system is down or refused [503] */
    CH_ERR_TIMEOUT = 7,           /* the vendor system did not answer in time [504] */
    CH_ERR_INTERNAL = 8           /* a bug or unexpected failure in the plugin [502] */
} ch_status;

typedef enum ch_log_level {
    CH_LOG_ERROR = 3,
    CH_LOG_WARNING = 4,
    CH_LOG_INFO = 6,
    CH_LOG_DEBUG = 7
} ch_log_level;

/*
 * Where a callee writes its result. status is CH_OK with a JSON value in
 * data, or an error status with a JSON object {"detail": "..."} or a plain
 * UTF-8 message in data. Call fn exactly once, before returning.
 */
typedef struct ch_sink {
    void (*fn)(void* ctx, ch_status status, const char* data, size_t length);
    void* ctx;
} ch_sink;

/* Opaque handles. ch_host is the host's per-plugin context, ch_call the host's
 * context of one invoke (deadline, caller); ch_plugin is the plugin's instance. */
typedef struct ch_host ch_host;
typedef struct ch_call ch_call;
typedef struct ch_plugin ch_plugin;

/* An outbound HTTP request made through the hub's connectors. */
typedef struct ch_http_request {
    uint32_t struct_size;
    ch_buffer method;  /* "GET", "POST", ... */
    ch_buffer url;     /* absolute http:// or https:// URL */
    ch_buffer headers; /* "Name: value\r\n" lines, may be empty */
    ch_buffer body;    /* may be empty */
    uint32_t timeout_ms; /* 0: the remaining deadline of the current call */
} ch_http_request;

/* The response: status 0 and an error status in the sink means no response. */
typedef struct ch_http_response {
    uint32_t struct_size;
    int status;        /* HTTP status code */
    ch_buffer headers; /* "Name: value\r\n" lines */
    ch_buffer body;
} ch_http_response;

typedef struct ch_http_sink {
    void (*fn)(void* ctx, ch_status status, const ch_http_response* response);
    void* ctx;
} ch_http_sink;

/*
 * Services the host offers a plugin. Passed to create; valid until destroy
 * returns. Members marked Optional may be NULL.
 */
typedef struct ch_host_api {
    uint32_t struct_size;
    uint16_t abi_major;
    uint16_t abi_minor;

    /* --- 1.0 --- */

    /* Required. Writes a line to the hub's log under the plugin's name. Never
     * pass secrets. */
    void (*log)(ch_host* host, ch_log_level level, ch_buffer message);

    /* Required. Looks up a key of this plugin's config section (as in
     * hub.xml, e.g. "base_url"). Returns 1 and writes the value to sink
     * (status CH_OK) when present, 0 otherwise (sink not called). */
    int (*config_get)(ch_host* host, ch_buffer key, ch_sink sink);

    /* Optional. Milliseconds left before the current call's deadline; 0 when
     * it has passed. */
    uint32_t (*call_remaining_ms)(ch_call* call);

    /* Optional. Writes the caller of the current call to sink as JSON:
     * {"subject": "...", "roles": [...], "acting_for": "..."}. */
    void (*call_caller)(ch_call* call, ch_sink sink);

    /* Optional. Performs an HTTP request through the hub's connection pools,
     * bounded by the request's timeout and the call's deadline. Calls sink
     * exactly once before returning. call may be NULL outside an invoke. */
    void (*http_request)(ch_host* host, ch_call* call, const ch_http_request* request,
                         ch_http_sink sink);

    /* Optional. Emits an event (a JSON object with at least "type" under
     * "edu.campus.hub.", "subject" and "data") through the hub's outbox.
     * Returns CH_OK or an error status. */
    ch_status (*emit_event)(ch_host* host, ch_buffer event_json);

    /* Optional. Durable key-value state private to this plugin. kv_get returns
     * 1 and writes the value to sink when the key exists, else 0. */
    int (*kv_get)(ch_host* host, ch_buffer key, ch_sink sink);
    ch_status (*kv_put)(ch_host* host, ch_buffer key, ch_buffer value);
    ch_status (*kv_delete)(ch_host* host, ch_buffer key);

    /* Optional. Sends a SOAP 1.1/1.2 envelope body to endpoint with action and
     * writes the response envelope (XML) to sink. */
    void (*soap_call)(ch_host* host, ch_call* call, ch_buffer endpoint, ch_buffer action,
                      ch_buffer envelope, ch_sink sink);
} ch_host_api;

/*
 * What the plugin implements. Returned by the entry point; the table must
 * stay valid as long as the library is loaded (use a static).
 */
typedef struct ch_plugin_api {
    uint32_t struct_size;
    uint16_t abi_major; /* CH_ABI_VERSION_MAJOR the plugin was built with */
    uint16_t abi_minor; /* CH_ABI_VERSION_MINOR the plugin was built with */

    /* --- 1.0 --- */

    /* Required. Creates an instance. config is the plugin's config section as
     * a JSON object. On success sets *out and returns CH_OK; on failure
     * returns an error status and writes a message to error. host_api and
     * host stay valid until destroy returns. */
    ch_status (*create)(const ch_host_api* host_api, ch_host* host, ch_buffer config,
                        ch_plugin** out, ch_sink error);

    /* Required. Destroys an instance; no other call on it runs or follows. */
    void (*destroy)(ch_plugin* plugin);

    /* Required. Writes the plugin's description to sink as JSON:
     * {"name": "...", "version": "x.y.z", "operations": [{"name": "...",
     *  "description": "..."}]}. It must match plugin.xml. */
    void (*describe)(ch_plugin* plugin, ch_sink sink);

    /* Required. Runs one operation. input is the request as a JSON object
     * (the hub sends {} for an empty body); answer anything that is not a
     * valid JSON object with CH_ERR_INVALID_ARGUMENT, and an operation not in
     * the manifest with CH_ERR_UNKNOWN_OPERATION (the conformance kit checks
     * both). Writes the JSON result, or an error, to sink. */
    void (*invoke)(ch_plugin* plugin, ch_call* call, ch_buffer operation, ch_buffer input,
                   ch_sink sink);

    /* Optional. Writes {"status": "up"|"degraded"|"down", "detail": "..."} to
     * sink, typically after probing the vendor system cheaply. */
    void (*health)(ch_plugin* plugin, ch_sink sink);

    /* Optional. Receives a CloudEvent (JSON, structured mode) the plugin
     * subscribed to in its manifest, e.g. edu.campus.hub.identity.changed.
     * Writes CH_OK (any data) or an error to sink; errors are retried. */
    void (*on_event)(ch_plugin* plugin, ch_buffer event, ch_sink sink);
} ch_plugin_api;

/*
 * The entry point, exported as CH_PLUGIN_ENTRY_SYMBOL. It only returns the
 * static table: no allocation, no threads, no I/O. The host checks
 * struct_size and abi_major before calling anything else.
 */
typedef const ch_plugin_api* (*ch_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* CAMPUSHUB_PLUGIN_H */
