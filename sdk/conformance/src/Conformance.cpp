// The conformance checks. Each case is a function run against a fresh FakeHost
// and a fresh plugin instance, in a forked child unless options.fork is off, so
// that a plugin which crashes or hangs on hostile input fails its test with the
// signal named instead of ending the run.
#include "campushub/testing/conformance.hpp"

#include "campushub/plugin.h"
#include "campushub/testing/fake_host.hpp"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

namespace campushub::testing {

namespace {

// ---------------------------------------------------------------------------
// Running one case, isolated

/// The failures of one case, gathered where the plugin runs (maybe a child).
struct Report {
    std::vector<std::string> failures;
    void fail(std::string message) { failures.push_back(std::move(message)); }
};

using Body = std::function<void(Report&)>;

void runGuarded(const Body& body, Report& report) {
    try {
        body(report);
    } catch (const std::exception& e) {
        report.fail(std::string("the check threw: ") + e.what());
    } catch (...) {
        report.fail("the check threw an unknown exception");
    }
}

bool writeAll(int fd, const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

/// Runs body in a child process and returns its failures; a crash, a call to
/// exit() or a hang becomes a failure too.
std::vector<std::string> runForked(const Body& body, std::chrono::seconds timeout) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return {std::string("pipe: ") + std::strerror(errno)};
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(fds[0]);
        ::close(fds[1]);
        return {std::string("fork: ") + std::strerror(errno)};
    }
    if (pid == 0) {
        ::close(fds[0]);
        Report report;
        runGuarded(body, report);
        for (const auto& f : report.failures) {
            auto size = static_cast<std::uint32_t>(f.size());
            writeAll(fds[1], &size, sizeof size);
            writeAll(fds[1], f.data(), f.size());
        }
        const std::uint32_t done = 0xFFFFFFFFu;  // the case finished: anything after it is not a crash
        writeAll(fds[1], &done, sizeof done);
        ::close(fds[1]);
        ::_exit(0);  // no static destructors: they belong to the parent
    }
    ::close(fds[1]);
    std::string received;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool timedOut = false;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timedOut = true;
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) continue;
        char chunk[65536];
        ssize_t n = ::read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        received.append(chunk, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    if (timedOut) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }

    std::vector<std::string> failures;
    bool finished = false;
    std::size_t at = 0;
    while (at + 4 <= received.size()) {
        std::uint32_t size;
        std::memcpy(&size, received.data() + at, 4);
        at += 4;
        if (size == 0xFFFFFFFFu) {
            finished = true;
            break;
        }
        if (at + size > received.size()) break;
        failures.push_back(received.substr(at, size));
        at += size;
    }
    if (timedOut) {
        failures.push_back("the plugin did not answer within " + std::to_string(timeout.count()) +
                           " s (hung; the child was killed)");
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        failures.push_back("the plugin CRASHED: signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")");
    } else if (WIFEXITED(status) && !finished) {
        failures.push_back("the plugin ended the process (exit status " + std::to_string(WEXITSTATUS(status)) +
                           ") in the middle of a call");
    }
    return failures;
}

std::vector<std::string> runCase(const Body& body, const ConformanceOptions& options) {
    if (options.fork) return runForked(body, options.caseTimeout);
    Report report;
    runGuarded(body, report);
    return report.failures;
}

// ---------------------------------------------------------------------------
// What the checks look at

/// The plugin under test, shared by all registered tests.
struct Subject {
    ConformanceOptions options;
    std::optional<PluginManifest> manifest;
    std::unique_ptr<PluginLibrary> library;
    // Why the checks cannot run, by what they need; empty when fine.
    std::string manifestProblem;  ///< plugin.xml unreadable or invalid.
    std::string loadProblem;      ///< The library cannot be loaded.
    std::string tableProblem;     ///< Its function table is unusable.
    std::map<std::string, std::string> config;

    const ch_plugin_api* table() const { return library->entry()(); }
};

