// Test plugin: misbehaves on request so the host's process isolation can be
// driven against real crashes and hangs. Written against the SDK only.
#include <campushub/json.hpp>
#include <campushub/plugin.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

// Dies of SIGSEGV in a sanitizer build too, as a vendor library's wild write
// does: the signal's default action instead of ASan's handler (which would
// report and exit with status 1), and no UBSan null check (which would stop first).
#if defined(__clang__)
__attribute__((no_sanitize("undefined")))
#elif defined(__GNUC__)
__attribute__((no_sanitize_undefined))
#endif
void writeThroughNull() {
    std::signal(SIGSEGV, SIG_DFL);
    volatile int* null = nullptr;
    *null = 42;
}

class CrashyPlugin : public campushub::Plugin {
public:
    CrashyPlugin(campushub::Host& host, std::string_view config) : Plugin(host), createConfig_(config) {
        if (host.config("fail_create") == std::optional<std::string>("true"))
            throw campushub::InvalidArgument("fail_create is set: refusing to start (拒绝启动)");
        if (auto delay = host.config("destroy_delay_ms")) destroyDelayMs_ = std::atoi(delay->c_str());

        operation("ok", "Echoes its input, which must be a JSON object",
                  [](campushub::Call&, std::string_view input) {
                      campushub::json::parseObject(input);
                      return std::string(input);
                  });
        operation("echo", "Echoes its input unread (for benchmarks)",
                  [](campushub::Call&, std::string_view input) { return std::string(input); });
        operation("segfault", "Writes through a null pointer", [](campushub::Call&, std::string_view) {
            writeThroughNull();
            return std::string("{}");
        });
        operation("abort", "Calls std::abort", [](campushub::Call&, std::string_view) -> std::string {
            std::abort();
        });
        operation("exit", "Exits the process with status 7", [](campushub::Call&, std::string_view) -> std::string {
            std::_Exit(7);
        });
        operation("hang", "Sleeps forever", [](campushub::Call&, std::string_view) -> std::string {
            for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
        });
        operation("slow", "Sleeps {\"ms\": N} milliseconds, then answers",
                  [this](campushub::Call&, std::string_view input) {
                      auto request = campushub::json::parseObject(input);
                      int ms = static_cast<int>(campushub::json::optionalInt(request, "ms"));
                      if (ms < 0 || ms > 600000) throw campushub::InvalidArgument("ms must be 0..600000");
                      ++sleeping_;
                      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
                      --sleeping_;
                      return "{\"slept\":" + std::to_string(ms) + "}";
                  });
        operation("sleeping", "Answers how many slow calls are sleeping in this process now",
                  [this](campushub::Call&, std::string_view) {
                      return "{\"sleeping\":" + std::to_string(sleeping_.load()) + "}";
                  });
        operation("whoami", "Answers the caller JSON the host gives",
                  [](campushub::Call& call, std::string_view) { return call.callerJson(); });
        operation("remaining", "Answers the milliseconds left before the deadline",
                  [](campushub::Call& call, std::string_view) {
                      return "{\"ms\":" + std::to_string(call.remaining().count()) + "}";
                  });
        operation("config", "Answers the config value named {\"key\": \"...\"}",
                  [this](campushub::Call&, std::string_view input) {
                      auto request = campushub::json::parseObject(input);
                      auto value = this->host().config(campushub::json::requireString(request, "key"));
                      if (!value) throw campushub::NotFound("no such config key");
                      return "{\"value\":" + campushub::jsonString(*value) + "}";
                  });
        operation("create_config", "Answers the config JSON the plugin was created with",
                  [this](campushub::Call&, std::string_view) { return createConfig_; });
        operation("fetch", "GETs {\"url\": \"...\"} through the host's HTTP service",
                  [this](campushub::Call& call, std::string_view input) {
                      auto request = campushub::json::parseObject(input);
                      auto r = this->host().http(&call, "GET", campushub::json::requireString(request, "url"));
                      return "{\"status\":" + std::to_string(r.status) + ",\"body\":" + campushub::jsonString(r.body) +
                             "}";
                  });
        operation("log", "Writes {\"message\": \"...\"} to the host's log",
                  [this](campushub::Call&, std::string_view input) {
                      auto request = campushub::json::parseObject(input);
                      this->host().info(campushub::json::requireString(request, "message"));
                      return std::string("{}");
                  });
        operation("pid", "Answers the process id it runs in", [](campushub::Call&, std::string_view) {
            return "{\"pid\":" + std::to_string(::getpid()) + "}";
        });
    }

    // A plugin slow to let go (it closes vendor sessions, flushes files): for
    // tests of what the host does meanwhile.
    ~CrashyPlugin() override {
        if (destroyDelayMs_ <= 0) return;
        host().info("destroying: waiting " + std::to_string(destroyDelayMs_) + " ms");
        std::this_thread::sleep_for(std::chrono::milliseconds(destroyDelayMs_));
        host().info("destroyed");
    }

private:
    std::string createConfig_;
    int destroyDelayMs_ = 0;
    std::atomic<int> sleeping_{0};
};

}  // namespace

CAMPUSHUB_PLUGIN(CrashyPlugin, "crashy", "1.0.0")
