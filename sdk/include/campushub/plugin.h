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
 * plugin with the same major and a minor <= its own. A plugin built against a
 * newer minor is loaded when every host service it names in
 * required_services (1.1) exists in this host's table, and refused with the
 * name of the first missing one otherwise, or when it names none.
 *
 * Growing a struct (the rule every minor follows; core/host/tests/AbiTest.cpp
 * checks it against a frozen copy of the 1.0 header)
 * ------------------
 * 1. A struct that crosses starts with `uint32_t struct_size`, set by the side
 *    that fills it to sizeof the struct it was built with.
 * 2. Members are only appended at the end, each aligned on its natural
 *    boundary with no implicit padding: a gap is an explicit `reserved` member.
 *    The size and the offset of every member are fixed by the CH_STATIC_ASSERTs
 *    below (LP64: Linux on x86-64 and aarch64).
 * 3. The reader copies min(struct_size, sizeof) bytes into a zeroed struct of
 *    its own, so a member the writer did not know reads as 0 or NULL, and a
 *    member the reader does not know is never looked at. A new member is
 *    therefore designed so that 0 / NULL means "as before it existed".
 * 4. A reserved member is written as 0 and ignored when read; a later minor may
 *    give it a meaning only where 0 keeps the old behaviour.
 * 5. A value that changes meaning never reuses its slot: a new member is added
 *    beside it (1.1's config_lookup beside 1.0's config_get) and the old one
 *    keeps its 1.0 behaviour.
 * 6. Enumerations cross as fixed-width integers (ch_status, ch_log_level are
 *    int32_t); the enum types only name the constants.
 * A plugin that uses a member newer than the host's table tests
 * CH_HOST_HAS(api, member) first (size and non-NULL); optional services may be
 * NULL in any host: test them.
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
#define CH_ABI_VERSION_MINOR 2

/* Compile-time checks that work in C11 and C++11 (and compile to nothing in
 * older C, where the layout still holds; it is checked where the SDK is built). */
#if defined(__cplusplus)
#define CH_STATIC_ASSERT(condition, message) static_assert(condition, message)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define CH_STATIC_ASSERT(condition, message) _Static_assert(condition, message)
#else
#define CH_STATIC_ASSERT(condition, message) struct ch_static_assert_skipped
#endif

/* 1 when the host's table api (a const ch_host_api*) has member and it is not
 * NULL: the test a plugin makes before calling a service newer than its oldest
 * supported host, or an optional one (as Redis modules use
 * RMAPI_FUNC_SUPPORTED). E.g. if (CH_HOST_HAS(api, kv_lookup)) ... */
#define CH_HOST_HAS(api, member)                                                   \
    ((api)->struct_size >= offsetof(ch_host_api, member) + sizeof((api)->member) && \
     (api)->member != NULL)

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

/* Outcome of a call. The HTTP status the hub answers with is in brackets.
 * Crosses as int32_t (ch_status); the enum only names the values, so a peer
 * built with a compiler that sizes enums differently reads the same bytes. */
typedef int32_t ch_status;
enum ch_status_code {
    CH_OK = 0,
    CH_ERR_INVALID_ARGUMENT = 1,  /* the input is wrong [400] */
    CH_ERR_NOT_FOUND = 2,         /* the thing asked for does not exist [404] */
    CH_ERR_UNKNOWN_OPERATION = 3, /* no such operation [404] */
    CH_ERR_PERMISSION = 4,        /* the caller may not do this [403] */
    CH_ERR_CONFLICT = 5,          /* state forbids it now [409] */
    CH_ERR_UNAVAILABLE = 6,       /* the vendor system is down or refused [503] */
    CH_ERR_TIMEOUT = 7,           /* the vendor system did not answer in time [504] */
    CH_ERR_INTERNAL = 8           /* a bug or unexpected failure in the plugin [502] */
};