/// Shows bytes for a message: printable ASCII and UTF-8 kept, the rest escaped, long text cut.
std::string shown(std::string_view s, std::size_t max = 160) {
    std::string out;
    for (std::size_t i = 0; i < s.size() && out.size() < max; ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != 0x7F) {
            out += static_cast<char>(c);
        } else {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        }
    }
    if (out.size() >= max || s.size() > max) out += "... (" + std::to_string(s.size()) + " bytes)";
    return out;
}

/// Parses JSON with the same parser the hub validates plugin answers with.
std::optional<Poco::Dynamic::Var> parseJson(const std::string& text, std::string& why) {
    try {
        Poco::JSON::Parser parser;
        return parser.parse(text);
    } catch (const Poco::Exception& e) {
        why = e.displayText();
    } catch (const std::exception& e) {
        why = e.what();
    }
    return std::nullopt;
}

Poco::JSON::Object::Ptr asObject(const Poco::Dynamic::Var& v) {
    return v.type() == typeid(Poco::JSON::Object::Ptr) ? v.extract<Poco::JSON::Object::Ptr>() : nullptr;
}

bool knownStatus(ch_status s) { return s >= CH_OK && s <= CH_ERR_INTERNAL; }

/// The rules every answer follows: exactly one, a known status, valid JSON when CH_OK.
void checkAnswer(Report& report, const std::string& what, const Result& r) {
    if (r.answers != 1) {
        report.fail(what + ": answered its sink " + std::to_string(r.answers) + " times; the contract is exactly once");
        return;
    }
    if (!knownStatus(r.status)) report.fail(what + ": answered an unknown status " + std::to_string(r.status));
    if (r.status == CH_OK) {
        std::string why;
        if (!parseJson(r.body, why))
            report.fail(what + ": answered CH_OK with invalid JSON (" + why + "): " + shown(r.body) +
                        " (the hub answers such a call with 502)");
    }
}

/// A fresh fake host with the plugin's config; outbound HTTP and SOAP fail as if
/// the vendor system were down (the kit makes no network calls).
std::unique_ptr<FakeHost> makeHost(const Subject& s, bool withConfig = true) {
    auto host = std::make_unique<FakeHost>();
    if (withConfig)
        for (const auto& [k, v] : s.config) host->setConfig(k, v);
    host->onHttp([](const HttpRequest&) {
        return HttpReply::failure(CH_ERR_UNAVAILABLE, "the conformance kit makes no network calls");
    });
    return host;
}

// ---------------------------------------------------------------------------
// Hostile input

struct Input {
    std::string name;
    std::string bytes;
    bool mustReject;      ///< Not a valid JSON object: the answer must be an error status.
    bool nullData = false;  ///< Pass {NULL, 0}.
};

std::string repeat(std::string_view s, std::size_t times) {
    std::string out;
    out.reserve(s.size() * times);
    for (std::size_t i = 0; i < times; ++i) out += s;
    return out;
}

const std::vector<Input>& hostileInputs() {
    static const std::vector<Input> inputs = [] {
        constexpr std::size_t MiB = 1024 * 1024;
        constexpr std::size_t deep = 100000;
        std::vector<Input> v;
        // Not JSON at all, or not a JSON object: the ABI's operation input is a
        // JSON object (the hub sends {} for an empty body), so these are errors.
        v.push_back({"not_json", "this is not JSON", true});
        v.push_back({"truncated", R"({"name":)", true});
        v.push_back({"empty", "", true});
        v.push_back({"null_buffer", "", true, true});
        v.push_back({"trailing_garbage", R"({} {})", true});
        v.push_back({"embedded_nul", std::string("{}\0{\"x\":1}", 10), true});
        v.push_back({"top_level_array", "[]", true});
        v.push_back({"top_level_number", "42", true});
        v.push_back({"top_level_string", R"("text")", true});
        v.push_back({"top_level_null", "null", true});
        v.push_back({"top_level_bool", "true", true});
        v.push_back({"invalid_utf8_bytes", "\xff\xfe\xfd", true});
        v.push_back({"invalid_utf8_in_string", "{\"name\":\"\xc3\x28\"}", true});
        v.push_back({"utf16_surrogate_bytes", "{\"name\":\"\xed\xa0\x80\"}", true});
        v.push_back({"overlong_utf8", "{\"name\":\"\xc0\xaf\"}", true});
        v.push_back({"huge_unterminated_1MiB", "{\"name\":\"" + std::string(MiB, 'x'), true});
        v.push_back({"huge_array_1MiB", "[" + repeat("0,", MiB / 2) + "0]", true});
        v.push_back({"deep_array_100000", std::string(deep, '[') + std::string(deep, ']'), true});
        v.push_back({"deep_object_100000", repeat(R"({"a":)", deep) + "1" + std::string(deep, '}'), true});
        // Valid objects of an unexpected shape: an operation may accept or refuse
        // them, but must survive and answer once.
        v.push_back({"empty_object", "{}", false});
        v.push_back({"wrong_field_types",
                     R"({"id":[],"name":{},"student_id":12345,"isbn":true,"value":null,"count":"many","amount":1e308})",
                     false});
        v.push_back({"unknown_fields_only", R"({"campushub_conformance_unknown":"x"})", false});
        v.push_back({"huge_string_1MiB", "{\"name\":\"" + repeat("汉", MiB / 3) + "\"}", false});
        v.push_back({"unicode_escapes", R"({"name":"\u0000\ud83d\ude00\u202e张三"})", false});
        return v;
    }();
    return inputs;
}

