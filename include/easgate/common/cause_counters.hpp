#pragma once

// Counters for a fixed set of causes, words from the code (never from a peer), for a /metrics
// family labelled by them: one atomic each, no lock, nothing allocated as they count.

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace easgate::common {

template <std::size_t N>
class CauseCounters {
public:
    explicit constexpr CauseCounters(const std::array<std::string_view, N>& causes) : causes_(causes) {}

    // A cause not in the set is not counted.
    void count(std::string_view cause) {
        if (const auto i = index(cause); i < N) counts_[i].fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t value(std::string_view cause) const {
        const auto i = index(cause);
        return i < N ? counts_[i].load(std::memory_order_relaxed) : 0;
    }

private:
    std::size_t index(std::string_view cause) const {
        return static_cast<std::size_t>(std::find(causes_.begin(), causes_.end(), cause) - causes_.begin());
    }

    const std::array<std::string_view, N>& causes_;
    std::array<std::atomic<std::uint64_t>, N> counts_{};
};

}  // namespace easgate::common
