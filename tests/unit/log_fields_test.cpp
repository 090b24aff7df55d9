#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <sstream>
#include <string>

#include "easgate/common/logging.hpp"

namespace easgate::common {
namespace {

// The text line log_with_fields writes, through a logger that keeps only the message.
std::string text_line(std::string_view message, std::initializer_list<LogField> fields) {
    configure_logging("info", false);
    std::ostringstream out;
    auto logger =
        std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
    logger->set_pattern("%v");
    spdlog::set_default_logger(logger);
    log_with_fields(false, message, {fields.begin(), fields.size()});
    configure_logging("info", false);  // back to stderr, as other tests expect
    std::string line = out.str();
    if (!line.empty() && line.back() == '\n') line.pop_back();
    return line;
}

// A device's name or path as one word of a message: nothing that ends the word or the line.
TEST(LogFields, AWordADeviceChoseStaysOneWord) {
    EXPECT_EQ(escaped_log_word("alice@example.test", false), std::nullopt);
    EXPECT_EQ(escaped_log_word("/Microsoft-Server-ActiveSync", true), std::nullopt);
    EXPECT_EQ(escaped_log_word("eve@x \"GET /\" 200 user=ceo", false),
              "eve@x\\x20\\x22GET\\x20/\\x22\\x20200\\x20user=ceo");
    EXPECT_EQ(escaped_log_word("jos\xc3\xa9@example.test", false), std::nullopt)
        << "UTF-8 names stay readable";
    EXPECT_EQ(escaped_log_word("/a\xc2\x85"
                               "b\\c\x7f",
                               true),
              "/a\\xc2\\x85b\\x5cc\\x7f");
}

TEST(LogFields, PlainValuesAreBareAndNumbersInDecimal) {
    EXPECT_EQ(text_line("alice \"POST /x\" 200", {{"peer", "192.0.2.7:1", true},
                                                  {"cmd", "Sync"},
                                                  {"ms", std::int64_t{-9223372036854775807 - 1}},
                                                  {"bytes_out", std::int64_t{4096}}}),
              "alice \"POST /x\" 200 cmd=Sync ms=-9223372036854775808 bytes_out=4096");
}

// A value a device chose can't forge a field or a line: quotes, backslashes, spaces and control
// bytes are quoted and escaped; an empty value is "" rather than nothing.
TEST(LogFields, DeviceChosenValuesAreQuotedAndEscaped) {
    EXPECT_EQ(text_line("m", {{"device_type", "a b"}, {"empty", ""}}), "m device_type=\"a b\" empty=\"\"");
    EXPECT_EQ(text_line("m", {{"v", "x\" status=200"}}), "m v=\"x\\\" status=200\"");
    EXPECT_EQ(text_line("m", {{"v", "back\\slash"}}), "m v=\"back\\\\slash\"");
    EXPECT_EQ(text_line("m", {{"v", "line\nnext"}}), "m v=\"line\\nnext\"");
    EXPECT_EQ(text_line("m", {{"v", std::string_view("\x1b[2J\x7f\x00", 6)}}), "m v=\"\\x1b[2J\\x7f\\x00\"");
}

// The worst case, every byte escaped, is what the line's buffer is sized for: a long value of
// control bytes comes out whole.
TEST(LogFields, AValueOfOnlyControlBytesComesOutWhole) {
    const std::string value(3000, '\x01');
    std::string expected = "m v=\"";
    for (std::size_t i = 0; i < value.size(); ++i) expected += "\\x01";
    expected += '"';
    EXPECT_EQ(text_line("m", {{"v", value}}), expected);
}

// Refusal reasons name what a peer sent (its certificate's names): a flood of new ones is neither
// kept for good nor let through line by line.
TEST(LogRateLimiterTest, AFloodOfNewReasonsIsBoundedAndSharesOneWindow) {
    LogRateLimiter limiter(std::chrono::hours(1));
    std::size_t let_through = 0;
    for (int i = 0; i < 5000; ++i) let_through += limiter.admit("issuer CN=forged " + std::to_string(i)) >= 0;
    EXPECT_EQ(let_through, 1025u) << "the first 1024 reasons, then one line for all the others";
    EXPECT_EQ(limiter.admit("issuer CN=forged 7"), -1) << "a reason it keeps is still rate-limited";
}

}  // namespace
}  // namespace easgate::common
