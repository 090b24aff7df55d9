// libFuzzer entry point: a device's raw request header through what DownstreamSession does with it
// (refusals first, then the rewrite and addressing for Exchange). It aborts when the header
// Exchange would get is not exactly easgate's framing and identity fields over the device's own
// end-to-end fields, or when a downstream parser could read it differently, or when easgate's
// parser (on its flat fields) keeps anything other than Beast's own parser on basic_fields keeps.
//
// Input: one option byte (bit 0: strip Authorization, as certificate mode does; bit 1: the body
// was read ahead; bits 2-3: device address; bits 4-5: upstream), then the raw request. The bytes
// after the header's blank line stand in for the body read ahead: their count is the length
// easgate frames with.

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "easgate/common/message_writer.hpp"
#include "easgate/config/upstream_target.hpp"
#include "easgate/listener/request_framing.hpp"
#include "easgate/upstream/header_rewrite.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using easgate::upstream::BodyFraming;

using Parser = easgate::common::RequestParser;
using easgate::common::RequestHeader;
using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr std::array<std::string_view, 4> device_addresses{"192.0.2.7", "2001:db8::7", "::ffff:192.0.2.7",
                                                           "10.0.0.1"};
constexpr std::array<std::string_view, 4> upstream_urls{
    "https://mail.corp.example.com", "http://exchange:8080", "https://[2001:db8::5]:8443", "http://10.1.2.3"};
// RFC 9110 7.6.1, restated so that a field the implementation forgets fails here.
constexpr std::array<std::string_view, 7> hop_by_hop{"Connection", "Keep-Alive", "Proxy-Connection",   "TE",
                                                     "Trailer",    "Upgrade",    "Proxy-Authorization"};
// Fields that pass for another client address or a rewritten URL: dropped, also restated here.
constexpr std::array<std::string_view, 7> spoofing{
    "X-Client-IP",        "True-Client-IP", "X-Cluster-Client-IP", "X-Forwarded-Port",
    "X-Forwarded-Server", "X-Original-URL", "X-Rewrite-URL"};

void require(bool holds, const char* broken) {
    if (holds) return;
    std::fprintf(stderr, "header rewrite invariant broken: %s\n", broken);
    std::abort();
}

