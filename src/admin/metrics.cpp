#include "easgate/admin/metrics.hpp"

#include <spdlog/fmt/fmt.h>

#include <iterator>

namespace easgate::admin {
namespace {

const char* type_name(MetricFamily::Type type) {
    switch (type) {
        case MetricFamily::Type::gauge:
            return "gauge";
        case MetricFamily::Type::histogram:
            return "histogram";
        case MetricFamily::Type::counter:
            break;
    }
    return "counter";
}

// name{labels} value, with extra (an le label) after the series' own labels.
void sample(std::string& out, std::string_view name, std::string_view suffix, std::string_view labels,
            std::string_view extra, double value) {
    out.append(name).append(suffix);
    if (!labels.empty() || !extra.empty()) {
        out.append("{").append(labels);
        if (!labels.empty() && !extra.empty()) out.append(",");
        out.append(extra).append("}");
    }
    // Shortest form that reads back exactly: integers without a fraction, "+Inf" never needed here.
    fmt::format_to(std::back_inserter(out), " {}\n", value);
}

void histogram(std::string& out, const std::string& name, const MetricFamily::Series& series) {
    const auto& h = series.histogram;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.counts.size(); ++i) {
        cumulative += h.counts[i];
        const std::string le = i < h.bounds.size() ? fmt::format("le=\"{}\"", h.bounds[i]) : "le=\"+Inf\"";
        sample(out, name, "_bucket", series.labels, le, static_cast<double>(cumulative));
    }
    sample(out, name, "_sum", series.labels, "", h.sum_seconds);
    sample(out, name, "_count", series.labels, "", static_cast<double>(cumulative));
}

}  // namespace

std::string label(std::string_view name, std::string_view value) {
    std::string out(name);
    out.append("=\"");
    for (const char c : value) {
        if (c == '\\')
            out.append("\\\\");
        else if (c == '"')
            out.append("\\\"");
        else if (c == '\n')
            out.append("\\n");
        else
            out.push_back(c);
    }
    out.push_back('"');
    return out;
}

MetricFamily::Series histogram_series(std::string labels, const common::Histogram& histogram) {
    MetricFamily::Series series;
    series.labels = std::move(labels);
    series.histogram = histogram.snapshot();
    series.value = series.histogram.sum_seconds;
    return series;
}

std::string render_metrics(const std::vector<MetricFamily>& families) {
    std::string out;
    for (const auto& family : families) {
        if (family.series.empty()) continue;
        out.append("# HELP ").append(family.name).append(" ").append(family.help).append("\n");
        out.append("# TYPE ").append(family.name).append(" ").append(type_name(family.type)).append("\n");
        for (const auto& series : family.series) {
            if (family.type == MetricFamily::Type::histogram) {
                histogram(out, family.name, series);
            } else {
                sample(out, family.name, "", series.labels, "", series.value);
            }
        }
    }
    return out;
}

}  // namespace easgate::admin
