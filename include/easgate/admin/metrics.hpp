#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "easgate/common/histogram.hpp"

namespace easgate::admin {

// One Prometheus metric: its name, HELP text, type and series. The admin endpoint knows only this
// shape; whoever owns the gateway's parts fills it in, so admin depends on none of them.
struct MetricFamily {
    enum class Type { counter, gauge, histogram };
    struct Series {
        Series() = default;
        // Any number: counters are integers, gauges may be negative (seconds until a past date).
        template <class Number>
        requires std::integral<Number> || std::floating_point<Number> Series(std::string labels, Number value)
            : labels(std::move(labels)), value(static_cast<double>(value)) {}

        std::string labels;  // e.g. upstream="exchange" (see label()); empty for a single series
        double value = 0;    // a histogram's sum
        common::Histogram::Snapshot histogram;  // Type::histogram only
    };
    std::string name;
    std::string help;
    Type type = Type::counter;
    std::vector<Series> series;
};

// name="value" with the value escaped for the text format (backslash, double quote, newline).
std::string label(std::string_view name, std::string_view value);

// A histogram series: its buckets, _sum and _count are rendered from the snapshot.
MetricFamily::Series histogram_series(std::string labels, const common::Histogram& histogram);

// Called on each GET /metrics for the gateway's current figures.
using MetricsSource = std::function<std::vector<MetricFamily>()>;

// The Prometheus text exposition format (version 0.0.4); a family without series is left out.
std::string render_metrics(const std::vector<MetricFamily>& families);

}  // namespace easgate::admin
