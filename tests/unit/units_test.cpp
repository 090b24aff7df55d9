#include "easgate/config/units.hpp"

#include <gtest/gtest.h>

namespace easgate::config {
namespace {

TEST(ParseSize, AcceptsBinaryUnitsAndPlainBytes) {
    EXPECT_EQ(parse_size("10MiB"), 10ULL << 20);
    EXPECT_EQ(parse_size("32KiB"), 32ULL << 10);
    EXPECT_EQ(parse_size("1GiB"), 1ULL << 30);
    EXPECT_EQ(parse_size("4096"), 4096u);
    EXPECT_EQ(parse_size("0"), 0u);
}

TEST(ParseSize, RefusesUnknownUnitsSignsAndOverflow) {
    for (const char* text :
         {"", "MiB", "10MB", "10 MiB", "-1", "1.5MiB", "10mib", "99999999999999999999GiB"}) {
        EXPECT_FALSE(parse_size(text)) << text;
    }
}

TEST(ParseDuration, RequiresAUnit) {
    EXPECT_EQ(parse_duration("15s"), std::chrono::seconds(15));
    EXPECT_EQ(parse_duration("250ms"), std::chrono::milliseconds(250));
    EXPECT_EQ(parse_duration("5m"), std::chrono::minutes(5));
    EXPECT_EQ(parse_duration("1h"), std::chrono::hours(1));
    for (const char* text : {"", "15", "s", "1d", "1.5s", "-3s"}) EXPECT_FALSE(parse_duration(text)) << text;
}

TEST(FormatUnits, UsesTheLargestExactUnit) {
    EXPECT_EQ(format_size(10ULL << 20), "10MiB");
    EXPECT_EQ(format_size(1536), "1536");
    EXPECT_EQ(format_size(2048), "2KiB");
    EXPECT_EQ(format_duration(std::chrono::milliseconds(15'000)), "15s");
    EXPECT_EQ(format_duration(std::chrono::milliseconds(90'000)), "90s");
    EXPECT_EQ(format_duration(std::chrono::milliseconds(3'600'000)), "1h");
    EXPECT_EQ(format_duration(std::chrono::milliseconds(1'500)), "1500ms");
}

}  // namespace
}  // namespace easgate::config
