#include "easgate/listener/proxy_header.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace easgate::listener {
namespace {

using Status = ProxyHeaderParse::Status;
using Bytes = std::vector<std::uint8_t>;

Bytes bytes(std::string_view text) { return {text.begin(), text.end()}; }

ProxyHeaderParse parse(const Bytes& b) { return parse_proxy_header(b); }

const Bytes signature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// A version 2 header: command byte, family byte, then body (addresses and TLVs).
Bytes v2(std::uint8_t command, std::uint8_t family, const Bytes& body, std::size_t declared_length) {
    Bytes out = signature;
    out.push_back(command);
    out.push_back(family);
    out.push_back(static_cast<std::uint8_t>(declared_length >> 8));
    out.push_back(static_cast<std::uint8_t>(declared_length & 0xFF));
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

Bytes v2(std::uint8_t command, std::uint8_t family, const Bytes& body) {
    return v2(command, family, body, body.size());
}

const Bytes ipv4_body{203, 0, 113, 7, 192, 0, 2, 1, 0xC8, 0x22, 0x01, 0xBB};  // :51234 -> :443

void expect_source(const ProxyHeaderParse& r, std::string_view address, unsigned port, std::size_t length) {
    ASSERT_EQ(r.status, Status::parsed) << r.reason;
    EXPECT_EQ(r.length, length);
    ASSERT_TRUE(r.source);
    EXPECT_EQ(r.source->address().to_string(), address);
    EXPECT_EQ(r.source->port(), port);
}

void expect_refused(const ProxyHeaderParse& r, std::string_view cause, std::string_view reason_part) {
    ASSERT_EQ(r.status, Status::refused);
    EXPECT_EQ(r.cause, cause);
    EXPECT_NE(r.reason.find(reason_part), std::string::npos) << r.reason;
}

TEST(ProxyHeader, V1Tcp4GivesTheSourceAndStopsAtTheCrlf) {
    const std::string line = "PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n";
    auto input = bytes(line + "\x16\x03\x01");  // the ClientHello that follows is not the header's
    expect_source(parse(input), "203.0.113.7", 51234, line.size());
}

TEST(ProxyHeader, V1Tcp6) {
    expect_source(parse(bytes("PROXY TCP6 2001:db8::7 2001:db8::1 1 65535\r\n")), "2001:db8::7", 1, 44);
}

TEST(ProxyHeader, V1UnknownKeepsTheSocketsPeer) {
    for (const auto* line : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"}) {
        const auto r = parse(bytes(line));
        ASSERT_EQ(r.status, Status::parsed) << line;
        EXPECT_EQ(r.length, std::string_view(line).size());
        EXPECT_FALSE(r.source);
    }
}

TEST(ProxyHeader, EveryTruncationOfAValidHeaderNeedsMore) {
    const auto v1 = bytes("PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n");
    const auto two = v2(0x21, 0x11, ipv4_body);
    for (const auto* whole : {&v1, &two})
        for (std::size_t n = 0; n < whole->size(); ++n)
            EXPECT_EQ(parse(Bytes(whole->begin(), whole->begin() + static_cast<std::ptrdiff_t>(n))).status,
                      Status::need_more)
                << n;
}

TEST(ProxyHeader, ATlsClientHelloIsAMissingHeader) {
    expect_refused(parse({0x16, 0x03, 0x01, 0x02, 0x00}), "missing", "TLS handshake");
    expect_refused(parse(bytes("GET / HTTP/1.1\r\n")), "missing", "0x47");
    expect_refused(parse(bytes("PROXZ")), "missing", "");
    expect_refused(parse({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0B}), "missing",
                   "");
}

TEST(ProxyHeader, V1LineExactlyAtTheLimitIsParsedOneMoreIsRefused) {
    // UNKNOWN may carry anything up to the bound.
    const std::string head = "PROXY UNKNOWN ";
    const std::string at_limit = head + std::string(proxy_v1_max_bytes - head.size() - 2, 'x') + "\r\n";
    ASSERT_EQ(at_limit.size(), proxy_v1_max_bytes);
    EXPECT_EQ(parse(bytes(at_limit)).status, Status::parsed);
    const std::string over = head + std::string(proxy_v1_max_bytes - head.size() - 1, 'x') + "\r\n";
    expect_refused(parse(bytes(over)), "malformed", "longer than 107");
    // Without its CRLF yet: 106 bytes ending in CR may still end in time, 106 others may not.
    EXPECT_EQ(parse(bytes(at_limit.substr(0, 106))).status, Status::need_more);
    expect_refused(parse(bytes(over.substr(0, 106))), "malformed", "longer than 107");
    expect_refused(parse(bytes(std::string(head) + std::string(200, 'x'))), "malformed", "longer than 107");
}

TEST(ProxyHeader, V1WithGarbageIsMalformed) {
    const std::pair<const char*, const char*> cases[] = {
        {"PROXY TCP4 203.0.113.7 192.0.2.1 65536 443\r\n", "port"},
        {"PROXY TCP4 203.0.113.7 192.0.2.1 -1 443\r\n", "port"},
        {"PROXY TCP4 203.0.113.7 192.0.2.1 0443 443\r\n", "port"},
        {"PROXY TCP4 203.0.113.7 192.0.2.1 +80 443\r\n", "port"},
        {"PROXY TCP4 203.0.113.7 192.0.2.1 80x 443\r\n", "port"},
        {"PROXY TCP4 203.0.113.7 192.0.2.1 80 \r\n", "port"},
        {"PROXY TCP4 203.0.113.7 192.0.2.1 80\r\n", "exactly two"},
        {"PROXY TCP4  203.0.113.7 192.0.2.1 80 443\r\n", "exactly two"},
        {"PROXY TCP4 203.0.113.7 192.0.2.1 80 443 \r\n", "exactly two"},
        {"PROXY TCP4 203.0.113.256 192.0.2.1 80 443\r\n", "source"},
        {"PROXY TCP4 203.0.113.7 example.com 80 443\r\n", "destination"},
        {"PROXY TCP4 2001:db8::7 192.0.2.1 80 443\r\n", "family"},  // families mixed up
        {"PROXY TCP6 203.0.113.7 2001:db8::1 80 443\r\n", "family"},
        {"PROXY UDP4 203.0.113.7 192.0.2.1 80 443\r\n", "neither"},
        {"PROXY tcp4 203.0.113.7 192.0.2.1 80 443\r\n", "neither"},
        {"PROXY TCP4 203.0.113.7\n192.0.2.1 80 443\r\n", "stray"},
        {"PROXY TCP4 203.0.113.7\r192.0.2.1 80 443\r\n", "stray"},
    };
    for (const auto& [line, why] : cases) expect_refused(parse(bytes(line)), "malformed", why);
}

TEST(ProxyHeader, V2ProxyOverIpv4AndIpv6) {
    expect_source(parse(v2(0x21, 0x11, ipv4_body)), "203.0.113.7", 51234, 28);
    Bytes ipv6_body(36, 0);
    ipv6_body[0] = 0x20, ipv6_body[1] = 0x01, ipv6_body[2] = 0x0d, ipv6_body[3] = 0xb8, ipv6_body[15] = 7;
    ipv6_body[32] = 0x04, ipv6_body[33] = 0xD2;  // 1234
    expect_source(parse(v2(0x21, 0x21, ipv6_body)), "2001:db8::7", 1234, 52);
}

TEST(ProxyHeader, V2TlvsAreSkippedAndTheFollowingBytesLeftAlone) {
    Bytes body = ipv4_body;
    const Bytes tlvs{0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00, 0x00};  // ALPN, then an empty NOOP
    body.insert(body.end(), tlvs.begin(), tlvs.end());
    auto input = v2(0x21, 0x11, body);
    input.push_back(0x16);
    expect_source(parse(input), "203.0.113.7", 51234, 16 + body.size());
}

TEST(ProxyHeader, V2LocalAndUnspecifiedKeepTheSocketsPeer) {
    for (const auto& input : {v2(0x20, 0x00, {}), v2(0x20, 0x11, ipv4_body), v2(0x21, 0x00, {1, 2, 3})}) {
        const auto r = parse(input);
        ASSERT_EQ(r.status, Status::parsed);
        EXPECT_EQ(r.length, input.size());
        EXPECT_FALSE(r.source);
    }
}

TEST(ProxyHeader, V2LengthExactlyAtTheBoundIsParsedBeyondItIsRefusedBeforeReading) {
    Bytes body = ipv4_body;
    body.resize(proxy_v2_max_bytes - 16, 0);
    EXPECT_EQ(parse(v2(0x21, 0x11, body)).status, Status::parsed);
    // Refused from the fixed part alone: no waiting for bytes that would be refused anyway.
    expect_refused(parse(v2(0x21, 0x11, {}, proxy_v2_max_bytes - 16 + 1)), "malformed", "more than");
    expect_refused(parse(v2(0x21, 0x11, {}, 0xFFFF)), "malformed", "more than");
}

TEST(ProxyHeader, V2AttackerShapesAreMalformed) {
    const std::tuple<std::uint8_t, std::uint8_t, Bytes, const char*> cases[] = {
        {0x11, 0x11, ipv4_body, "version 1"},  // signature with another version
        {0x31, 0x11, ipv4_body, "version 3"},
        {0x22, 0x11, ipv4_body, "command"},            // neither LOCAL nor PROXY
        {0x21, 0x31, Bytes(216, 0), "not TCP"},        // AF_UNIX
        {0x21, 0x12, ipv4_body, "not TCP"},            // DGRAM
        {0x21, 0x10, ipv4_body, "not TCP"},            // unspecified transport
        {0x21, 0x41, ipv4_body, "unknown"},            // no such family
        {0x21, 0x13, ipv4_body, "unknown"},            // no such transport
        {0x21, 0x11, Bytes(11, 0), "IPv4 with room"},  // too short for its family
        {0x21, 0x21, ipv4_body, "IPv6 with room"},     // families mixed up: IPv6 with IPv4's size
    };
    for (const auto& [command, family, body, why] : cases)
        expect_refused(parse(v2(command, family, body)), "malformed", why);
}

}  // namespace
}  // namespace easgate::listener