// ---------------------------------------------------------------------------
// The checks

void checkAbiVersion(const Subject& s, Report& report) {
    const ch_plugin_api* t = s.table();
    if (!t) {
        report.fail("the entry point returned NULL");
        return;
    }
    if (t->abi_major != CH_ABI_VERSION_MAJOR)
        report.fail("built for ABI major " + std::to_string(t->abi_major) + "; this SDK and the hub speak " +
                    std::to_string(CH_ABI_VERSION_MAJOR));
    if (t->abi_minor > CH_ABI_VERSION_MINOR)
        report.fail("built for ABI " + std::to_string(t->abi_major) + "." + std::to_string(t->abi_minor) +
                    ", newer than this SDK's " + std::to_string(CH_ABI_VERSION_MAJOR) + "." +
                    std::to_string(CH_ABI_VERSION_MINOR) + ": a hub of this version would refuse it");
    if (s.manifest->abiMajor != t->abi_major || s.manifest->abiMinor != t->abi_minor)
        report.fail(s.manifest->file + " says abi=\"" + std::to_string(s.manifest->abiMajor) + "." +
                    std::to_string(s.manifest->abiMinor) + "\" but the library was built for " +
                    std::to_string(t->abi_major) + "." + std::to_string(t->abi_minor));
}

void checkAbiTable(const Subject& s, Report& report) {
    const ch_plugin_api* t = s.table();
    if (!t) {
        report.fail("the entry point returned NULL");
        return;
    }
    constexpr std::size_t size10 = offsetof(ch_plugin_api, on_event) + sizeof(t->on_event);
    if (t->struct_size < size10)
        report.fail("struct_size is " + std::to_string(t->struct_size) + ", smaller than the ABI 1.0 table (" +
                    std::to_string(size10) + " bytes)");
    if (!t->create) report.fail("create is NULL (required)");
    if (!t->destroy) report.fail("destroy is NULL (required)");
    if (!t->describe) report.fail("describe is NULL (required)");
    if (!t->invoke) report.fail("invoke is NULL (required)");
    if (s.table() != t) report.fail("the entry point returned a different table on its second call; return a static");
}

void checkCreate(const Subject& s, Report& report) {
    auto host = makeHost(s);
    try {
        auto plugin = host->load(s.library->entry());
    } catch (const CreateError& e) {
        report.fail("create failed with the config given (" + std::to_string(s.config.size()) +
                    " keys; set more with --config key=value): " + e.what());
    }
}

