#include "easgate/upstream/header_rewrite.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace easgate::upstream {
namespace {

TEST(RewriteRequestForUpstream, DropsHopByHopAndSpoofableFieldsAndSetsOurOwn) {
    common::RequestHeader header;
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
    header.set(http::field::authorization, "Basic ZGV2aWNl");
    header.set("MS-ASProtocolVersion", "16.1");
    for (const char* spoof : {"X-Client-IP", "true-client-ip", "X-Cluster-Client-IP", "X-Forwarded-Port",
                              "X-Forwarded-Server", "X-Original-URL", "X-REWRITE-URL", "X-Real-IP"})
        header.set(spoof, "/ecp/");

    rewrite_request_for_upstream(header, "192.0.2.7", true);
    const auto target = config::parse_upstream_url("https://mail.corp.example.com:8443");
    ASSERT_TRUE(target);
    address_request(header, *target, {.chunked = true, .content_length = std::nullopt}, std::nullopt);

    for (const char* gone :
         {"Connection", "X-Private", "Keep-Alive", "Proxy-Authorization", "Expect", "TE", "Forwarded",
          "Authorization", "X-Client-IP", "True-Client-IP", "X-Cluster-Client-IP", "X-Forwarded-Port",
          "X-Forwarded-Server", "X-Original-URL", "X-Rewrite-URL", "X-Real-IP"}) {
        EXPECT_EQ(header.find(gone), header.end()) << gone;
    }
    EXPECT_EQ(header["X-Forwarded-For"], "192.0.2.7");
    EXPECT_EQ(header["X-Forwarded-Proto"], "https");
    EXPECT_EQ(header["X-Forwarded-Host"], "eas.example.com");
    EXPECT_EQ(header[http::field::host], "mail.corp.example.com:8443");
    EXPECT_EQ(header[http::field::transfer_encoding], "chunked");
    EXPECT_EQ(header["MS-ASProtocolVersion"], "16.1");
}

// The names in Connection are looked up by a binary search: every listed name counts whatever its
// case, its place in the list, repeats, or which of two Connection fields holds it.
TEST(RewriteRequestForUpstream, EveryFieldNamedInConnectionGoesWhateverItsCaseAndPlace) {
    common::RequestHeader header;
    header.insert(http::field::host, "eas.example.com");
    header.insert(http::field::connection, "zeta, X-B, keep-alive, x-b, ALPHA");
    header.insert(http::field::connection, "x-middle");
    for (const char* name : {"Alpha", "x-a", "X-B", "X-Middle", "Zeta", "Zetb", "x-private"})
        header.insert(name, "1");
    const auto named = connection_options(header);
    EXPECT_EQ(named.size(), 5u);  // each name once
    EXPECT_TRUE(names(named, "x-MIDDLE"));
    EXPECT_FALSE(names(named, "x-a"));
    rewrite_request_for_upstream(header, "192.0.2.7", false);
    for (const char* gone : {"Alpha", "X-B", "X-Middle", "Zeta"}) EXPECT_EQ(header.count(gone), 0u) << gone;
    for (const char* kept : {"x-a", "Zetb", "x-private"}) EXPECT_EQ(header.count(kept), 1u) << kept;
}

// A hostile device's header of thousands of fields, most of them to go: the rewrite removes them
// in one pass and keeps the rest in order (bench/hostile_header.cpp measures its time).
TEST(RewriteRequestForUpstream, ThousandsOfFieldsToDropLeaveTheOthersInOrder) {
    common::RequestHeader header;
    std::string connection;
    for (int i = 0; i < 3000; ++i) connection += "n" + std::to_string(i) + ",";
    header.insert(http::field::connection, connection + "last");
    for (int i = 0; i < 6000; ++i) {
        if (i % 2) {
            header.insert(http::field::te, "");
        } else {
            header.insert("n" + std::to_string(i / 2), "");
        }
        if (i % 1000 == 0) header.insert("X-Kept-" + std::to_string(i), "k");
    }
    rewrite_request_for_upstream(header, "192.0.2.7", false);
    std::vector<std::string> left;
    for (const auto& field : header) left.emplace_back(field.name_string());
    EXPECT_EQ(left, (std::vector<std::string>{"X-Kept-0", "X-Kept-1000", "X-Kept-2000", "X-Kept-3000",
                                              "X-Kept-4000", "X-Kept-5000", "X-Forwarded-For",
                                              "X-Forwarded-Proto"}));
}

// The forwarding fields are inserted as unknown to Beast, without its table lookup; a Beast that
// listed one would make that wrong, and this fails first.
TEST(RewriteRequestForUpstream, ForwardingFieldNamesAreNotInBeastsTable) {
    for (const char* name : {"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-IP",
                             "X-Client-IP", "True-Client-IP", "X-Cluster-Client-IP", "X-Forwarded-Port",
                             "X-Forwarded-Server", "X-Original-URL", "X-Rewrite-URL"})
        EXPECT_EQ(http::string_to_field(name), http::field::unknown) << name;
    common::RequestHeader header;
    header.set(http::field::host, "eas.example.com");
    rewrite_request_for_upstream(header, "192.0.2.7", false);
    EXPECT_EQ(header.count("x-forwarded-for"), 1u);
    EXPECT_EQ(header.find("X-FORWARDED-HOST")->value(), "eas.example.com");
}

// The device's Connection header can't remove what easgate decides: framing survives hop-by-hop
// removal, the rest is set after it.
TEST(RewriteRequestForUpstream, ConnectionNamingOwnedFieldsRemovesNoneOfThem) {
    common::RequestHeader header;
    header.set(http::field::host, "eas.example.com");
    header.set(http::field::connection,
               "Content-Length, Host, X-Forwarded-Host, X-Forwarded-For, Authorization");
    header.set(http::field::content_length, "70000");
    rewrite_request_for_upstream(header, "192.0.2.7", true);
    const auto target = config::parse_upstream_url("https://mail:8443");
    ASSERT_TRUE(target);
    address_request(header, *target, {.chunked = false, .content_length = 70000}, std::nullopt);
    EXPECT_EQ(header[http::field::content_length], "70000");
    EXPECT_EQ(header["X-Forwarded-Host"], "eas.example.com");
    EXPECT_EQ(header["X-Forwarded-For"], "192.0.2.7");
    EXPECT_EQ(header[http::field::host], "mail:8443");
}

// Found by fuzz_header_rewrite: only the first Connection field's names used to be removed.
TEST(RewriteRequestForUpstream, RemovesFieldsNamedInEveryConnectionField) {
    common::RequestHeader header;
    header.set(http::field::host, "eas.example.com");
    header.insert(http::field::connection, "keep-alive");
    header.insert(http::field::connection, "X-Private");
    header.set("X-Private", "1");
    rewrite_request_for_upstream(header, "192.0.2.7", true);
    EXPECT_EQ(header.find("X-Private"), header.end());
    EXPECT_EQ(header.find(http::field::connection), header.end());
}

// Found by fuzz_header_rewrite when the fields came to be removed in one walk: an HTTP/1.0
// request may carry two Host fields, and X-Forwarded-Host is the first, as Exchange reads it.
TEST(RewriteRequestForUpstream, XForwardedHostIsTheFirstHost) {
    common::RequestHeader header;
    header.version(10);
    header.insert(http::field::host, "eas.example.com");
    header.insert(http::field::host, "other.example.com");
    rewrite_request_for_upstream(header, "192.0.2.7", true);
    EXPECT_EQ(header["X-Forwarded-Host"], "eas.example.com");
    EXPECT_EQ(header.count("X-Forwarded-Host"), 1u);

    common::RequestHeader empty_first;
    empty_first.version(10);
    empty_first.insert(http::field::host, "");
    empty_first.insert(http::field::host, "other.example.com");
    rewrite_request_for_upstream(empty_first, "192.0.2.7", true);
    EXPECT_EQ(empty_first.count("X-Forwarded-Host"), 0u);
}

TEST(AddressRequest, FramesFromTheParserNotFromTheHeader) {
    const auto target = config::parse_upstream_url("https://mail");
    ASSERT_TRUE(target);
    common::RequestHeader header;
    header.set(http::field::transfer_encoding, "chunked");
    // Read ahead whole: a plain Content-Length of what was read.
    address_request(header, *target, {.chunked = true, .content_length = std::nullopt}, 12);
    EXPECT_EQ(header[http::field::content_length], "12");
    EXPECT_EQ(header.count(http::field::transfer_encoding), 0u);
    // Streamed: the device's own length, whatever the header says now.
    header.set(http::field::content_length, "1");
    address_request(header, *target, {.chunked = false, .content_length = 20'000'000}, std::nullopt);
    EXPECT_EQ(header[http::field::content_length], "20000000");
    // No body: no framing fields at all.
    address_request(header, *target, {}, std::nullopt);
    EXPECT_EQ(header.count(http::field::content_length), 0u);
    EXPECT_EQ(header.count(http::field::transfer_encoding), 0u);
    // The server of a later attempt: Host follows it, the forwarding fields stay the device's.
    header.set("X-Forwarded-Host", "eas.example.com");
    address_request(header, *config::parse_upstream_url("https://mail2:444"), {}, std::nullopt);
    EXPECT_EQ(header[http::field::host], "mail2:444");
    EXPECT_EQ(header["X-Forwarded-Host"], "eas.example.com");
}

TEST(IsGatewayOwnedField, NamesFramingHostCredentialsAndForwardingInAnyCase) {
    for (const char* owned :
         {"content-length", "Transfer-Encoding", "HOST", "authorization", "x-forwarded-host",
          "X-Forwarded-For", "x-forwarded-proto", "Forwarded", "X-Real-IP"}) {
        EXPECT_TRUE(is_gateway_owned_field(owned)) << owned;
    }
    for (const char* other : {"keep-alive", "close", "X-Private", "MS-ASProtocolVersion", "Content-Type"}) {
        EXPECT_FALSE(is_gateway_owned_field(other)) << other;
    }
}

TEST(RewriteResponseForDevice, DropsHopByHopFieldsButNeverTheFraming) {
    common::ResponseHeader header;
    header.set(http::field::connection, "close, X-Backend-Node, Content-Length");
    header.set("X-Backend-Node", "mbx07");
    header.set(http::field::keep_alive, "timeout=5");
    header.set(http::field::content_length, "12");
    header.set(http::field::www_authenticate, "Negotiate oYG3MIG0oAMKAQChCwYJKoZIgvcSAQIC");
    rewrite_response_for_device(header, false);
    EXPECT_EQ(header.find("X-Backend-Node"), header.end());
    EXPECT_EQ(header.find(http::field::connection), header.end());
    EXPECT_EQ(header[http::field::content_length], "12");
    EXPECT_EQ(header.count(http::field::www_authenticate), 1u);  // pass-through: the device's business
}

TEST(RewriteResponseForDevice, InCertificateModeKerberosArtefactsStayWithEasgate) {
    common::ResponseHeader header;
    header.insert(http::field::www_authenticate, "Negotiate oYG3MIG0oAMKAQChCwYJKoZIgvcSAQIC");
    header.insert(http::field::www_authenticate, "NTLM");
    header.set("Persistent-Auth", "true");
    header.set("MS-Server-ActiveSync", "15.20");
    rewrite_response_for_device(header, true);
    EXPECT_EQ(header.count(http::field::www_authenticate), 0u);
    EXPECT_EQ(header.count("Persistent-Auth"), 0u);
    EXPECT_EQ(header["MS-Server-ActiveSync"], "15.20");
}

// Exchange's server names and diagnostics stay inside, in either mode; ActiveSync's own fields and
// cookies go to the device.
TEST(RewriteResponseForDevice, ExchangesServerNamesNeverReachTheDevice) {
    for (const bool certificate_mode : {false, true}) {
        common::ResponseHeader header;
        for (const char* name : {"X-FEServer", "x-beserver", "X-CalculatedBETarget", "X-DiagInfo",
                                 "X-Powered-By", "X-AspNet-Version", "X-BackEndHttpStatus"})
            header.insert(name, "EXCH01.corp.example.com");
        header.set(http::field::server, "Microsoft-IIS/10.0 EXCH01");
        header.set("MS-Server-ActiveSync", "15.20");
        header.set("X-MS-Location", "https://mail2.example.com/Microsoft-Server-ActiveSync");
        header.set(http::field::set_cookie, "X-BackEndCookie=S-1-5-21=u56Lnp2ejJqBz; path=/");
        rewrite_response_for_device(header, certificate_mode);
        for (const auto& field : header)
            EXPECT_EQ(field.value().find("EXCH01"), std::string_view::npos) << field.name_string();
        EXPECT_EQ(header["MS-Server-ActiveSync"], "15.20");
        EXPECT_EQ(header.count("X-MS-Location"), 1u);
        EXPECT_EQ(header.count(http::field::set_cookie), 1u);
    }
}

TEST(ParseUpstreamUrl, AcceptsHostsPortsAndIpv6AndRefusesTheRest) {
    const auto plain = config::parse_upstream_url("http://10.0.0.5:8080/");
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->tls);
    EXPECT_EQ(plain->port, 8080);
    EXPECT_EQ(plain->host_header(), "10.0.0.5:8080");
    const auto v6 = config::parse_upstream_url("https://[::1]:9443");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->host_header(), "[::1]:9443");
    EXPECT_EQ(config::parse_upstream_url("https://mail")->host_header(), "mail");
    for (const char* bad : {"mail", "ftp://mail", "https://", "https://mail:0", "https://mail:99999",
                            "https://user@mail", "https://mail/owa", "https://mail:"}) {
        EXPECT_FALSE(config::parse_upstream_url(bad)) << bad;
    }
}

}  // namespace
}  // namespace easgate::upstream
