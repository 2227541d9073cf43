#pragma once

#include "hub/api/HttpServer.h"
#include "hub/api/Router.h"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hub::api {

/// Latencies in fixed buckets. observe() is two relaxed atomic adds and takes
/// no lock, so any thread may call it on the request path.
class LatencyHistogram {
public:
    /// Upper bounds of the buckets, in microseconds (0.5 ms to 10 s); +Inf follows.
    static constexpr std::array<std::int64_t, 14> boundsUs = {500,    1000,   2500,   5000,    10000,   25000,   50000,
                                                              100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
    /// The same bounds as Prometheus `le` label values, in seconds.
    static constexpr std::array<const char*, 14> boundLabels = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                                                                "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                                                "1",      "2.5",   "5",      "10"};

    void observe(std::chrono::microseconds elapsed) noexcept;

    /// A reading: per-bucket counts (not cumulative; the last is above every bound).
    struct Snapshot {
        std::array<std::uint64_t, boundsUs.size() + 1> buckets{};
        double sumSeconds = 0;
        std::uint64_t count() const;
    };
    Snapshot snapshot() const noexcept;

private:
    std::array<std::atomic<std::uint64_t>, boundsUs.size() + 1> buckets_{};
    std::atomic<std::uint64_t> sumUs_{0};
};

/// Prometheus text exposition (format 0.0.4), built family by family: each
/// family's HELP and TYPE are written once, its samples kept together, in
/// whatever order callers add them. The one place /metrics text is formatted;
/// a new series is a family() and an add().
///
///     MetricsText text;
///     text.family("hub_plugin_up", "1 up, 0.5 degraded, 0 down", MetricsText::Type::Gauge)
///         .add(1, {{"plugin", "student_affairs"}});
///     std::string body = text.str();
class MetricsText {
public:
    enum class Type { Counter, Gauge, Histogram };
    using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

    class Family {
    public:
        /// One sample; label values are escaped here (\\, ", line feed).
        Family& add(double value, Labels labels = {});
        /// A histogram's _bucket (cumulative, le), _sum and _count lines.
        Family& addHistogram(const LatencyHistogram::Snapshot& histogram, Labels labels = {});

    private:
        friend class MetricsText;
        void line(std::string_view suffix, Labels labels, std::string_view le, double value);
        std::string name_;
        std::string help_;
        Type type_ = Type::Gauge;
        std::string samples_;
    };

    /// The family called name, created on first use with help and type.
    Family& family(std::string_view name, std::string_view help, Type type);

    std::string str() const;

private:
    std::vector<std::unique_ptr<Family>> families_;
};

/// Request latencies per route pattern (never the raw path: its label values
/// would be unbounded) and per plugin, fed by the HttpServer's observer. The
/// series are allocated up front; observing is relaxed atomic adds.
class RequestMetrics {
public:
    static constexpr std::size_t maxPlugins = 64;  ///< Plugins beyond it are not timed.

    RequestMetrics();
    ~RequestMetrics();
    RequestMetrics(const RequestMetrics&) = delete;
    RequestMetrics& operator=(const RequestMetrics&) = delete;

    /// Allocates one series per route of router (its patterns are the labels).
    /// Call once, after every route is added and before the server starts.
    /// Answers of pluginRoute are also timed per plugin, by its {system}
    /// parameter, for names isLoaded accepts (asked once per new name).
    void track(const Router& router, std::string_view pluginRoute = {},
               std::function<bool(const std::string&)> isLoaded = {});

    /// For HttpServer::setObserver.
    HttpServer::Observer observer();
    void observe(const Request& request, unsigned status, std::chrono::microseconds elapsed);

    /// hub_http_request_duration_seconds and hub_http_responses_total per route
    /// answered at least once; hub_plugin_call_duration_seconds for the plugins
    /// in loadedPlugins.
    void render(MetricsText& out, const std::vector<std::string>& loadedPlugins) const;

private:
    struct RouteSeries;
    struct PluginSeries;
    LatencyHistogram* pluginHistogram(const std::string& name);

    const Router* router_ = nullptr;
    std::size_t routeCount_ = 0;
    std::unique_ptr<RouteSeries[]> routes_;  // routeCount_ + 1: the last counts unmatched requests
    int pluginRoute_ = -1;
    std::function<bool(const std::string&)> isLoaded_;
    std::unique_ptr<PluginSeries[]> plugins_;  // maxPlugins; [0, pluginCount_) are named
    std::atomic<std::size_t> pluginCount_{0};
    std::mutex pluginMutex_;  // adding a plugin's series only
};

}  // namespace hub::api