/* Severity of a log line; crosses as int32_t like ch_status. */
typedef int32_t ch_log_level;
enum ch_log_level_code {
    CH_LOG_ERROR = 3,
    CH_LOG_WARNING = 4,
    CH_LOG_INFO = 6,
    CH_LOG_DEBUG = 7
};

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
 * context of one invoke (deadline, caller, idempotency key, trace context);
 * ch_plugin is the plugin's instance. */
typedef struct ch_host ch_host;
typedef struct ch_call ch_call;
typedef struct ch_plugin ch_plugin;

/* An outbound HTTP request made through the hub's connectors. */
typedef struct ch_http_request {
    uint32_t struct_size;
    uint32_t reserved0;  /* 0; was alignment padding in 1.0 */
    ch_buffer method;    /* "GET", "POST", ... */
    ch_buffer url;       /* absolute http:// or https:// URL */
    ch_buffer headers;   /* "Name: value\r\n" lines, may be empty */
    ch_buffer body;      /* may be empty */
    uint32_t timeout_ms; /* 0: the remaining deadline of the current call */
    uint32_t reserved1;  /* 0; was alignment padding in 1.0 */
} ch_http_request;

/* The response: status 0 and an error status in the sink means no response;
 * body then holds the reason (UTF-8 text). */
typedef struct ch_http_response {
    uint32_t struct_size;
    int32_t status;    /* HTTP status code */
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

    /* --- 1.1 --- */

    /* Optional. The idempotency key of the current call, BORROWED until the
     * invoke returns; empty (length 0) when the call has none. At most 200
     * bytes of printable ASCII, so it may go into an HTTP header as it is. The
     * same key comes again when the same logical request is retried: the flow
     * engine's instance, element and attempt, or the portal's Idempotency-Key
     * scoped by the caller. Pass it on to a vendor system that takes one (an
     * Idempotency-Key header: http_request does not add it for you); for one
     * that does not, record the key and the result with kv_put before
     * answering and look it up with kv_lookup first (docs/sdk/README.md,
     * "Retries and idempotency"). */
    ch_buffer (*call_idempotency_key)(ch_call* call);

    /* Optional. The W3C trace context (`traceparent`, "00-<trace-id>-<parent-id>-
     * <flags>") of the current call, BORROWED until the invoke returns; empty
     * when the call has none. http_request and soap_call send it on by
     * themselves (with the same trace id and a new parent id) unless the plugin
     * sets a traceparent header of its own; read it to log or to pass it on
     * another way. */
    ch_buffer (*call_trace_parent)(ch_call* call);

    /* Optional. config_get that tells absent from failed: CH_OK and the value
     * written to sink; CH_ERR_NOT_FOUND when the key is not set (sink not
     * called); any other status with a message written to sink. */
    ch_status (*config_lookup)(ch_host* host, ch_buffer key, ch_sink sink);

    /* Optional (with kv_put). kv_get that tells absent from failed: CH_OK and
     * the value written to sink; CH_ERR_NOT_FOUND when the key does not exist
     * (sink not called); any other status (CH_ERR_UNAVAILABLE: the store
     * failed, CH_ERR_INVALID_ARGUMENT: a bad key) with a message written to
     * sink. */
    ch_status (*kv_lookup)(ch_host* host, ch_buffer key, ch_sink sink);

    /* Optional. Why the last host service this thread called on host failed,
     * as UTF-8 text to log; empty after a service that succeeded. BORROWED until
     * this thread's next host service call. For the services that answer only
     * a status (emit_event, kv_put, kv_delete, config_get, kv_get). */
    ch_buffer (*last_error)(ch_host* host);

    /* --- 1.2 --- */

    /* Optional. Runs one SQL statement on the data source named source, which
     * campus IT configures in hub.xml (sql/sources/<name>: its DSN, account,
     * secret, pool, whether it is writable, and which plugins may use it); the
     * plugin names the source and never sees its DSN or secret. params_json is
     * a JSON array of the statement's parameters $1..$n (strings, numbers,
     * booleans, null), always bound, never spliced into the text; empty: none.
     * One statement per call, in a READ ONLY transaction unless IT made the
     * source writable, bounded by the call's deadline (30 s when call is NULL):
     * past it the statement is cancelled on the server. Calls sink exactly once:
     * CH_OK with {"columns":[{"name","type"}],"rows":[{...}],"affected":N}
     * (numeric and dates as strings, integers and floats as numbers, NULL as
     * null), or an error with {"detail","category","sqlstate"}; category is
     * invalid_request (CH_ERR_INVALID_ARGUMENT), unavailable
     * (CH_ERR_UNAVAILABLE), timeout (CH_ERR_TIMEOUT), permission (the database
     * refused the hub's account, or a write on a read-only source:
     * CH_ERR_PERMISSION; also a source this plugin may not use), bad_query or
     * bad_answer (CH_ERR_INTERNAL). detail never holds the DSN or the secret. */
    void (*sql_query)(ch_host* host, ch_call* call, ch_buffer source, ch_buffer sql, ch_buffer params_json,
                      ch_sink sink);

    /* Optional. Hands person records from the vendor system to the hub's
     * identity store (where the directory sync puts persons), applying only the
     * fields the plugin's manifest owns (<owns><data>identity.person.FIELD</data>).
     * records_json: {"records": [{"id": "<person id>", "fields": {"FIELD":
     * "value" | null, ...}}, ...]}, at most 1000 records and 4 MiB per call.
     * A field another source owns (the directory's name, department, emails...)
     * is never written: it is reported as a conflict when its value differs.
     * One transaction per call: all applied or nothing. CH_OK and a JSON summary
     * in sink: {"applied": n, "unchanged": n, "unknown_persons": n,
     * "conflict_count": n, "conflicts": [{"id", "field", "owner", "value",
     * "owner_value", "reason"}, ...]} (the first 100); CH_ERR_PERMISSION when the
     * manifest owns no identity.person field, CH_ERR_INVALID_ARGUMENT with the
     * reason for a malformed document, CH_ERR_UNAVAILABLE when the store failed;
     * the reason is written to sink. call may be NULL outside an invoke.
     * Submitting the same records again changes nothing (counted unchanged). */
    void (*identity_submit)(ch_host* host, ch_call* call, ch_buffer records_json, ch_sink sink);
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
     * Writes CH_OK (any data) or an error to sink. Delivery is durable, in
     * order and at least once: the hub keeps a cursor per plugin that moves
     * past an event only when the plugin answered CH_OK; an event it refused
     * (any error status, no answer, a crashed worker) is offered again after a
     * growing backoff, and after several refusals goes to the hub's dead
     * letters, from which IT can replay it (docs/sdk/abi-reference.md,
     * "on_event"). So an event may come more than once: de-duplicate by its
     * "id" and answer CH_OK for one already handled. */
    void (*on_event)(ch_plugin* plugin, ch_buffer event, ch_sink sink);

    /* --- 1.1 --- */

    /* Optional. NULL-terminated array of the names of the ch_host_api members
     * the plugin cannot work without, e.g. {"http_request", "kv_lookup", NULL};
     * static, like the table. A host of an older minor loads the plugin only
     * when it has every one of them (refusing it with the first missing name
     * otherwise); the hub of any minor refuses a plugin whose required service
     * it does not offer to that plugin (kv_* in a worker process, say). NULL:
     * the plugin needs nothing beyond log and config_get, and is loaded only by
     * a host of its own minor or newer. */
    const char* const* required_services;
} ch_plugin_api;

