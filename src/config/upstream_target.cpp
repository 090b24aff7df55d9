#include "easgate/config/upstream_target.hpp"

#include <charconv>

namespace easgate::config {

std::string UpstreamTarget::host_header() const {
    const bool bracket = host.find(':') != std::string::npos;  // IPv6 literal
    // Appended piece by piece: GCC 12's -Wrestrict misreads `":" + std::to_string(port)` in a
    // Release build (a false overlap report that would stop an admin's -Werror build).
    std::string header;
    if (bracket) header += '[';
    header += host;
    if (bracket) header += ']';
    if (port != (tls ? 443 : 80)) {
        header += ':';
        header += std::to_string(port);
    }
    return header;
}

std::optional<UpstreamTarget> parse_upstream_url(std::string_view url) {
    UpstreamTarget target;
    target.url = std::string(url);
    std::string_view rest = url;
    if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
    } else if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
        target.tls = false;
        target.port = 80;
    } else {
        return std::nullopt;
    }
    if (rest.ends_with('/')) rest.remove_suffix(1);
    if (rest.empty() || rest.find_first_of("/@?#") != std::string_view::npos) return std::nullopt;

    std::string_view port_text;
    if (rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        target.host = std::string(rest.substr(1, close - 1));
        rest.remove_prefix(close + 1);
        if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
        if (!rest.empty()) port_text = rest.substr(1);
    } else {
        const auto colon = rest.find(':');
        target.host = std::string(rest.substr(0, colon));
        if (colon != std::string_view::npos) port_text = rest.substr(colon + 1);
    }
    if (target.host.empty()) return std::nullopt;
    if (!port_text.empty() || rest.ends_with(':')) {
        unsigned port = 0;
        const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
            return std::nullopt;
        }
        target.port = static_cast<std::uint16_t>(port);
    }
    return target;
}

}  // namespace easgate::config
