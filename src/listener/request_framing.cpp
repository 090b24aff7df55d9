#include "easgate/listener/request_framing.hpp"

#include <boost/beast/core/string.hpp>

#include "easgate/listener/eas_headers.hpp"
#include "easgate/upstream/header_rewrite.hpp"

namespace easgate::listener {

namespace http = boost::beast::http;

namespace {

// RFC 3986's host [ ":" port ]: an IP-literal in brackets, or a reg-name (an IPv4 address is one)
// of unreserved characters, %-escapes and sub-delims; nothing that would end or redirect a URL
// built from it (easgate's X-Forwarded-Host, a 451's X-MS-Location).
bool valid_host(std::string_view host) {
    const auto in = [](char c, std::string_view set) { return set.find(c) != std::string_view::npos; };
    const auto alphanumeric = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    std::string_view name = host;
    std::string_view port;
    if (host.starts_with('[')) {
        const auto close = host.find(']');
        if (close == std::string_view::npos) return false;
        name = host.substr(1, close - 1);
        if (name.empty()) return false;
        for (const char c : name)
            if (!alphanumeric(c) && !in(c, ":.-_~%!$&'()*+,;=")) return false;
        const auto rest = host.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':')) return false;
        port = rest.empty() ? rest : rest.substr(1);
    } else {
        const auto colon = host.rfind(':');
        if (colon != std::string_view::npos) {
            name = host.substr(0, colon);
            port = host.substr(colon + 1);
        }
        for (const char c : name)
            if (!alphanumeric(c) && !in(c, "-._~%!$&'()*+,;=")) return false;
    }
    for (const char c : port)
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace

std::string framing_error(const common::RequestHeader& header) {
    // One walk over the fields (a lookup by name is a walk of its own each time).
    std::size_t length_count = 0, coding_count = 0, host_count = 0;
    std::string_view length, coding, host;
    for (const auto& field : header) {
        switch (field.name()) {
            case http::field::content_length:
                if (length_count++ == 0) length = field.value();
                break;
            case http::field::transfer_encoding:
                if (coding_count++ == 0) coding = field.value();
                break;
            case http::field::host:
                if (host_count++ == 0) host = field.value();
                break;
            default:
                break;
        }
    }
    if (length_count > 1 || (length_count == 1 && length.find(',') != std::string_view::npos))
        return "more than one Content-Length";
    if (coding_count > 0) {
        if (length_count > 0) return "both Content-Length and Transfer-Encoding";
        if (coding_count > 1 || !boost::beast::iequals(coding, "chunked"))
            return "Transfer-Encoding other than chunked";
        // HTTP/1.0 has no chunked coding: such framing is faulty (RFC 9112 6.1), and a server
        // behind that reads the body by the connection's close would find the next request in it.
        if (header.version() < 11) return "Transfer-Encoding in an HTTP/1.0 request";
    }
    const std::string_view target = header.target();
    if (!target.starts_with('/') && !(target == "*" && header.method() == http::verb::options))
        return "request-target is not an absolute path";
    // RFC 9112 3.2: a request with more than one Host, or a Host that is no host[:port], is refused
    // whatever its version; only HTTP/1.0 may leave it out.
    if (host_count > 1) return "more than one Host";
    if (header.version() >= 11 && host_count == 0) return "HTTP/1.1 needs exactly one Host";
    if (host_count == 1 && !valid_host(host))
        return "Host is not a host name or address with an optional port";
    for (const auto& name : upstream::connection_options(header)) {
        if (upstream::is_gateway_owned_field(name))
            return "Connection names " + std::string(name) + ", a field easgate decides";
        if (is_eas_header(name)) return "Connection names " + std::string(name) + ", a field easgate judges";
    }
    return "";
}

RawHeaderScan scan_raw_header(std::string_view received) {
    RawHeaderScan scan;
    std::size_t line_start = 0;
    for (auto at = received.find('\n'); at != std::string_view::npos; at = received.find('\n', at + 1)) {
        if (at == 0 || received[at - 1] != '\r') {
            scan.bare_line_feed = true;
            return scan;
        }
        if (at == line_start + 1 && line_start != 0) {  // CRLF alone on its line: the blank line
            scan.end = at + 1;
            return scan;
        }
        line_start = at + 1;
        if (line_start < received.size() && (received[line_start] == ' ' || received[line_start] == '\t'))
            scan.obsolete_line_folding = true;
    }
    return scan;
}

}  // namespace easgate::listener
