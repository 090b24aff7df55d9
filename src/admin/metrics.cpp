#include "easgate/admin/metrics.hpp"

namespace easgate::admin {

std::string render_metrics(const std::vector<MetricFamily>& families) {
    std::string out;
    for (const auto& family : families) {
        if (family.series.empty()) continue;
        const char* type = family.type == MetricFamily::Type::gauge ? "gauge" : "counter";
        out.append("# HELP ").append(family.name).append(" ").append(family.help).append("\n");
        out.append("# TYPE ").append(family.name).append(" ").append(type).append("\n");
        for (const auto& series : family.series) {
            out.append(family.name);
            if (!series.labels.empty()) out.append("{").append(series.labels).append("}");
            out.append(" ").append(std::to_string(series.value)).append("\n");
        }
    }
    return out;
}

}  // namespace easgate::admin