void checkCreateWithoutConfig(const Subject& s, Report& report) {
    auto host = makeHost(s, false);
    const ch_plugin_api* t = s.table();
    detail::Collector error;
    ch_plugin* instance = nullptr;
    ch_status rc = t->create(host->api(), host->handle(), {"{}", 2}, &instance, error.sink());
    const Result& e = error.result;
    if (rc == CH_OK) {
        if (!instance) report.fail("create returned CH_OK but no instance");
        else t->destroy(instance);
        return;
    }
    if (!knownStatus(rc)) report.fail("create returned an unknown status " + std::to_string(rc));
    if (e.answers != 1)
        report.fail("create failed (status " + std::to_string(rc) + ") but wrote its error sink " +
                    std::to_string(e.answers) + " times instead of once with a message");
}

void checkDescribe(const Subject& s, Report& report) {
    auto host = makeHost(s);
    auto plugin = host->load(s.library->entry());
    Result r = plugin.describe();
    if (r.answers != 1) {
        report.fail("describe answered " + std::to_string(r.answers) + " times; the contract is exactly once");
        return;
    }
    if (r.status != CH_OK) {
        report.fail("describe answered status " + std::to_string(r.status) + ": " + shown(r.body));
        return;
    }
    std::string why;
    auto parsed = parseJson(r.body, why);
    if (!parsed) {
        report.fail("describe answered invalid JSON (" + why + "): " + shown(r.body));
        return;
    }
    auto object = asObject(*parsed);
    if (!object) {
        report.fail("describe must answer a JSON object, got: " + shown(r.body));
        return;
    }
    const PluginManifest& m = *s.manifest;
    auto stringMember = [&](const char* key) -> std::optional<std::string> {
        if (!object->has(key) || !object->get(key).isString()) {
            report.fail(std::string("describe: \"") + key + "\" must be a string: " + shown(r.body));
            return std::nullopt;
        }
        return object->getValue<std::string>(key);
    };
    if (auto name = stringMember("name"); name && *name != m.name)
        report.fail("describe says name \"" + *name + "\" but " + m.file + " says \"" + m.name + "\"");
    if (auto version = stringMember("version"); version && *version != m.version)
        report.fail("describe says version \"" + *version + "\" but " + m.file + " says \"" + m.version + "\"");
    auto ops = object->getArray("operations");
    if (!ops) {
        report.fail("describe: \"operations\" must be an array: " + shown(r.body));
        return;
    }
    std::set<std::string> described, declared;
    for (std::size_t i = 0; i < ops->size(); ++i) {
        auto op = ops->getObject(static_cast<unsigned>(i));
        if (!op || !op->has("name") || !op->get("name").isString()) {
            report.fail("describe: operations[" + std::to_string(i) + "] needs a string \"name\"");
            continue;
        }
        if (op->has("description") && !op->get("description").isString())
            report.fail("describe: operations[" + std::to_string(i) + "].description must be a string");
        if (!described.insert(op->getValue<std::string>("name")).second)
            report.fail("describe lists operation \"" + op->getValue<std::string>("name") + "\" twice");
    }
    for (const auto& op : m.operations) declared.insert(op.name);
    for (const auto& op : declared)
        if (!described.count(op))
            report.fail("operation \"" + op + "\" is in " + m.file + " but the library does not describe it");
    for (const auto& op : described)
        if (!declared.count(op))
            report.fail("the library describes operation \"" + op + "\" which " + m.file + " does not declare");
}

void checkHostileInput(const Subject& s, const std::string& operation, const Input& input, Report& report) {
    auto host = makeHost(s);
    auto plugin = host->load(s.library->entry());
    std::string_view bytes = input.nullData ? std::string_view() : std::string_view(input.bytes);
    Result r = plugin.invoke(operation, bytes);
    std::string what = operation + " on input " + input.name + " (" + shown(input.bytes, 60) + ")";
    checkAnswer(report, what, r);
    if (input.mustReject && r.answers == 1 && r.status == CH_OK)
        report.fail(what + ": answered CH_OK; input that is not a valid JSON object must get an error status "
                           "(CH_ERR_INVALID_ARGUMENT), got: " + shown(r.body));
}

