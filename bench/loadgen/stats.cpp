#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace easgate::bench {

void Stats::succeeded(std::chrono::steady_clock::duration latency, std::uint64_t bytes_up,
                      std::uint64_t bytes_down) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
    latencies_us_.push_back(static_cast<std::uint32_t>(
        std::clamp<std::int64_t>(us, 0, std::numeric_limits<std::uint32_t>::max())));
    bytes_up_ += bytes_up;
    bytes_down_ += bytes_down;
}

void Stats::merge(const Stats& other) {
    latencies_us_.insert(latencies_us_.end(), other.latencies_us_.begin(), other.latencies_us_.end());
    for (const auto& [kind, count] : other.errors_) errors_[kind] += count;
    for (const auto& [event, count] : other.events_) events_[event] += count;
    bytes_up_ += other.bytes_up_;
    bytes_down_ += other.bytes_down_;
}

std::uint64_t Stats::failures() const {
    std::uint64_t total = 0;
    for (const auto& [kind, count] : errors_) total += count;
    return total;
}

double Stats::percentile_ms(double fraction) const {
    if (latencies_us_.empty()) return 0;
    std::sort(latencies_us_.begin(), latencies_us_.end());
    const auto rank =
        static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(latencies_us_.size())));
    return latencies_us_[std::clamp<std::size_t>(rank, 1, latencies_us_.size()) - 1] / 1000.0;
}

nlohmann::json Stats::to_json(double seconds) const {
    const double per_second = seconds > 0 ? 1 / seconds : 0;
    double sum_us = 0;
    for (const auto us : latencies_us_) sum_us += us;
    const auto count = static_cast<double>(latencies_us_.size());
    return {{"seconds", seconds},
            {"requests", successes()},
            {"req_per_s", count * per_second},
            {"latency_ms",
             {{"p50", percentile_ms(0.50)},
              {"p90", percentile_ms(0.90)},
              {"p99", percentile_ms(0.99)},
              {"max", percentile_ms(1.0)},
              {"mean", count > 0 ? sum_us / count / 1000.0 : 0}}},
            {"errors", errors_},
            {"error_total", failures()},
            {"events", events_},
            {"bytes_up", bytes_up_},
            {"bytes_down", bytes_down_},
            {"upload_mb_per_s", static_cast<double>(bytes_up_) * per_second / 1e6},
            {"download_mb_per_s", static_cast<double>(bytes_down_) * per_second / 1e6}};
}

std::string Stats::summary(const std::string& what, double seconds) const {
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s: %.0f req/s, p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.1f ms, %llu errors",
                  what.c_str(), seconds > 0 ? static_cast<double>(successes()) / seconds : 0.0,
                  percentile_ms(0.5), percentile_ms(0.9), percentile_ms(0.99), percentile_ms(1.0),
                  static_cast<unsigned long long>(failures()));
    std::string text = line;
    for (const auto& [kind, count] : errors_) text += " " + kind + "=" + std::to_string(count);
    return text;
}

}  // namespace easgate::bench
