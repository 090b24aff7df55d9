#include "easgate/common/text.hpp"

#include <gtest/gtest.h>

#include <array>

namespace easgate::common {
namespace {

TEST(Text, LowercasesAsciiLettersOnly) {
    EXPECT_EQ(ascii_lowercase("Alice@EXAMPLE.Test-09_Z[@"), "alice@example.test-09_z[@");
    EXPECT_EQ(ascii_lowercase("\xc3\x89LODIE"), "\xc3\x89lodie");  // UTF-8 bytes pass unchanged
}

TEST(Text, ComparesIgnoringAsciiCase) {
    EXPECT_TRUE(equals_ignoring_case("DeviceId", "deviceid"));
    EXPECT_TRUE(equals_ignoring_case("", ""));
    EXPECT_FALSE(equals_ignoring_case("DeviceId", "DeviceIds"));
    EXPECT_FALSE(equals_ignoring_case("[", "{"));  // 0x5b and 0x7b differ by the case bit, not letters
    EXPECT_FALSE(equals_ignoring_case("\xc3\x89", "\xc3\xa9"));
}

TEST(Text, HexEncodesEachByteAsTwoDigits) {
    const std::array<std::uint8_t, 4> bytes{0x00, 0x0f, 0xa5, 0xff};
    EXPECT_EQ(hex_encode(bytes), "000fa5ff");
    EXPECT_EQ(hex_encode(bytes, HexDigits::upper), "000FA5FF");
    EXPECT_EQ(hex_encode(std::string_view("\x01\xfe", 2)), "01fe");
    std::string escaped = "\\";
    append_hex(escaped, 0x2a);
    EXPECT_EQ(escaped, "\\2a");
}

}  // namespace
}  // namespace easgate::common