/*
 * The entry point, exported as CH_PLUGIN_ENTRY_SYMBOL. It only returns the
 * static table: no allocation, no threads, no I/O. The host checks
 * struct_size and abi_major before calling anything else.
 */
typedef const ch_plugin_api* (*ch_plugin_entry_fn)(void);

/* The layout, fixed (rule 2 above). Sizes of ABI 1.0, for readers of older
 * tables: ch_host_api 88, ch_plugin_api 56 (1.1: ch_host_api 128); ch_http_request and
 * ch_http_response did not change size. */
#define CH_HOST_API_SIZE_1_0 88u
#define CH_PLUGIN_API_SIZE_1_0 56u
/* ch_host_api of ABI 1.1 (1.2 appended sql_query and identity_submit). */
#define CH_HOST_API_SIZE_1_1 128u
#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
CH_STATIC_ASSERT(sizeof(ch_status) == 4 && sizeof(ch_log_level) == 4, "ch_status, ch_log_level: int32_t");
CH_STATIC_ASSERT(sizeof(ch_buffer) == 16 && offsetof(ch_buffer, length) == 8, "ch_buffer layout");
CH_STATIC_ASSERT(sizeof(ch_sink) == 16 && offsetof(ch_sink, ctx) == 8, "ch_sink layout");
CH_STATIC_ASSERT(sizeof(ch_http_sink) == 16 && offsetof(ch_http_sink, ctx) == 8, "ch_http_sink layout");
CH_STATIC_ASSERT(offsetof(ch_http_request, reserved0) == 4 && offsetof(ch_http_request, method) == 8 &&
                     offsetof(ch_http_request, url) == 24 && offsetof(ch_http_request, headers) == 40 &&
                     offsetof(ch_http_request, body) == 56 && offsetof(ch_http_request, timeout_ms) == 72 &&
                     offsetof(ch_http_request, reserved1) == 76 && sizeof(ch_http_request) == 80,
                 "ch_http_request layout");
