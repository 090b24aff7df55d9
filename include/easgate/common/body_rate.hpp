#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace easgate::common {

// limits.min_body_rate: after a grace period a request body must keep arriving at this average
// rate, so a device that trickles a byte now and then cannot hold a connection (and an Exchange
// request slot, or the read-ahead's memory) for ever while never tripping the per-read timeout.
// The credit a burst earns is bounded: 10 MiB sent at once buys no hours of trickling, only
// read_timeout (plus the grace) from its arrival.
class BodyRateGuard {
public:
    using clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds grace{10'000};  // at most; never above read_timeout

    // min_bytes_per_second 0 leaves only read_timeout, the longest wait for any one read.
    BodyRateGuard(std::uint64_t min_bytes_per_second, std::chrono::milliseconds read_timeout,
                  clock::time_point start = clock::now())
        : rate_(min_bytes_per_second),
          read_timeout_(read_timeout),
          grace_(std::min(grace, read_timeout)),
          due_(start + grace_) {}

    void received(std::uint64_t bytes, clock::time_point now = clock::now()) {
        received_ += bytes;
        if (rate_ == 0) return;
        const auto earned = std::chrono::microseconds(bytes * 1'000'000 / rate_);
        due_ = std::min(due_ + std::chrono::duration_cast<clock::duration>(earned),
                        now + read_timeout_ + grace_);
    }
    std::uint64_t received() const { return received_; }

    // easgate goes back to reading after a wait of its own (Exchange connected or took the bytes
    // slowly): the body gets the grace again, as at its start.
    void resume(clock::time_point now = clock::now()) { due_ = std::max(due_, now + grace_); }

    // When the next read must have completed: read_timeout from now, or sooner when the body is
    // behind the rate.
    clock::time_point read_deadline(clock::time_point now = clock::now()) const {
        const auto by_read = now + read_timeout_;
        return rate_ == 0 ? by_read : std::min(by_read, due_);
    }

    // After a read timed out: whether the rate, not read_timeout, was the limit.
    bool too_slow(clock::time_point now = clock::now()) const { return rate_ != 0 && now >= due_; }

private:
    std::uint64_t rate_;
    std::chrono::milliseconds read_timeout_;
    std::chrono::milliseconds grace_;
    clock::time_point due_;  // when the bytes received so far stop paying for the wait
    std::uint64_t received_ = 0;
};

}  // namespace easgate::common
