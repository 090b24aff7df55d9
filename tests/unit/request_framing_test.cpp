#include "easgate/listener/request_framing.hpp"

#include <gtest/gtest.h>

namespace easgate::listener {
namespace {

TEST(RawHeader, EndsJustPastTheBlankLine) {
    EXPECT_EQ(scan_raw_header("GET / HTTP/1.1\r\nHost: gw\r\n\r\nbody").end, 28u);
    EXPECT_EQ(scan_raw_header("GET / HTTP/1.1\r\nHost: gw\r\n").end, std::string_view::npos);
    EXPECT_EQ(scan_raw_header("\r\nGET / HTTP/1.1\r\n\r\n").end, 20u) << "an empty first line is not the end";
}

TEST(RawHeader, ObsoleteLineFoldingIsFoundOnAnyLine) {
    EXPECT_TRUE(scan_raw_header("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n").obsolete_line_folding);
    EXPECT_TRUE(scan_raw_header("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\nHost: gw\r\n\r\n").obsolete_line_folding);
    EXPECT_FALSE(scan_raw_header("GET / HTTP/1.1\r\nX-A: a b\r\nHost: gw\r\n\r\n").obsolete_line_folding);
    EXPECT_FALSE(scan_raw_header("GET / HTTP/1.1\r\nX-A:\ta\r\n\r\n").obsolete_line_folding);
    EXPECT_FALSE(scan_raw_header("GET / HTTP/1.1\r\n\r\n body").obsolete_line_folding)
        << "the body is not read";
}

TEST(RawHeader, ABareLineFeedIsFoundBeforeTheHeaderIsWhole) {
    EXPECT_TRUE(scan_raw_header("GET / HTTP/1.1\nHost: gw").bare_line_feed);
    EXPECT_TRUE(scan_raw_header("\nGET").bare_line_feed);
    EXPECT_FALSE(scan_raw_header("GET / HTTP/1.1\r\n\r\n\n").bare_line_feed) << "past the header";
}

// The one pass finds what three searches found before it (CRLF CRLF; LF without CR before it; CRLF
// and a space or tab), on every string of up to 8 of the bytes that matter: an attacker's
// combinations, not only the listed cases.
TEST(RawHeader, OnePassFindsWhatTheThreeSearchesFound) {
    const auto three_searches = [](std::string_view received) {
        RawHeaderScan expected;
        const auto blank_line = received.find("\r\n\r\n");
        const auto end = blank_line == std::string_view::npos ? blank_line : blank_line + 4;
        const auto header = received.substr(0, end);
        for (auto at = header.find('\n'); at != std::string_view::npos; at = header.find('\n', at + 1))
            if (at == 0 || header[at - 1] != '\r') expected.bare_line_feed = true;
        if (expected.bare_line_feed) return expected;
        expected.end = end;
        for (auto line = header.find("\r\n"); line != std::string_view::npos;
             line = header.find("\r\n", line + 2))
            if (line + 2 < header.size() && (header[line + 2] == ' ' || header[line + 2] == '\t'))
                expected.obsolete_line_folding = true;
        return expected;
    };
    constexpr std::string_view alphabet = "\r\n \tA";
    std::size_t compared = 0;
    std::string received;
    for (std::size_t length = 0; length <= 8; ++length) {
        std::size_t combinations = 1;
        for (std::size_t i = 0; i < length; ++i) combinations *= alphabet.size();
        for (std::size_t n = 0; n < combinations; ++n, ++compared) {
            received.clear();
            for (std::size_t i = 0, rest = n; i < length; ++i, rest /= alphabet.size())
                received += alphabet[rest % alphabet.size()];
            const auto expected = three_searches(received);
            const auto scan = scan_raw_header(received);
            ASSERT_EQ(scan.bare_line_feed, expected.bare_line_feed) << testing::PrintToString(received);
            if (expected.bare_line_feed) continue;
            ASSERT_EQ(scan.end, expected.end) << testing::PrintToString(received);
            if (expected.end == std::string_view::npos) continue;
            ASSERT_EQ(scan.obsolete_line_folding, expected.obsolete_line_folding)
                << testing::PrintToString(received);
        }
    }
    EXPECT_EQ(compared, 488281u);
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

// RFC 9112 3.2: one Host at most, whatever the version, and a host[:port] in it.
TEST(FramingError, AHostMustBeOneHostNameOrAddressWithAnOptionalPort) {
    const auto with_host = [](std::initializer_list<std::string_view> hosts, unsigned version = 11) {
        easgate::common::RequestHeader header;
        header.version(version);
        header.method(boost::beast::http::verb::post);
        header.target("/Microsoft-Server-ActiveSync");
        for (const auto host : hosts) header.insert(boost::beast::http::field::host, host);
        return framing_error(header);
    };
    for (const auto good : {"mail.example.com", "mail.example.com:443", "127.0.0.1:8443", "[::1]",
                            "[::1]:443", "[fe80::1%25eth0]", "xn--mller-kva.example", "", "gw:"})
        EXPECT_EQ(with_host({good}), "") << good;
    for (const auto bad : {"a b", "evil@mail.example.com", "mail.example.com/x", "mail?x", "mail#x", "[::1",
                           "[::1]x", "mail:44a", "[]", "a\"b", "mail:1:2"})
        EXPECT_EQ(with_host({bad}), "Host is not a host name or address with an optional port") << bad;
    EXPECT_EQ(with_host({"gw", "gw"}), "more than one Host");
    EXPECT_EQ(with_host({"gw", "other"}, 10), "more than one Host");
    EXPECT_EQ(with_host({}, 10), "");
    EXPECT_EQ(with_host({}), "HTTP/1.1 needs exactly one Host");
}

}  // namespace
}  // namespace easgate::listener
