#include "common/log_sink.hpp"

#include <gtest/gtest.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

namespace easgate::common {
namespace {

constexpr const char* spdlog_pattern = "%Y-%m-%dT%H:%M:%S.%e%z %l %v";

std::string formatted(spdlog::formatter& formatter, const spdlog::details::log_msg& msg) {
    spdlog::memory_buf_t line;
    formatter.format(msg, line);
    return {line.data(), line.size()};
}

// Restores the time zone a test changed, so no other test sees it.
class TimeZone {
public:
    explicit TimeZone(const char* zone) {
        if (const char* old = std::getenv("TZ")) saved_ = old;
        setenv("TZ", zone, 1);
        tzset();
    }
    ~TimeZone() {
        if (saved_) {
            setenv("TZ", saved_->c_str(), 1);
        } else {
            unsetenv("TZ");
        }
        tzset();
    }

private:
    std::optional<std::string> saved_;
};

// Byte for byte what spdlog's pattern formatter writes, for every level, across seconds and
// milliseconds, east and west of UTC (a half-hour zone among them).
TEST(TextLineFormatter, WritesWhatSpdlogsPatternWrites) {
    const auto text = make_text_line_formatter();
    spdlog::pattern_formatter reference(spdlog_pattern);
    std::time_t second = 1796241601;  // 2026-12-02T20:00:01Z
    for (const char* zone : {"UTC0", "NST3:30NDT,M3.2.0,M11.1.0", "CET-1CEST,M3.5.0,M10.5.0/3", "IST-5:30"}) {
        const TimeZone in_zone(zone);
        for (const int millis : {0, 7, 42, 999}) {
            for (int level = spdlog::level::trace; level < spdlog::level::off; ++level) {
                second += 3600 * 24 * 37 + 1;  // new seconds, and the zones' summer and winter times
                spdlog::details::log_msg msg("easgate", static_cast<spdlog::level::level_enum>(level),
                                             "alice \"POST /Microsoft-Server-ActiveSync\" 200 cmd=Sync");
                msg.time = std::chrono::system_clock::from_time_t(second) + std::chrono::milliseconds(millis);
                ASSERT_EQ(formatted(*text, msg), formatted(reference, msg)) << zone << " " << second;
                // The same second again comes from the per-thread cache.
                msg.time += std::chrono::milliseconds(1) - std::chrono::milliseconds(millis == 999 ? 2 : 0);
                ASSERT_EQ(formatted(*text, msg), formatted(reference, msg)) << zone << " " << second;
            }
        }
    }
}

// Lines go to stderr whole and in order, a long one after a short one and a short one after it (the
// sink's buffer keeps its capacity and must not keep old bytes).
TEST(StderrLineSink, WritesEachLineToStderr) {
    std::FILE* capture = std::tmpfile();
    ASSERT_NE(capture, nullptr);
    std::fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    ASSERT_GE(saved, 0);
    ASSERT_GE(dup2(fileno(capture), STDERR_FILENO), 0);
    {
        spdlog::logger logger("test", make_stderr_line_sink());
        logger.set_pattern("%l %v");
        logger.info("short");
        logger.warn(std::string(600, 'x'));
        logger.error("end");
        logger.flush();
    }
    dup2(saved, STDERR_FILENO);
    close(saved);
    std::rewind(capture);
    std::string written(2048, '\0');
    written.resize(std::fread(written.data(), 1, written.size(), capture));
    std::fclose(capture);
    EXPECT_EQ(written, "info short\nwarning " + std::string(600, 'x') + "\nerror end\n");
}

}  // namespace
}  // namespace easgate::common
