#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace easgate::common {

// Sends spdlog's default logger to stderr at `level` (spdlog's names: "info", "warn"…), as text
// lines or, with json_lines, as one JSON object per line.
void configure_logging(const std::string& level, bool json_lines);

// Lets a message through at most once per interval per reason, so a certificate scan or a
// misbehaving client fleet cannot flood the log. Counts what it held back and reports it with
// the next message it lets through.
class LogRateLimiter {
public:
    explicit LogRateLimiter(std::chrono::steady_clock::duration interval = std::chrono::seconds(1))
        : interval_(interval) {}

    // Returns how many messages with this reason were suppressed since the last one let through,
    // or -1 when this one must be suppressed too.
    long admit(std::string_view reason);

private:
    struct Window {
        std::chrono::steady_clock::time_point last;
        long suppressed = 0;
    };
    std::chrono::steady_clock::duration interval_;
    std::mutex mutex_;
    std::unordered_map<std::string, Window> windows_;
};

}  // namespace easgate::common
