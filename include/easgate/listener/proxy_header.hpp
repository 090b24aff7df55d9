#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace easgate::listener {

// The PROXY protocol header (HAProxy's proxy-protocol.txt) a load balancer in TCP mode puts before
// the device's TLS ClientHello, naming the device's address. Version 1 is a text line, version 2
// a binary block with a 16-byte fixed part.
inline constexpr std::size_t proxy_v1_max_bytes = 107;  // the specification's bound, CRLF included
// The specification allows 64 KiB of TLVs; nothing easgate sits behind sends more than a few
// hundred bytes, and a trusted peer gone wrong must not make each connection hold more.
inline constexpr std::size_t proxy_v2_max_bytes = 16 + 1024;
inline constexpr std::size_t proxy_header_max_bytes = proxy_v2_max_bytes;

// Why a connection on a proxy_protocol listener was closed before its TLS handshake, for
// /metrics: its peer is no trusted proxy, or the header is missing, malformed or late.
inline constexpr std::array<std::string_view, 4> proxy_refusal_causes{"untrusted_source", "missing",
                                                                      "malformed", "timeout"};

struct ProxyHeaderParse {
    enum class Status { need_more, parsed, refused };
    Status status = Status::need_more;
    // parsed: how many bytes the header takes; every byte after them is the device's.
    std::size_t length = 0;
    // parsed: the device's address and port; nullopt for LOCAL and UNKNOWN (the proxy's own
    // connection, a health check: the socket's peer stands).
    std::optional<boost::asio::ip::tcp::endpoint> source;
    // refused: "missing" (the bytes are no PROXY header at all) or "malformed", and why.
    std::string_view cause;
    std::string reason;
};

// Parses the start of a connection. need_more: the bytes are a valid beginning of a header (so a
// reader may consume all of them) and more are needed. Pure: no I/O, so a fuzzer can drive it.
ProxyHeaderParse parse_proxy_header(std::span<const std::uint8_t> bytes);

}  // namespace easgate::listener