CH_STATIC_ASSERT(offsetof(ch_http_response, status) == 4 && offsetof(ch_http_response, headers) == 8 &&
                     offsetof(ch_http_response, body) == 24 && sizeof(ch_http_response) == 40,
                 "ch_http_response layout");
CH_STATIC_ASSERT(offsetof(ch_host_api, abi_major) == 4 && offsetof(ch_host_api, abi_minor) == 6 &&
                     offsetof(ch_host_api, log) == 8 && offsetof(ch_host_api, config_get) == 16 &&
                     offsetof(ch_host_api, call_remaining_ms) == 24 && offsetof(ch_host_api, call_caller) == 32 &&
                     offsetof(ch_host_api, http_request) == 40 && offsetof(ch_host_api, emit_event) == 48 &&
                     offsetof(ch_host_api, kv_get) == 56 && offsetof(ch_host_api, kv_put) == 64 &&
                     offsetof(ch_host_api, kv_delete) == 72 && offsetof(ch_host_api, soap_call) == 80,
                 "ch_host_api: the 1.0 members");
CH_STATIC_ASSERT(offsetof(ch_host_api, call_idempotency_key) == CH_HOST_API_SIZE_1_0 &&
                     offsetof(ch_host_api, call_trace_parent) == 96 && offsetof(ch_host_api, config_lookup) == 104 &&
                     offsetof(ch_host_api, kv_lookup) == 112 && offsetof(ch_host_api, last_error) == 120 &&
                     CH_HOST_API_SIZE_1_1 == 128u,
                 "ch_host_api: the 1.1 members");
CH_STATIC_ASSERT(offsetof(ch_host_api, sql_query) == CH_HOST_API_SIZE_1_1 &&
                     offsetof(ch_host_api, identity_submit) == 136 && sizeof(ch_host_api) == 144,
                 "ch_host_api: the 1.2 members");
CH_STATIC_ASSERT(offsetof(ch_plugin_api, abi_major) == 4 && offsetof(ch_plugin_api, abi_minor) == 6 &&
                     offsetof(ch_plugin_api, create) == 8 && offsetof(ch_plugin_api, destroy) == 16 &&
                     offsetof(ch_plugin_api, describe) == 24 && offsetof(ch_plugin_api, invoke) == 32 &&
                     offsetof(ch_plugin_api, health) == 40 && offsetof(ch_plugin_api, on_event) == 48,
                 "ch_plugin_api: the 1.0 members");
CH_STATIC_ASSERT(offsetof(ch_plugin_api, required_services) == CH_PLUGIN_API_SIZE_1_0 &&
                     sizeof(ch_plugin_api) == 64,
                 "ch_plugin_api: the 1.1 members");
#endif

#ifdef __cplusplus
}
#endif

#endif /* CAMPUSHUB_PLUGIN_H */
