#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace easgate::admin {

// One Prometheus metric: its name, HELP text, type and series. The admin endpoint knows only this
// shape; whoever owns the gateway's parts fills it in, so admin depends on none of them.
struct MetricFamily {
    enum class Type { counter, gauge };
    struct Series {
        std::string labels;  // e.g. upstream="exchange"; empty for a metric with a single series
        std::uint64_t value = 0;
    };
    std::string name;
    std::string help;
    Type type = Type::counter;
    std::vector<Series> series;
};

// Called on each GET /metrics for the gateway's current figures.
using MetricsSource = std::function<std::vector<MetricFamily>()>;

// The Prometheus text exposition format (version 0.0.4); a family without series is left out.
std::string render_metrics(const std::vector<MetricFamily>& families);

}  // namespace easgate::admin
