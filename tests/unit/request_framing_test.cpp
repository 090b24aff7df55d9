#include "easgate/listener/request_framing.hpp"

#include <gtest/gtest.h>

namespace easgate::listener {
namespace {

TEST(RawHeader, EndsJustPastTheBlankLine) {
    EXPECT_EQ(header_end("GET / HTTP/1.1\r\nHost: gw\r\n\r\nbody"), 28u);
    EXPECT_EQ(header_end("GET / HTTP/1.1\r\nHost: gw\r\n"), std::string_view::npos);
}

TEST(RawHeader, ObsoleteLineFoldingIsFoundOnAnyLine) {
    EXPECT_TRUE(has_obsolete_line_folding("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n"));
    EXPECT_TRUE(has_obsolete_line_folding("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\nHost: gw\r\n\r\n"));
    EXPECT_FALSE(has_obsolete_line_folding("GET / HTTP/1.1\r\nX-A: a b\r\nHost: gw\r\n\r\n"));
    EXPECT_FALSE(has_obsolete_line_folding("GET / HTTP/1.1\r\nX-A:\ta\r\n\r\n"));
}

}  // namespace
}  // namespace easgate::listener
