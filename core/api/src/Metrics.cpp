#include "hub/api/Metrics.h"

#include "hub/common/JsonWriter.h"

namespace hub::api {

namespace {

void appendEscaped(std::string& out, std::string_view text, bool quote) {
    for (char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (quote && c == '"')
            out += "\\\"";
        else
            out += c;
    }
}

const char* typeName(MetricsText::Type type) {
    switch (type) {
    case MetricsText::Type::Counter: return "counter";
    case MetricsText::Type::Gauge: return "gauge";
    case MetricsText::Type::Histogram: return "histogram";
    }
    return "untyped";
}

constexpr const char* kStatusClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

std::size_t statusClass(unsigned status) { return status >= 100 && status < 600 ? status / 100 - 1 : 4; }

}  // namespace

void LatencyHistogram::observe(std::chrono::microseconds elapsed) noexcept {
    const std::int64_t us = elapsed.count() < 0 ? 0 : elapsed.count();
    std::size_t bucket = 0;
    while (bucket < boundsUs.size() && us > boundsUs[bucket]) ++bucket;
    buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    sumUs_.fetch_add(static_cast<std::uint64_t>(us), std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const noexcept {
    Snapshot s;
    for (std::size_t i = 0; i < buckets_.size(); ++i) s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    s.sumSeconds = static_cast<double>(sumUs_.load(std::memory_order_relaxed)) / 1e6;
    return s;
}

std::uint64_t LatencyHistogram::Snapshot::count() const {
    std::uint64_t n = 0;
    for (auto b : buckets) n += b;
    return n;
}

void MetricsText::Family::line(std::string_view suffix, Labels labels, std::string_view le, double value) {
    samples_ += name_;
    samples_ += suffix;
    if (labels.size() > 0 || !le.empty()) {
        samples_ += '{';
        bool first = true;
        for (const auto& [name, text] : labels) {
            if (!first) samples_ += ',';
            first = false;
            samples_ += name;
            samples_ += "=\"";
            appendEscaped(samples_, text, true);
            samples_ += '"';
        }
        if (!le.empty()) {
            if (!first) samples_ += ',';
            samples_ += "le=\"";
            samples_ += le;
            samples_ += '"';
        }
        samples_ += '}';
    }
    samples_ += ' ';
    json::appendNumber(samples_, value);
    samples_ += '\n';
}

MetricsText::Family& MetricsText::Family::add(double value, Labels labels) {
    line({}, labels, {}, value);
    return *this;
}

MetricsText::Family& MetricsText::Family::addHistogram(const LatencyHistogram::Snapshot& histogram, Labels labels) {
    // Cumulative buckets, and _count equal to +Inf's from the same reading, as the
    // format requires (observers may add between two loads).
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < LatencyHistogram::boundLabels.size(); ++i) {
        cumulative += histogram.buckets[i];
        line("_bucket", labels, LatencyHistogram::boundLabels[i], static_cast<double>(cumulative));
    }
    cumulative += histogram.buckets.back();
    line("_bucket", labels, "+Inf", static_cast<double>(cumulative));
    line("_sum", labels, {}, histogram.sumSeconds);
    line("_count", labels, {}, static_cast<double>(cumulative));
    return *this;
}

MetricsText::Family& MetricsText::family(std::string_view name, std::string_view help, Type type) {
    for (auto& f : families_)
        if (f->name_ == name) return *f;
    auto f = std::make_unique<Family>();
    f->name_ = name;
    f->help_ = help;
    f->type_ = type;
    families_.push_back(std::move(f));
    return *families_.back();
}

std::string MetricsText::str() const {
    std::string out;
    for (const auto& f : families_) {
        if (f->samples_.empty()) continue;
        out += "# HELP ";
        out += f->name_;
        out += ' ';
        appendEscaped(out, f->help_, false);
        out += "\n# TYPE ";
        out += f->name_;
        out += ' ';
        out += typeName(f->type_);
        out += '\n';
        out += f->samples_;
    }
    return out;
}

struct RequestMetrics::RouteSeries {
    LatencyHistogram latency;
    std::array<std::atomic<std::uint64_t>, 5> responses{};  // by status class
};

struct RequestMetrics::PluginSeries {
    std::string name;  // written once, before pluginCount_ publishes it
    LatencyHistogram latency;
};

RequestMetrics::RequestMetrics() : plugins_(std::make_unique<PluginSeries[]>(maxPlugins)) {}
RequestMetrics::~RequestMetrics() = default;

void RequestMetrics::track(const Router& router, std::string_view pluginRoute,
                           std::function<bool(const std::string&)> isLoaded) {
    router_ = &router;
    routeCount_ = router.routes().size();
    routes_ = std::make_unique<RouteSeries[]>(routeCount_ + 1);
    isLoaded_ = std::move(isLoaded);
    pluginRoute_ = -1;
    for (std::size_t i = 0; i < routeCount_; ++i)
        if (!pluginRoute.empty() && router.routes()[i].pattern == pluginRoute) pluginRoute_ = static_cast<int>(i);
}

HttpServer::Observer RequestMetrics::observer() {
    return [this](const Request& request, unsigned status, std::chrono::microseconds elapsed) {
        observe(request, status, elapsed);
    };
}

void RequestMetrics::observe(const Request& request, unsigned status, std::chrono::microseconds elapsed) {
    if (!routes_) return;
    const bool matched = request.route >= 0 && static_cast<std::size_t>(request.route) < routeCount_;
    RouteSeries& series = routes_[matched ? static_cast<std::size_t>(request.route) : routeCount_];
    series.latency.observe(elapsed);
    series.responses[statusClass(status)].fetch_add(1, std::memory_order_relaxed);
    if (matched && request.route == pluginRoute_) {
        if (auto* h = pluginHistogram(request.param("system"))) h->observe(elapsed);
    }
}

// A few plugins: a scan of the published names is cheaper than any map, and
// needs no lock. Only a name seen for the first time takes the mutex, and only
// a loaded plugin's name gets a series (callers choose {system} freely).
LatencyHistogram* RequestMetrics::pluginHistogram(const std::string& name) {
    std::size_t n = pluginCount_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < n; ++i)
        if (plugins_[i].name == name) return &plugins_[i].latency;
    if (name.empty() || !isLoaded_ || !isLoaded_(name)) return nullptr;
    std::lock_guard lock(pluginMutex_);
    n = pluginCount_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i)
        if (plugins_[i].name == name) return &plugins_[i].latency;
    if (n == maxPlugins) return nullptr;
    plugins_[n].name = name;
    pluginCount_.store(n + 1, std::memory_order_release);
    return &plugins_[n].latency;
}

