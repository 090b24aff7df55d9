#pragma once

#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <memory>
#include <mutex>
#include <string>

// The pieces configure_logging puts under spdlog: every access log line passes through them, so
// each is cut to what a line needs.
namespace easgate::common {

// Text lines exactly as spdlog's pattern "%Y-%m-%dT%H:%M:%S.%e%z %l %v" writes them
// ("2026-12-02T22:50:01.007+01:00 info ..."), with the date, time and UTC offset formatted once
// per second per thread instead of field by field for every line.
std::unique_ptr<spdlog::formatter> make_text_line_formatter();

// Writes each line to stderr as it is logged. Unlike spdlog's stderr sink, the line is formatted
// into a buffer the sink keeps, so a line longer than 250 bytes (an access log line) costs no
// allocation.
std::shared_ptr<spdlog::sinks::sink> make_stderr_line_sink();

// The access log in a file of its own (logging.access_log): one line per request is more than the
// journal takes at a gateway's rates. Lines are gathered and written out in blocks of up to
// 64 KiB, at the latest by flush() (spdlog's flusher, every second; at exit), so a busy gateway
// makes one write in hundreds of lines instead of one per line.
class AccessLogFileSink final : public spdlog::sinks::sink {
public:
    // Opens path for appending (created 0640); throws std::runtime_error saying why it can't.
    AccessLogFileSink(std::string path, std::unique_ptr<spdlog::formatter> formatter);
    ~AccessLogFileSink() override;

    void log(const spdlog::details::log_msg& msg) override;
    void flush() override;
    void set_pattern(const std::string& pattern) override;
    void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

    // After logrotate renamed the file: what is gathered goes to the old file, then a new file is
    // opened at the path. "" when done, else why not (the old file stays in use).
    std::string reopen();
    const std::string& path() const { return path_; }

private:
    void write_out();  // with mutex_ held

    std::string path_;
    std::mutex mutex_;
    std::unique_ptr<spdlog::formatter> formatter_;
    int fd_ = -1;
    spdlog::memory_buf_t gathered_;
    std::string failure_;  // the last write's error, reported once
};

}  // namespace easgate::common
