#include "log_sink.hpp"

#include <fcntl.h>
#include <spdlog/pattern_formatter.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace easgate::common {
namespace {

void append(spdlog::memory_buf_t& dest, std::string_view text) {
    dest.append(text.data(), text.data() + text.size());
}

// The last decimal digit of a non-negative value.
char digit(long value) { return static_cast<char>('0' + value % 10); }

// The parts of a line's time that change once a second: "2026-12-02T22:50:01" and "+01:00".
struct SecondText {
    std::time_t second = -1;
    std::array<char, 32> date_time{};
    std::size_t date_time_size = 0;
    std::array<char, 6> offset{};
};

const SecondText& second_text(std::time_t second) {
    thread_local SecondText cached;
    if (cached.second == second) return cached;
    std::tm local{};
    localtime_r(&second, &local);
    cached.second = second;
    cached.date_time_size =
        std::strftime(cached.date_time.data(), cached.date_time.size(), "%Y-%m-%dT%H:%M:%S", &local);
    const long minutes = local.tm_gmtoff / 60;
    const long magnitude = minutes < 0 ? -minutes : minutes;
    cached.offset = {minutes < 0 ? '-' : '+',    digit(magnitude / 600), digit(magnitude / 60), ':',
                     digit(magnitude % 60 / 10), digit(magnitude % 60)};
    return cached;
}

class TextLineFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        const auto since_epoch = msg.time.time_since_epoch();
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
        const auto millis =
            std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
        const SecondText& text = second_text(static_cast<std::time_t>(seconds.count()));
        append(dest, {text.date_time.data(), text.date_time_size});
        dest.push_back('.');
        for (const long place : {100, 10, 1}) dest.push_back(digit(millis / place));
        append(dest, {text.offset.data(), text.offset.size()});
        dest.push_back(' ');
        const auto level = spdlog::level::to_string_view(msg.level);
        append(dest, {level.data(), level.size()});
        dest.push_back(' ');
        append(dest, {msg.payload.data(), msg.payload.size()});
        dest.push_back('\n');
    }
    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<TextLineFormatter>();
    }
};

class StderrLineSink final : public spdlog::sinks::sink {
public:
    void log(const spdlog::details::log_msg& msg) override {
        std::lock_guard lock(mutex_);  // formatters may keep state (spdlog's pattern formatter does)
        line_.clear();
        formatter_->format(msg, line_);
        std::fwrite(line_.data(), 1, line_.size(), stderr);
    }
    void flush() override {
        std::lock_guard lock(mutex_);
        std::fflush(stderr);
    }
    void set_pattern(const std::string& pattern) override {
        set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
    }
    void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
        std::lock_guard lock(mutex_);
        formatter_ = std::move(formatter);
    }

private:
    std::mutex mutex_;
    std::unique_ptr<spdlog::formatter> formatter_ = make_text_line_formatter();
    spdlog::memory_buf_t line_;  // keeps its capacity from line to line
};

constexpr std::size_t access_log_block = 64 * 1024;

int open_for_appending(const std::string& path) {
    int fd;
    do {
        fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

// Why open_for_appending failed, with the errno it left.
std::string cannot_open(const std::string& path) {
    return "cannot open " + path + " for appending: " + std::strerror(errno);
}

}  // namespace

AccessLogFileSink::AccessLogFileSink(std::string path, std::unique_ptr<spdlog::formatter> formatter)
    : path_(std::move(path)), formatter_(std::move(formatter)), fd_(open_for_appending(path_)) {
    if (fd_ < 0) throw std::runtime_error(cannot_open(path_));
}

AccessLogFileSink::~AccessLogFileSink() {
    std::lock_guard lock(mutex_);
    write_out();
    ::close(fd_);
}

void AccessLogFileSink::log(const spdlog::details::log_msg& msg) {
    std::lock_guard lock(mutex_);
    formatter_->format(msg, gathered_);
    if (gathered_.size() >= access_log_block) write_out();
}

void AccessLogFileSink::flush() {
    std::lock_guard lock(mutex_);
    write_out();
}

void AccessLogFileSink::set_pattern(const std::string& pattern) {
    set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
}

void AccessLogFileSink::set_formatter(std::unique_ptr<spdlog::formatter> formatter) {
    std::lock_guard lock(mutex_);
    formatter_ = std::move(formatter);
}

std::string AccessLogFileSink::reopen() {
    std::lock_guard lock(mutex_);
    write_out();
    const int fd = open_for_appending(path_);
    if (fd < 0) return cannot_open(path_);
    ::close(std::exchange(fd_, fd));
    return "";
}

// Whole lines only: a write the file takes in part is continued; one that fails drops what was
// gathered (a full disk must not grow easgate's memory), said once on stderr until writes work again.
void AccessLogFileSink::write_out() {
    std::size_t written = 0;
    while (written < gathered_.size()) {
        const ssize_t n = ::write(fd_, gathered_.data() + written, gathered_.size() - written);
        if (n >= 0) {
            written += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR) continue;
        const std::string why = std::strerror(errno);
        if (failure_ != why)
            std::fprintf(stderr, "easgate: access log %s: lines lost: %s\n", path_.c_str(), why.c_str());
        failure_ = why;
        break;
    }
    if (written == gathered_.size()) failure_.clear();
    gathered_.clear();
}

std::unique_ptr<spdlog::formatter> make_text_line_formatter() {
    return std::make_unique<TextLineFormatter>();
}

std::shared_ptr<spdlog::sinks::sink> make_stderr_line_sink() { return std::make_shared<StderrLineSink>(); }

}  // namespace easgate::common