// The host services a hub of this SDK's minor may offer, by member name.
const std::set<std::string, std::less<>>& knownServices() {
    static const std::set<std::string, std::less<>> names = {
        "log", "config_get", "call_remaining_ms", "call_caller", "http_request", "emit_event", "kv_get", "kv_put",
        "kv_delete", "soap_call", "call_idempotency_key", "call_trace_parent", "config_lookup", "kv_lookup",
        "last_error", "sql_query", "identity_submit"};
    return names;
}

// What a worker process (isolation="process") does not offer: no store, no outbox.
bool needsTheHubsStore(std::string_view service) {
    return service == "emit_event" || service.rfind("kv_", 0) == 0;
}

void checkRequiredServices(const Subject& s, Report& report) {
    const ch_plugin_api* t = s.table();
    if (!t || t->struct_size < offsetof(ch_plugin_api, required_services) + sizeof t->required_services ||
        !t->required_services)
        return;
    constexpr std::size_t kMax = 64;
    std::size_t i = 0;
    for (; i < kMax && t->required_services[i]; ++i) {
        std::string name(t->required_services[i], ::strnlen(t->required_services[i], 65));
        if (!knownServices().count(name))
            report.fail("required_services names '" + shown(name, 64) + "', which no hub of ABI " +
                        std::to_string(CH_ABI_VERSION_MAJOR) + "." + std::to_string(CH_ABI_VERSION_MINOR) +
                        " offers: a typo, or a service of a newer SDK (such a hub refuses the plugin)");
        else if (s.manifest->isolation == "process" && needsTheHubsStore(name))
            report.fail("required_services names '" + name + "' but plugin.xml says isolation=\"process\": a worker "
                        "process has no key-value state or outbox, so the hub would refuse the plugin");
        else if (name == "identity_submit" && s.manifest->ownedPersonFields.empty())
            report.fail("required_services names 'identity_submit' but plugin.xml owns no person field "
                        "(<owns><data>identity.person.FIELD</data></owns>): the hub offers the service only to a "
                        "plugin that owns one, so it would refuse this plugin");
    }
    if (i == kMax) report.fail("required_services holds no NULL within " + std::to_string(kMax) + " names");
}

// A header's value in "Name: value\r\n" lines (ASCII case-insensitive name), or "".
std::string headerValue(std::string_view headers, std::string_view name) {
    for (std::size_t start = 0; start < headers.size();) {
        std::size_t end = headers.find('\n', start);
        if (end == std::string_view::npos) end = headers.size();
        std::string_view line = headers.substr(start, end - start);
        bool same = line.size() > name.size() && line[name.size()] == ':';
        for (std::size_t i = 0; same && i < name.size(); ++i) same = (line[i] | 0x20) == (name[i] | 0x20);
        if (same) {
            std::string_view v = line.substr(name.size() + 1);
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
            while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.remove_suffix(1);
            return std::string(v);
        }
        start = end + 1;
    }
    return {};
}

// ABI 1.1: the call carries an idempotency key and a trace; what the plugin
// sends its vendor must carry the call's own (or none), never another.
void checkCallContext(const Subject& s, const std::string& operation, Report& report) {
    const std::string key = "conformance:" + operation + ":attempt-1";
    const std::string trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    auto host = makeHost(s);
    host->setIdempotencyKey(key).setTraceParent(trace);
    auto plugin = host->load(s.library->entry());
    Result r = plugin.invoke(operation, "{}");
    checkAnswer(report, operation + " with an idempotency key and a traceparent", r);
    for (const auto& request : host->httpRequests()) {
        std::string sent = headerValue(request.headers, "Idempotency-Key");
        if (!sent.empty() && sent != key)
            report.fail(operation + " sent Idempotency-Key '" + shown(sent, 80) + "' to " + shown(request.url, 80) +
                        "; pass the call's own key on unchanged (call_idempotency_key: '" + key + "')");
        std::string tp = headerValue(request.headers, "traceparent");
        if (tp.size() < 35 || tp.compare(3, 32, trace, 3, 32) != 0)
            report.fail(operation + " sent traceparent '" + shown(tp, 80) + "' to " + shown(request.url, 80) +
                        ", not of the call's trace: leave the header to the hub, or pass call_trace_parent on");
    }
}

