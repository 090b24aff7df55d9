#include "easgate/common/histogram.hpp"

#include <algorithm>
#include <stdexcept>

namespace easgate::common {

Histogram::Histogram(std::span<const double> bounds) : bounds_(bounds) {
    if (bounds.size() > max_buckets) throw std::invalid_argument("histogram: too many buckets");
}

void Histogram::observe(std::chrono::steady_clock::duration elapsed) {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    const double seconds = static_cast<double>(micros) / 1e6;
    // The first bound not below the value: Prometheus buckets are "less than or equal".
    const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin();
    counts_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
    sum_microseconds_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(micros, 0)),
                                std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot out{bounds_, std::vector<std::uint64_t>(bounds_.size() + 1), 0};
    for (std::size_t i = 0; i < out.counts.size(); ++i)
        out.counts[i] = counts_[i].load(std::memory_order_relaxed);
    out.sum_seconds = static_cast<double>(sum_microseconds_.load(std::memory_order_relaxed)) / 1e6;
    return out;
}

}  // namespace easgate::common