void RequestMetrics::render(MetricsText& out, const std::vector<std::string>& loadedPlugins) const {
    if (!routes_) return;
    auto& latency = out.family("hub_http_request_duration_seconds",
                               "Time from a request's last byte read to its answer's first byte written, per route",
                               MetricsText::Type::Histogram);
    auto& responses = out.family("hub_http_responses_total", "Answers per route and status class",
                                 MetricsText::Type::Counter);
    for (std::size_t i = 0; i <= routeCount_; ++i) {
        auto snapshot = routes_[i].latency.snapshot();
        if (snapshot.count() == 0) continue;
        std::string method = i < routeCount_ ? std::string(http::to_string(router_->routes()[i].method)) : "";
        std::string_view route = i < routeCount_ ? std::string_view(router_->routes()[i].pattern) : "unmatched";
        latency.addHistogram(snapshot, {{"method", method}, {"route", route}});
        for (std::size_t c = 0; c < 5; ++c) {
            auto count = routes_[i].responses[c].load(std::memory_order_relaxed);
            if (count)
                responses.add(static_cast<double>(count),
                              {{"method", method}, {"route", route}, {"status_class", kStatusClasses[c]}});
        }
    }
    auto& plugins = out.family("hub_plugin_call_duration_seconds",
                               "Plugin calls through the API, from request read to answer written, per plugin",
                               MetricsText::Type::Histogram);
    const std::size_t n = pluginCount_.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < n; ++i) {
        bool loaded = false;
        for (const auto& p : loadedPlugins) loaded |= p == plugins_[i].name;
        if (loaded) plugins.addHistogram(plugins_[i].latency.snapshot(), {{"plugin", plugins_[i].name}});
    }
}

}  // namespace hub::api
