#include "common/log_sink.hpp"

#include <gtest/gtest.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
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

std::string file_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::filesystem::path fresh_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() / (name + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

// The access log file: lines wait until flush() or 64 KiB gathered, then go out whole and in order,
// appended to what the file held.
TEST(AccessLogFileSink, GathersLinesAndWritesThemInBlocks) {
    const auto dir = fresh_dir("easgate-access-log");
    const auto path = dir / "access.log";
    { std::ofstream(path) << "from before\n"; }
    auto sink = std::make_shared<AccessLogFileSink>(path.string(), make_text_line_formatter());
    spdlog::logger logger("access-test", sink);
    logger.set_pattern("%v");
    logger.info("first");
    logger.info("second");
    EXPECT_EQ(file_text(path), "from before\n") << "a line went out before flush()";
    logger.flush();
    EXPECT_EQ(file_text(path), "from before\nfirst\nsecond\n");

    const std::string line(999, 'x');  // with its newline, 1000 bytes: the 66th fills a block
    for (int i = 0; i < 65; ++i) logger.info(line);
    EXPECT_EQ(file_text(path).size(), 25u) << "65,000 bytes went out before a block was full";
    logger.info(line);
    EXPECT_EQ(file_text(path).size(), 25u + 66 * 1000) << "a full block stayed gathered";
    std::filesystem::remove_all(dir);
}

// logrotate renames the file, then easgate reopens its path: what was gathered ends in the renamed
// file, later lines in a new one. A path that can't be opened leaves the old file in use.
TEST(AccessLogFileSink, ReopensItsPathAfterARename) {
    const auto dir = fresh_dir("easgate-access-rotate");
    const auto path = dir / "access.log";
    auto sink = std::make_shared<AccessLogFileSink>(path.string(), make_text_line_formatter());
    spdlog::logger logger("access-rotate", sink);
    logger.set_pattern("%v");
    logger.info("before");
    std::filesystem::rename(path, dir / "access.log.1");
    EXPECT_EQ(sink->reopen(), "");
    logger.info("after");
    logger.flush();
    EXPECT_EQ(file_text(dir / "access.log.1"), "before\n");
    EXPECT_EQ(file_text(path), "after\n");

    std::filesystem::rename(path, dir / "access.log.2");
    std::filesystem::create_directory(path);  // the path is now a directory: no file opens there
    EXPECT_NE(sink->reopen().find("Is a directory"), std::string::npos);
    logger.info("still");
    logger.flush();
    EXPECT_EQ(file_text(dir / "access.log.2"), "after\nstill\n") << "lines were lost with the reopen";
    std::filesystem::remove_all(dir);
}

TEST(AccessLogFileSink, SaysWhyItCannotOpenItsFile) {
    try {
        AccessLogFileSink sink("/nonexistent-easgate-dir/access.log", make_text_line_formatter());
        FAIL() << "opened a file in a directory that does not exist";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(
            e.what(),
            "cannot open /nonexistent-easgate-dir/access.log for appending: No such file or directory");
    }
}

}  // namespace
}  // namespace easgate::common
