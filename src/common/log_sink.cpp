#include "log_sink.hpp"

#include <spdlog/pattern_formatter.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <mutex>

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

}  // namespace

std::unique_ptr<spdlog::formatter> make_text_line_formatter() {
    return std::make_unique<TextLineFormatter>();
}

std::shared_ptr<spdlog::sinks::sink> make_stderr_line_sink() { return std::make_shared<StderrLineSink>(); }

}  // namespace easgate::common
