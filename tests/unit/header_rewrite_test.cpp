#include "easgate/upstream/header_rewrite.hpp"

#include <gtest/gtest.h>

namespace easgate::upstream {
namespace {

TEST(RewriteRequestForUpstream, DropsHopByHopAndSpoofableFieldsAndSetsOurOwn) {
    http::request_header<> header;
    header.set(http::field::host, "eas.example.com");
    header.set(http::field::connection, "keep-alive, X-Private");
    header.set("X-Private", "1");
    header.set(http::field::keep_alive, "timeout=5");
    header.set(http::field::proxy_authorization, "Basic abc");
    header.set(http::field::expect, "100-continue");
    header.set(http::field::te, "trailers");
    header.set("X-Forwarded-For", "203.0.113.9");
    header.set(http::field::forwarded, "for=203.0.113.9");
    header.set(http::field::transfer_encoding, "chunked");
    header.set("MS-ASProtocolVersion", "16.1");

    const auto target = parse_upstream_url("https://mail.corp.example.com:8443");
    ASSERT_TRUE(target);
    rewrite_request_for_upstream(header, *target, boost::asio::ip::make_address("192.0.2.7"));

    for (const char* gone :
         {"Connection", "X-Private", "Keep-Alive", "Proxy-Authorization", "Expect", "TE", "Forwarded"}) {
        EXPECT_EQ(header.find(gone), header.end()) << gone;
    }
    EXPECT_EQ(header["X-Forwarded-For"], "192.0.2.7");
    EXPECT_EQ(header["X-Forwarded-Proto"], "https");
    EXPECT_EQ(header["X-Forwarded-Host"], "eas.example.com");
    EXPECT_EQ(header[http::field::host], "mail.corp.example.com:8443");
    EXPECT_EQ(header[http::field::transfer_encoding], "chunked");  // frames the body; re-applied by Beast
    EXPECT_EQ(header["MS-ASProtocolVersion"], "16.1");
}

TEST(RewriteResponseForDevice, DropsHopByHopFields) {
    http::response_header<> header;
    header.set(http::field::connection, "close, X-Backend-Node");
    header.set("X-Backend-Node", "mbx07");
    header.set(http::field::keep_alive, "timeout=5");
    header.set(http::field::content_length, "12");
    rewrite_response_for_device(header);
    EXPECT_EQ(header.find("X-Backend-Node"), header.end());
    EXPECT_EQ(header.find(http::field::connection), header.end());
    EXPECT_EQ(header[http::field::content_length], "12");
}

TEST(ParseUpstreamUrl, AcceptsHostsPortsAndIpv6AndRefusesTheRest) {
    const auto plain = parse_upstream_url("http://10.0.0.5:8080/");
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->tls);
    EXPECT_EQ(plain->port, 8080);
    EXPECT_EQ(plain->host_header(), "10.0.0.5:8080");
    const auto v6 = parse_upstream_url("https://[::1]:9443");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->host_header(), "[::1]:9443");
    EXPECT_EQ(parse_upstream_url("https://mail")->host_header(), "mail");
    for (const char* bad : {"mail", "ftp://mail", "https://", "https://mail:0", "https://mail:99999",
                            "https://user@mail", "https://mail/owa", "https://mail:"}) {
        EXPECT_FALSE(parse_upstream_url(bad)) << bad;
    }
}

}  // namespace
}  // namespace easgate::upstream
