// A plugin written against the bare C ABI (campushub/plugin.h) that misbehaves
// in the one way its config "mode" names. With mode "good" (or none) it keeps
// the contract, so every conformance check has a passing and a failing case.
#include <campushub/plugin.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

namespace {

// Where mode "leak" drops its allocations: volatile, so the compiler cannot elide them.
char* volatile leaked = nullptr;

struct Instance {
    const ch_host_api* api;
    ch_host* host;
    std::string mode;
};

void answer(ch_sink sink, ch_status status, std::string_view s) { sink.fn(sink.ctx, status, s.data(), s.size()); }

// A strict-enough check for the test: the whole input is one flat object.
bool looksLikeObject(std::string_view in) {
    if (in.size() < 2 || in.front() != '{' || in.back() != '}') return false;
    int depth = 0;
    for (std::size_t i = 0; i < in.size(); ++i) {
        char c = in[i];
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') --depth;
        if (depth > 2 || (depth == 0 && i + 1 < in.size())) return false;
        if (static_cast<unsigned char>(c) >= 0x80 || c == '\0') return false;  // keep it ASCII
    }
    return true;
}

ch_status create(const ch_host_api* api, ch_host* host, ch_buffer, ch_plugin** out, ch_sink) {
    auto* self = new Instance{api, host, "good"};
    struct Capture {
        static void write(void* ctx, ch_status, const char* data, size_t length) {
            static_cast<std::string*>(ctx)->assign(data, length);
        }
    };
    api->config_get(host, {"mode", 4}, {&Capture::write, &self->mode});
    if (self->mode == "leak") leaked = new char[64];  // never freed: one leak per create
    *out = reinterpret_cast<ch_plugin*>(self);
    return CH_OK;
}

void destroy(ch_plugin* p) { delete reinterpret_cast<Instance*>(p); }

void describe(ch_plugin* p, ch_sink sink) {
    auto* self = reinterpret_cast<Instance*>(p);
    if (self->mode == "describe")
        answer(sink, CH_OK, R"({"name":"misbehaving","version":"0.9.0","operations":[{"name":"echo"},{"name":"extra"}]})");
    else
        answer(sink, CH_OK, R"({"name":"misbehaving","version":"1.0.0","operations":[{"name":"echo","description":"echo"}]})");
}

void invoke(ch_plugin* p, ch_call* call, ch_buffer operation, ch_buffer input, ch_sink sink) {
    auto* self = reinterpret_cast<Instance*>(p);
    std::string_view op(operation.data ? operation.data : "", operation.data ? operation.length : 0);
    std::string_view in(input.data ? input.data : "", input.data ? input.length : 0);
    if (op != "echo") return answer(sink, CH_ERR_UNKNOWN_OPERATION, "unknown operation");
    bool bad = !looksLikeObject(in);
    if (bad && self->mode == "crash") {
        // The signal's default action: in a sanitizer build ASan's handler would
        // report and exit with status 1 instead of the death the kit must see.
        std::signal(SIGSEGV, SIG_DFL);
        std::raise(SIGSEGV);
    }
    if (bad && self->mode == "abort") std::abort();
    if (bad && self->mode == "exit") std::exit(3);
    if (bad && self->mode == "hang") std::this_thread::sleep_for(std::chrono::hours(1));
    if (bad && self->mode == "accept") return answer(sink, CH_OK, R"({"accepted":true})");
    if (bad && self->mode == "silent") return;
    if (bad && self->mode == "twice") answer(sink, CH_ERR_INVALID_ARGUMENT, "first");
    if (bad) return answer(sink, CH_ERR_INVALID_ARGUMENT, R"({"detail":"input must be a flat JSON object"})");
    if (self->mode == "wrong_context" && self->api->http_request) {
        // Makes up its own key and trace instead of passing the call's on.
        static const char headers[] =
            "Idempotency-Key: made-up-key\r\ntraceparent: 00-11111111111111111111111111111111-2222222222222222-01\r\n";
        ch_http_request request{};
        request.struct_size = sizeof request;
        request.method = {"POST", 4};
        request.url = {"http://vendor.invalid/", 22};
        request.headers = {headers, sizeof headers - 1};
        ch_http_sink ignore{[](void*, ch_status, const ch_http_response*) {}, nullptr};
        self->api->http_request(self->host, call, &request, ignore);
    }
    answer(sink, CH_OK, R"({"echo":true})");
}

void health(ch_plugin* p, ch_sink sink) {
    auto* self = reinterpret_cast<Instance*>(p);
    if (self->mode == "health") return answer(sink, CH_OK, R"({"status":"fine"})");
    answer(sink, CH_OK, R"({"status":"up"})");
}

}  // namespace

extern "C" CH_EXPORT const ch_plugin_api* campushub_plugin_entry(void) {
    static const ch_plugin_api api = {sizeof(ch_plugin_api), CH_ABI_VERSION_MAJOR, CH_ABI_VERSION_MINOR,
                                      &create, &destroy, &describe, &invoke, &health, nullptr};
    return &api;
}