void checkUnknownOperation(const Subject& s, Report& report) {
    auto host = makeHost(s);
    auto plugin = host->load(s.library->entry());
    for (std::string op : {std::string("campushub_conformance_no_such_operation"), std::string(),
                           std::string("\xff\xfe"), std::string(4096, 'a')}) {
        Result r = plugin.invoke(op, "{}");
        std::string what = "operation \"" + shown(op, 40) + "\"";
        checkAnswer(report, what, r);
        if (r.answers == 1 && r.status != CH_ERR_UNKNOWN_OPERATION)
            report.fail(what + " (not in the manifest) must answer CH_ERR_UNKNOWN_OPERATION, got status " +
                        std::to_string(r.status));
    }
}

void checkHealth(const Subject& s, Report& report) {
    auto host = makeHost(s);
    auto plugin = host->load(s.library->entry());
    Result r = plugin.health();
    checkAnswer(report, "health", r);
    if (r.answers != 1 || r.status != CH_OK) {
        if (r.answers == 1)
            report.fail("health answered status " + std::to_string(r.status) +
                        "; report a sick vendor system as {\"status\":\"down\"} with CH_OK instead");
        return;
    }
    std::string why;
    auto parsed = parseJson(r.body, why);
    auto object = parsed ? asObject(*parsed) : nullptr;
    if (!object) {
        report.fail("health must answer a JSON object, got: " + shown(r.body));
        return;
    }
    std::string status = object->optValue<std::string>("status", "");
    if (status != "up" && status != "degraded" && status != "down")
        report.fail("health: \"status\" must be \"up\", \"degraded\" or \"down\", got: " + shown(r.body));
    if (object->has("detail") && !object->get("detail").isString())
        report.fail("health: \"detail\" must be a string");
}

void checkEvents(const Subject& s, Report& report) {
    auto host = makeHost(s);
    auto plugin = host->load(s.library->entry());
    const std::string cloudEvent =
        R"({"specversion":"1.0","id":"conformance-1","source":"urn:campushub:conformance",)"
        R"("type":"edu.campus.hub.identity.changed","subject":"2023010001","data":{"name":"张三"}})";
    for (const std::string& event : {std::string("not json"), std::string(), std::string("{}"), cloudEvent,
                                     std::string("\xff\xfe"), std::string(1024 * 1024, '['),
                                     std::string("{\"type\":\"edu.campus.hub.\xc3\x28\"}")}) {
        Result r = plugin.onEvent(event);
        std::string what = "on_event(" + shown(event, 60) + ")";
        if (r.answers != 1)
            report.fail(what + ": answered " + std::to_string(r.answers) + " times; the contract is exactly once");
        else if (!knownStatus(r.status))
            report.fail(what + ": answered an unknown status " + std::to_string(r.status));
    }
}

std::size_t heapInUse() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 info = ::mallinfo2();
    return info.uordblks + info.hblkhd;
#else
    return 0;
#endif
}

void oneLife(const Subject& s, Report& report, int cycle) {
    auto host = makeHost(s);
    auto plugin = host->load(s.library->entry());
    checkAnswer(report, "describe in cycle " + std::to_string(cycle), plugin.describe());
    for (const auto& op : s.manifest->operations) {
        checkAnswer(report, op.name + " in cycle " + std::to_string(cycle), plugin.invoke(op.name, "{}"));
        checkAnswer(report, op.name + " in cycle " + std::to_string(cycle), plugin.invoke(op.name, "not json"));
    }
    checkAnswer(report, "health in cycle " + std::to_string(cycle), plugin.health());
}

void checkLifecycle(const Subject& s, Report& report) {
    // Warm up first: lazily built statics (locale tables, Poco singletons) are
    // not leaks.
    for (int i = 0; i < 5 && report.failures.empty(); ++i) oneLife(s, report, -1 - i);
    std::size_t before = heapInUse();
    for (int i = 0; i < s.options.lifecycleCycles && report.failures.empty(); ++i) oneLife(s, report, i);
    std::size_t after = heapInUse();
    // A leak of even one small allocation per cycle shows as at least 16 bytes
    // per cycle; less is allocator noise. valgrind or ASan give the exact answer.
    std::size_t cycles = static_cast<std::size_t>(std::max(1, s.options.lifecycleCycles));
    if (after > before && after - before >= cycles * 16)
        report.fail("heap in use grew by " + std::to_string(after - before) + " bytes over " +
                    std::to_string(cycles) + " create/destroy cycles (about " +
                    std::to_string((after - before) / cycles) +
                    " per cycle): a leak; run campushub-conformance --no-fork under "
                    "valgrind --leak-check=full to find it");
}

