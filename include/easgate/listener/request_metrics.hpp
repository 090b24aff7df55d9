#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "easgate/common/histogram.hpp"

namespace easgate::listener {

// What devices asked of the gateway, for /metrics; shared by all listeners and kept across
// reloads. Recorded on the worker threads without a lock: a fixed table of atomic counters by
// command label (eas::command_labels) and status, one histogram, one gauge.
class RequestMetrics {
public:
    RequestMetrics();

    // A request answered with status; command is one of eas::command_labels(). held_long_poll:
    // Exchange held it by design (Ping, Sync with Wait), so its duration is not observed.
    void count(std::string_view command, unsigned status, bool held_long_poll,
               std::chrono::steady_clock::duration elapsed);

    struct Count {
        std::string_view command;
        unsigned status;
        std::uint64_t requests;
    };
    std::vector<Count> counts() const;  // the non-zero ones
    const common::Histogram& durations() const { return durations_; }

    void long_poll_started() { long_polls_.fetch_add(1, std::memory_order_relaxed); }
    void long_poll_ended() { long_polls_.fetch_sub(1, std::memory_order_relaxed); }
    std::uint64_t long_polls_held() const { return long_polls_.load(std::memory_order_relaxed); }

private:
    static constexpr unsigned first_status = 100;
    static constexpr unsigned statuses = 500;  // 100 to 599

    std::size_t commands_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // commands_ × statuses
    common::Histogram durations_{common::request_seconds_buckets};
    std::atomic<std::uint64_t> long_polls_{0};
};

}  // namespace easgate::listener