// Each field as its name in lower case, its enum, its name as spelled and its value, ordered by name
// with each name's fields in their order: basic_fields puts a repeated name after its last field,
// FlatFields keeps arrival order, and only the order among one name's fields has a meaning (RFC 9110 5.3).
template <class Header>
std::vector<std::tuple<std::string, http::field, std::string, std::string>> fields_by_name(
    const Header& header) {
    std::vector<std::tuple<std::string, http::field, std::string, std::string>> fields;
    for (const auto& field : header) {
        std::string lower(field.name_string());
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        fields.emplace_back(std::move(lower), field.name(), field.name_string(), field.value());
    }
    std::stable_sort(fields.begin(), fields.end(),
                     [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
    return fields;
}

// Beast's own parser on its basic_fields reads the same bytes: easgate's must have kept the same
// request line, fields (each name's in order, as spelled), framing and keep-alive.
void require_read_as_beast_reads(std::string_view raw, const Parser& ours) {
    http::request_parser<http::empty_body> beasts;
    beasts.header_limit(64 * 1024);
    beasts.body_limit(boost::none);
    beast::error_code ec;
    const std::size_t used = beasts.put(boost::asio::buffer(raw.data(), raw.size()), ec);
    require(!ec && beasts.is_header_done() && used == raw.size(), "Beast's own parser takes the header too");
    const auto& expected = beasts.get();
    const auto& got = ours.get();
    require(got.method_string() == expected.method_string() && got.target() == expected.target() &&
                got.version() == expected.version(),
            "the same request line as Beast's parser");
    require(got.keep_alive() == beasts.keep_alive() && got.chunked() == expected.chunked() &&
                got.has_content_length() == expected.has_content_length() &&
                ours.content_length() == beasts.content_length(),
            "the same framing and keep-alive as Beast's parser");
    require(fields_by_name(got) == fields_by_name(expected), "the same fields as Beast's parser");
}

// The header alone, as DownstreamSession reads it: the bytes it took, or nullopt when Beast refuses it.
std::optional<std::size_t> parse_header(Parser& parser, std::string_view raw) {
    parser.header_limit(64 * 1024);
    parser.body_limit(boost::none);
    beast::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(raw.data(), raw.size()), ec);
    if (ec || !parser.is_header_done()) return std::nullopt;
    require_read_as_beast_reads(raw.substr(0, used), parser);
    return used;
}

BodyFraming framing_of(const Parser& parser) {
    const auto length = parser.content_length();
    return {parser.chunked(), length ? std::optional<std::uint64_t>(*length) : std::nullopt};
}

std::size_t count(const RequestHeader& header, std::string_view name) {
    return static_cast<std::size_t>(std::count_if(header.begin(), header.end(), [name](const auto& field) {
        return beast::iequals(field.name_string(), name);
    }));
}

bool has_single(const RequestHeader& header, std::string_view name, std::string_view value) {
    return count(header, name) == 1 && header[name] == value;
}

// Every token of every Connection field (RFC 9110 7.6.1: they form one list).
std::vector<std::string> connection_tokens(const RequestHeader& header) {
    std::vector<std::string> tokens;
    for (const auto& field : header) {
        if (!beast::iequals(field.name_string(), "Connection")) continue;
        for (const auto& token : http::token_list(field.value())) tokens.emplace_back(token);
    }
    return tokens;
}

// The device's end-to-end fields easgate passes on untouched, in order.
Fields end_to_end_fields(const RequestHeader& header, const std::vector<std::string>& dropped) {
    Fields kept;
    for (const auto& field : header) {
        const std::string_view name = field.name_string();
        const auto named = [name](std::string_view other) { return beast::iequals(name, other); };
        if (easgate::upstream::is_gateway_owned_field(name) || beast::iequals(name, "Expect") ||
            std::any_of(hop_by_hop.begin(), hop_by_hop.end(), named) ||
            std::any_of(spoofing.begin(), spoofing.end(), named) ||
            std::any_of(dropped.begin(), dropped.end(), named))
            continue;
        kept.emplace_back(name, field.value());
    }
    return kept;
}

// The header as easgate sends it upstream.
std::string serialize_header(const RequestHeader& request) {
    return std::string(easgate::common::MessageWriter(request).head());
}

// Exchange reads the body as the device framed it, or by the length easgate read ahead.
void require_framed_as_read(const RequestHeader& forwarded, const BodyFraming& upstream_framing,
                            const BodyFraming& framing, const std::optional<std::uint64_t>& read_ahead) {
    if (!framing.has_body()) {
        require(count(forwarded, "Content-Length") == 0 && count(forwarded, "Transfer-Encoding") == 0,
                "no framing without a body");
    } else if (read_ahead || !framing.chunked) {
        const std::uint64_t length = read_ahead ? *read_ahead : *framing.content_length;
        require(has_single(forwarded, "Content-Length", std::to_string(length)),
                "one Content-Length, easgate's");
        require(count(forwarded, "Transfer-Encoding") == 0 && upstream_framing.content_length == length,
                "framed by that length alone");
    } else {
        require(
            has_single(forwarded, "Transfer-Encoding", "chunked") && count(forwarded, "Content-Length") == 0,
            "one Transfer-Encoding: chunked, no Content-Length");
        require(upstream_framing.chunked, "framed as chunked");
    }
}

// The fields easgate decides are its own, the device's end-to-end ones pass untouched.
void require_fields_rewritten(const RequestHeader& forwarded, const RequestHeader& original,
                              const std::vector<std::string>& connection_named, const std::string& device,
                              bool strip_authorization) {
    for (const auto name : hop_by_hop) require(count(forwarded, name) == 0, "no hop-by-hop field");
    for (const auto name : spoofing)
        require(count(forwarded, name) == 0, "no client-address or URL spoofing field");
    require(has_single(forwarded, "X-Forwarded-For", device), "one X-Forwarded-For, the device");
    require(has_single(forwarded, "X-Forwarded-Proto", "https"), "one X-Forwarded-Proto: https");
    const std::string_view device_host = original[http::field::host];
    require(device_host.empty() ? count(forwarded, "X-Forwarded-Host") == 0
                                : has_single(forwarded, "X-Forwarded-Host", device_host),
            "X-Forwarded-Host is the device's Host");
    require(count(forwarded, "Forwarded") == 0 && count(forwarded, "X-Real-IP") == 0,
            "no Forwarded, X-Real-IP");
    require(count(forwarded, "Expect") == 0, "no Expect");
    require(count(forwarded, "Authorization") == (strip_authorization ? 0 : count(original, "Authorization")),
            "Authorization stripped or passed through");
    require(end_to_end_fields(forwarded, {}) == end_to_end_fields(original, connection_named),
            "the device's end-to-end fields pass untouched");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t options = data[0];
    const std::string_view received(reinterpret_cast<const char*>(data + 1), size - 1);

    // The device-side refusals, in DownstreamSession's order.
    const auto scan = easgate::listener::scan_raw_header(received);
    if (scan.end == std::string_view::npos || scan.bare_line_feed || scan.obsolete_line_folding) return 0;
    const std::size_t end = scan.end;
    const std::string_view raw = received.substr(0, end);
    // As DownstreamSession parses: the rewrite runs on arena fields.
    easgate::common::ParserInArena<Parser> parsed;
    Parser& parser = parsed.parser;
    if (!parse_header(parser, raw)) return 0;
    auto& request = parser.get();
    if (!easgate::listener::framing_error(request).empty()) return 0;

    const BodyFraming framing = framing_of(parser);
    const bool strip_authorization = (options & 0x01) != 0;
    const std::optional<std::uint64_t> read_ahead =
        (options & 0x02) != 0 ? std::optional<std::uint64_t>(received.size() - end) : std::nullopt;
    const auto device = boost::asio::ip::make_address(device_addresses[(options >> 2) & 0x03]);
    const auto target = easgate::config::parse_upstream_url(upstream_urls[(options >> 4) & 0x03]);
    require(target.has_value(), "upstream URL parses");

    const RequestHeader original = request.base();
    const std::vector<std::string> connection_named = connection_tokens(original);
    // Accepted means no Connection field asked easgate to drop a field it decides.
    for (const auto& name : connection_named)
        require(!easgate::upstream::is_gateway_owned_field(name),
                "no accepted Connection names an owned field");

    easgate::upstream::rewrite_request_for_upstream(request.base(), device.to_string(), strip_authorization);
    easgate::upstream::address_request(request.base(), *target, framing, read_ahead);
    request.version(11);
    const std::string sent = serialize_header(request);

    // What Exchange reads: exactly this one header, with the same framing, refused by nothing.
    const auto sent_scan = easgate::listener::scan_raw_header(sent);
    require(sent_scan.end == sent.size() && !sent_scan.bare_line_feed && !sent_scan.obsolete_line_folding,
            "CRLF lines, no folding, ending where the header does");
    Parser upstream_parser;
    require(parse_header(upstream_parser, sent) == sent.size(), "re-parses as exactly one header");
    const auto& forwarded = upstream_parser.get();
    require(easgate::listener::framing_error(forwarded).empty(), "unambiguous framing");

    require(has_single(forwarded, "Host", target->host_header()), "one Host, the upstream's");
    require_framed_as_read(forwarded, framing_of(upstream_parser), framing, read_ahead);
    require_fields_rewritten(forwarded, original, connection_named, device.to_string(), strip_authorization);
    return 0;
}