void checkConcurrentInvokes(const Subject& s, Report& report) {
    auto host = makeHost(s);
    auto plugin = host->load(s.library->entry());
    std::mutex mutex;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                const auto& op = s.manifest->operations[static_cast<std::size_t>(i + t) % s.manifest->operations.size()];
                const char* input = (i % 3 == 0) ? "{}" : (i % 3 == 1) ? "not json" : "[]";
                Report local;
                checkAnswer(local, op.name + " on thread " + std::to_string(t), plugin.invoke(op.name, input));
                if (!local.failures.empty()) {
                    std::lock_guard lock(mutex);
                    for (auto& f : local.failures) report.fail(std::move(f));
                }
            }
        });
    }
    for (auto& t : threads) t.join();
}

// The hub refuses every call to an operation that does not say who may call it.
void checkAccessPolicies(const Subject& s, Report& report) {
    for (const auto& op : s.manifest->operations) {
        if (op.hasPolicy()) continue;
        report.fail(s.manifest->file + ": operation " + op.name +
                    " declares no access policy, so the hub refuses every call to it: give it audiences, roles "
                    "and/or self, or access=\"authenticated\" (docs/sdk/abi-reference.md#access-policies)");
    }
}

// ---------------------------------------------------------------------------
// GoogleTest registration

class ConformanceCase : public ::testing::Test {
public:
    using Check = std::function<void(const Subject&, Report&)>;
    /// What a check needs before it can run.
    enum class Needs { Manifest, Library, Table };
    ConformanceCase(std::shared_ptr<const Subject> subject, Check check, Needs needs)
        : subject_(std::move(subject)), check_(std::move(check)), needs_(needs) {}

    void TestBody() override {
        if (!subject_->manifestProblem.empty()) FAIL() << subject_->manifestProblem;
        if (needs_ >= Needs::Library && !subject_->loadProblem.empty()) FAIL() << subject_->loadProblem;
        if (needs_ >= Needs::Table && !subject_->tableProblem.empty()) FAIL() << subject_->tableProblem;
        const Subject& s = *subject_;
        for (const auto& f : runCase([&](Report& r) { check_(s, r); }, s.options)) ADD_FAILURE() << f;
    }

private:
    std::shared_ptr<const Subject> subject_;
    Check check_;
    Needs needs_;
};

class SkippedCase : public ::testing::Test {
public:
    explicit SkippedCase(std::string why) : why_(std::move(why)) {}
    void TestBody() override { GTEST_SKIP() << why_; }

private:
    std::string why_;
};

void add(const std::shared_ptr<const Subject>& subject, const std::string& suite, const std::string& name,
         ConformanceCase::Check check, ConformanceCase::Needs needs = ConformanceCase::Needs::Table) {
    ::testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                            [subject, check, needs]() -> ::testing::Test* {
                                return new ConformanceCase(subject, check, needs);
                            });
}

void skip(const std::string& suite, const std::string& name, const std::string& why) {
    ::testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                            [why]() -> ::testing::Test* { return new SkippedCase(why); });
}

}  // namespace

std::map<std::string, std::string> conformanceConfig(const PluginManifest& manifest,
                                                     const std::map<std::string, std::string>& given) {
    std::map<std::string, std::string> config = given;
    for (const auto& key : manifest.config) {
        if (!key.required || config.count(key.name)) continue;
        if (key.type == "url") config[key.name] = "http://conformance.invalid/";
        else if (key.type == "integer" || key.type == "int" || key.type == "number") config[key.name] = "1";
        else if (key.type == "boolean" || key.type == "bool") config[key.name] = "false";
        else config[key.name] = "conformance";
    }
    return config;
}

