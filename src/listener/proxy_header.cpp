#include "easgate/listener/proxy_header.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <vector>

namespace easgate::listener {
namespace {

namespace ip = boost::asio::ip;
using Status = ProxyHeaderParse::Status;

constexpr std::array<std::uint8_t, 12> v2_signature{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::string_view v1_prefix = "PROXY ";

ProxyHeaderParse need_more() { return {}; }

ProxyHeaderParse refused(std::string_view cause, std::string reason) {
    return {Status::refused, 0, std::nullopt, cause, std::move(reason)};
}

ProxyHeaderParse malformed(std::string reason) { return refused("malformed", std::move(reason)); }

ProxyHeaderParse parsed(std::size_t length, std::optional<ip::tcp::endpoint> source = std::nullopt) {
    return {Status::parsed, length, source, {}, {}};
}

bool starts_like(std::span<const std::uint8_t> bytes, std::span<const std::uint8_t> prefix) {
    const auto n = std::min(bytes.size(), prefix.size());
    return std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n), prefix.begin());
}

// A port as the specification writes it: 1 to 5 digits, no sign, no leading zero, at most 65535.
std::optional<std::uint16_t> port(std::string_view text) {
    if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

std::vector<std::string_view> split_on_spaces(std::string_view line) {
    std::vector<std::string_view> words;
    for (std::size_t start = 0;;) {
        const auto space = line.find(' ', start);
        words.push_back(line.substr(start, space - start));
        if (space == std::string_view::npos) return words;
        start = space + 1;
    }
}

// "PROXY TCP4 203.0.113.7 192.0.2.1 51234 443\r\n"; "PROXY UNKNOWN ...\r\n" keeps the socket's peer.
ProxyHeaderParse parse_v1(std::string_view text) {
    const auto crlf = text.find("\r\n");
    const auto line_end = std::min(crlf, text.size());
    // Complete, its CRLF must be within the bound; incomplete, there must be room left for it.
    const bool too_long = crlf != std::string_view::npos
                              ? crlf + 2 > proxy_v1_max_bytes
                              : text.size() + (text.back() == '\r' ? 1 : 2) > proxy_v1_max_bytes;
    if (too_long)
        return malformed("version 1 line longer than " + std::to_string(proxy_v1_max_bytes) + " bytes");
    // A CR only at the very end, where its LF may still be on the way.
    const auto stray = text.substr(0, line_end).find_first_of("\r\n");
    if (stray != std::string_view::npos && !(crlf == std::string_view::npos && stray == text.size() - 1))
        return malformed("version 1 line with a stray CR or LF");
    if (crlf == std::string_view::npos) return need_more();
    const std::size_t length = crlf + 2;
    const auto words = split_on_spaces(text.substr(v1_prefix.size(), crlf - v1_prefix.size()));
    if (words[0] == "UNKNOWN") return parsed(length);
    if (words[0] != "TCP4" && words[0] != "TCP6")
        return malformed("version 1 protocol is neither TCP4, TCP6 nor UNKNOWN");
    if (words.size() != 5) return malformed("version 1 line without exactly two addresses and two ports");
    boost::system::error_code ec;
    const auto source = ip::make_address(std::string(words[1]), ec);
    if (ec) return malformed("version 1 source is not an IP address");
    const auto destination = ip::make_address(std::string(words[2]), ec);
    if (ec) return malformed("version 1 destination is not an IP address");
    const bool v4 = words[0] == "TCP4";
    if (source.is_v4() != v4 || destination.is_v4() != v4)
        return malformed("version 1 addresses are not of the family " + std::string(words[0]) + " names");
    const auto source_port = port(words[3]);
    if (!source_port || !port(words[4])) return malformed("version 1 port is not a number from 0 to 65535");
    return parsed(length, ip::tcp::endpoint(source, *source_port));
}

std::uint16_t big_endian16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// The 16-byte fixed part (signature, version and command, family and transport, length), then
// the addresses, then TLVs, which are skipped.
ProxyHeaderParse parse_v2(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < 16) return need_more();
    const unsigned version = bytes[12] >> 4, command = bytes[12] & 0x0F;
    if (version != 2) return malformed("version 2 signature with version " + std::to_string(version));
    if (command > 1) return malformed("version 2 command is neither LOCAL nor PROXY");
    const std::size_t length = 16 + big_endian16(&bytes[14]);
    if (length > proxy_v2_max_bytes)
        return malformed("version 2 header of " + std::to_string(length) + " bytes, more than " +
                         std::to_string(proxy_v2_max_bytes));
    if (bytes.size() < length) return need_more();
    const unsigned family = bytes[13] >> 4, transport = bytes[13] & 0x0F;
    if (family > 3 || transport > 2) return malformed("version 2 family or transport is unknown");
    // LOCAL: the proxy's own connection; the addresses, if any, mean nothing.
    if (command == 0 || family == 0) return parsed(length);
    if (family == 3 || transport != 1) return malformed("version 2 header for a connection that is not TCP");
    const auto* a = &bytes[16];
    if (family == 1) {
        if (length < 16 + 12) return malformed("version 2 TCP over IPv4 with room for no addresses");
        const ip::address_v4 source(ip::address_v4::bytes_type{a[0], a[1], a[2], a[3]});
        return parsed(length, ip::tcp::endpoint(source, big_endian16(a + 8)));
    }
    if (length < 16 + 36) return malformed("version 2 TCP over IPv6 with room for no addresses");
    ip::address_v6::bytes_type source{};
    std::copy_n(a, 16, source.begin());
    return parsed(length, ip::tcp::endpoint(ip::address_v6(source), big_endian16(a + 32)));
}

}  // namespace

ProxyHeaderParse parse_proxy_header(std::span<const std::uint8_t> bytes) {
    const std::span<const std::uint8_t> v1(reinterpret_cast<const std::uint8_t*>(v1_prefix.data()),
                                           v1_prefix.size());
    if (starts_like(bytes, v2_signature)) return bytes.size() < 12 ? need_more() : parse_v2(bytes);
    if (starts_like(bytes, v1)) {
        if (bytes.size() < v1.size()) return need_more();
        return parse_v1({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
    }
    char first[8];
    std::snprintf(first, sizeof first, "0x%02x", bytes[0]);
    return refused("missing", std::string("no PROXY protocol header: the connection starts with byte ") +
                                  first + (bytes[0] == 0x16 ? " (a TLS handshake)" : ""));
}

}  // namespace easgate::listener
