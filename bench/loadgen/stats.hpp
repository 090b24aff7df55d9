#pragma once

// What a scenario measured: latencies of the requests that succeeded, failures by kind, bytes.
// A failed request never counts as throughput.

#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace easgate::bench {

class Stats {
public:
    void succeeded(std::chrono::steady_clock::duration latency, std::uint64_t bytes_up,
                   std::uint64_t bytes_down);
    // kind: connect, tls, timeout, closed, short_body, io, http_503, answered_early …
    void failed(const std::string& kind) { ++errors_[kind]; }
    // Events that are neither: tls_resumed (a handshake that resumed a session).
    void noted(const std::string& event) { ++events_[event]; }

    // Adds what another thread's Stats measured of the same run.
    void merge(const Stats& other);

    std::uint64_t successes() const { return latencies_us_.size(); }
    std::uint64_t failures() const;

    // seconds: the time the requests were made in, for the rates.
    nlohmann::json to_json(double seconds) const;
    // One line: "easgate sync: 15400 req/s, p50 3.1 ms, p99 7.9 ms, max 20 ms, 0 errors".
    std::string summary(const std::string& what, double seconds) const;

private:
    double percentile_ms(double fraction) const;

    mutable std::vector<std::uint32_t> latencies_us_;  // sorted when percentiles are asked
    std::map<std::string, std::uint64_t> errors_;
    std::map<std::string, std::uint64_t> events_;
    std::uint64_t bytes_up_ = 0;
    std::uint64_t bytes_down_ = 0;
};

}  // namespace easgate::bench
