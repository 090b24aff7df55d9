#include "easgate/common/text.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <random>

#include "common/base64.hpp"

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

TEST(Text, Base64EncodesAsRfc4648Shows) {  // RFC 4648 section 10's vectors
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

// Every size around the six- and twelve-byte steps and their tails, every byte value, with each
// encoder this CPU runs: as OpenSSL encodes them.
TEST(Text, Base64EncodesEveryByteAsOpenSslDoes) {
    for (const Base64Kernel kernel : {Base64Kernel::portable, Base64Kernel::ssse3}) {
        if (!base64_kernel_available(kernel)) continue;
        std::mt19937 random(4648);
        for (std::size_t size = 0; size < 300; ++size) {
            std::string bytes(size, '\0');
            for (char& byte : bytes) byte = static_cast<char>(random());
            std::string expected(4 * ((size + 2) / 3) + 1, '\0');
            const int length =
                EVP_EncodeBlock(reinterpret_cast<unsigned char*>(expected.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(size));
            expected.resize(static_cast<std::size_t>(length));
            ASSERT_EQ(base64_encode_with(bytes, kernel), expected)
                << "size " << size << ", kernel " << static_cast<int>(kernel);
        }
    }
    EXPECT_TRUE(base64_kernel_available(Base64Kernel::portable));
}

// The encoder base64_encode picks gives the same text.
TEST(Text, Base64EncodeUsesAnAvailableKernel) {
    const std::string bytes(1000, '\xfb');
    EXPECT_EQ(base64_encode(bytes), base64_encode_with(bytes, Base64Kernel::portable));
}

}  // namespace
}  // namespace easgate::common
