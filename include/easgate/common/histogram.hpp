#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace easgate::common {

// Upper bounds in seconds for what a device waits for (a whole request, Exchange's answer).
inline constexpr std::array<double, 13> request_seconds_buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                   1,     2.5,  5,     10,   30,  60};
// Upper bounds in seconds for one exchange with a backing server (a KDC, a directory server).
inline constexpr std::array<double, 13> backend_seconds_buckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// A latency histogram recorded from any thread without a lock: one relaxed atomic per bucket and
// one for the sum, so an observation costs two atomic adds on the request path.
class Histogram {
public:
    static constexpr std::size_t max_buckets = 16;

    // bounds: ascending upper bounds in seconds, at most max_buckets, alive as long as this (a constant).
    explicit Histogram(std::span<const double> bounds);
    Histogram(const Histogram&) = delete;
    Histogram& operator=(const Histogram&) = delete;

    void observe(std::chrono::steady_clock::duration elapsed);

    // What /metrics shows: counts per bucket (not cumulative), the last one past every bound.
    struct Snapshot {
        std::span<const double> bounds;
        std::vector<std::uint64_t> counts;  // bounds.size() + 1
        double sum_seconds = 0;
    };
    Snapshot snapshot() const;

private:
    std::span<const double> bounds_;
    std::array<std::atomic<std::uint64_t>, max_buckets + 1> counts_{};
    std::atomic<std::uint64_t> sum_microseconds_{0};
};

}  // namespace easgate::common
