#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

namespace easgate::common {

// Sends spdlog's default logger to stderr at `level` (spdlog's names: "info", "warn"…), as text
// lines or, with json_lines, as one JSON object per line. With access_log (a path), the access log
// (log_with_fields) goes to that file instead, gathered and written at least once a second; a file
// that can't be opened throws std::runtime_error saying why.
void configure_logging(const std::string& level, bool json_lines, const std::string& access_log = {});

// SIGHUP, after logrotate renamed the access log file: a new one is opened at its path.
void reopen_access_log();
// Writes out the access log lines gathered so far (at exit).
void flush_access_log();

// One field of a structured line (the access log): text or a number, viewed, not copied. A
// json_only field is one the text line's message already says.
struct LogField {
    LogField(std::string_view key, std::string_view text, bool json_only = false)
        : key(key), text(text), json_only(json_only) {}
    LogField(std::string_view key, std::int64_t number, bool json_only = false)
        : key(key), number(number), numeric(true), json_only(json_only) {}

    std::string_view key;
    std::string_view text;
    std::int64_t number = 0;
    bool numeric = false;
    bool json_only = false;
};

// Logs message (at info, or warn) followed by its fields: " key=value" in text lines (a value that
// is empty or holds a space, quote, backslash or control byte is quoted and escaped), members of
// the line's object next to "msg" in JSON lines.
void log_with_fields(bool warning, std::string_view message, std::span<const LogField> fields);

// A name or path a device chose, for the message of a text log line, where it is one word: nullopt
// when it can go as it is; else with space, quote, backslash, control bytes and DEL written \xNN,
// and with escape_non_ascii every byte from 0x80 too (text not known to be UTF-8, a request-target).
std::optional<std::string> escaped_log_word(std::string_view word, bool escape_non_ascii);

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
    static constexpr std::size_t max_reasons = 1024;
    std::chrono::steady_clock::duration interval_;
    std::mutex mutex_;
    std::unordered_map<std::string, Window> windows_;
};

// What admit() returned, for the end of the message let through: " (3 more like it suppressed)",
// or nothing.
std::string suppressed_note(long suppressed);

}  // namespace easgate::common