void registerConformanceTests(const ConformanceOptions& options) {
    using Needs = ConformanceCase::Needs;
    auto subject = std::make_shared<Subject>();
    subject->options = options;
    try {
        subject->manifest = readPluginManifest(options.plugin);
        subject->config = conformanceConfig(*subject->manifest, options.config);
    } catch (const std::exception& e) {
        subject->manifestProblem = std::string("cannot read the manifest: ") + e.what();
    }
    if (subject->manifest) {
        // Load it in a child first when we may: a library whose static
        // constructors or entry point crash fails a test instead of the run.
        std::string path = subject->manifest->libraryPath();
        auto probe = runCase(
            [&](Report& r) {
                try {
                    PluginLibrary library(path);
                    if (!library.entry()()) r.fail("the entry point returned NULL");
                } catch (const std::exception& e) {
                    r.fail(e.what());
                }
            },
            options);
        if (!probe.empty()) {
            subject->loadProblem = "cannot load " + path + ": " + probe.front();
        } else {
            try {
                subject->library = std::make_unique<PluginLibrary>(path);
            } catch (const std::exception& e) {
                subject->loadProblem = e.what();
            }
        }
    } else {
        subject->loadProblem = subject->manifestProblem;
    }
    const ch_plugin_api* t = subject->library ? subject->table() : nullptr;
    if (!subject->library) subject->tableProblem = subject->loadProblem;
    else if (!t || t->abi_major != CH_ABI_VERSION_MAJOR || !t->create || !t->destroy || !t->describe || !t->invoke)
        subject->tableProblem = "the plugin's function table is unusable (see Abi.*)";
    if (!subject->tableProblem.empty()) t = nullptr;

    std::shared_ptr<const Subject> s = subject;
    // Checks that cannot run are not registered: one clear failure names the cause.
    add(s, "Manifest", "IsValid", [](const Subject&, Report&) {}, Needs::Manifest);
    if (!subject->manifest) return;
    add(s, "Manifest", "EveryOperationHasAnAccessPolicy", checkAccessPolicies, Needs::Manifest);
    add(s, "Abi", "LibraryLoads", [](const Subject&, Report&) {}, Needs::Library);
    if (!subject->library) return;
    add(s, "Abi", "VersionMatchesSdkAndManifest", checkAbiVersion, Needs::Library);
    add(s, "Abi", "TableIsComplete", checkAbiTable, Needs::Library);
    add(s, "Abi", "RequiredServicesExist", checkRequiredServices, Needs::Library);
    if (!t) return;
    add(s, "Create", "SucceedsWithConfig", checkCreate);
    add(s, "Create", "WithoutConfigFailsCleanlyOrSucceeds", checkCreateWithoutConfig);
    add(s, "Describe", "MatchesManifest", checkDescribe);
    add(s, "Operation", "UnknownNameAnswersUnknownOperation", checkUnknownOperation);
    for (const auto& op : subject->manifest->operations)
        for (const auto& input : hostileInputs())
            add(s, "Operation", op.name + "/" + input.name,
                [name = op.name, &input](const Subject& sub, Report& r) { checkHostileInput(sub, name, input, r); });
    for (const auto& op : subject->manifest->operations)
        add(s, "Operation", op.name + "/PassesTheCallsKeyAndTraceOn",
            [name = op.name](const Subject& sub, Report& r) { checkCallContext(sub, name, r); });
    if (!t->health) skip("Health", "AnswersStatus", "the plugin has no health function (optional)");
    else add(s, "Health", "AnswersStatus", checkHealth);
    if (!t->on_event) skip("Events", "SurviveMalformedEvents", "the plugin has no on_event function (optional)");
    else add(s, "Events", "SurviveMalformedEvents", checkEvents);
    add(s, "Lifecycle", "CreateDestroy" + std::to_string(options.lifecycleCycles) + "Times", checkLifecycle);
    add(s, "Lifecycle", "ConcurrentInvokesAnswerEach", checkConcurrentInvokes);
}

}  // namespace campushub::testing
