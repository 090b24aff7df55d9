#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace easgate::config {

// One Exchange server as configured: "https://mail.corp.example.com" or "http://host:8080".
struct UpstreamTarget {
    std::string url;  // as written, for logs
    bool tls = true;
    std::string host;  // name or address, without brackets
    std::uint16_t port = 443;

    // The Host header value: the host, plus the port when it is not the scheme's default.
    std::string host_header() const;

    bool operator==(const UpstreamTarget&) const = default;
};

// nullopt when the URL is not http(s)://host[:port][/] (paths and credentials are refused).
std::optional<UpstreamTarget> parse_upstream_url(std::string_view url);

}  // namespace easgate::config
