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

// Repeated Connection fields are one list: the second can't name what the first may not.
TEST(FramingError, RefusesAnOwnedFieldNamedInASecondConnectionField) {
    easgate::common::RequestHeader header;
    header.method(boost::beast::http::verb::post);
    header.target("/Microsoft-Server-ActiveSync");
    header.set(boost::beast::http::field::host, "gw");
    header.insert(boost::beast::http::field::connection, "keep-alive");
    EXPECT_EQ(framing_error(header), "");
    header.insert(boost::beast::http::field::connection, "X-Private, Content-Length");
    EXPECT_EQ(framing_error(header), "Connection names Content-Length, a field easgate decides");
}

}  // namespace
}  // namespace easgate::listener
