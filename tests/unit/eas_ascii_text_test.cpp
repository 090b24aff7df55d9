#include <gtest/gtest.h>

#include <string>

#include "eas/ascii_text.hpp"

namespace easgate::eas {
namespace {

// all_visible_ascii judges many bytes at a time; each byte value, at each place in a text longer
// than one such step, must be judged as is_visible_ascii judges it alone.
TEST(AllVisibleAscii, JudgesEveryByteValueAtEveryPlaceAsTheByteTest) {
    for (int value = 0; value < 256; ++value) {
        const char byte = static_cast<char>(value);
        for (std::size_t place = 0; place < 40; ++place) {
            std::string text(40, 'a');
            text[place] = byte;
            ASSERT_EQ(all_visible_ascii(text), is_visible_ascii(byte)) << "byte " << value << " at " << place;
        }
    }
    EXPECT_TRUE(all_visible_ascii(""));
    EXPECT_TRUE(is_visible_ascii('!'));
    EXPECT_TRUE(is_visible_ascii('~'));
    EXPECT_FALSE(is_visible_ascii(' '));
    EXPECT_FALSE(is_visible_ascii('\x7f'));
}

}  // namespace
}  // namespace easgate::eas
