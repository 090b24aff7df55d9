#include "easgate/listener/request_framing.hpp"

#include <boost/beast/core/string.hpp>

#include "easgate/upstream/header_rewrite.hpp"

namespace easgate::listener {

namespace http = boost::beast::http;

std::string framing_error(const common::RequestHeader& header) {
    // One walk over the fields (a lookup by name is a walk of its own each time).
    std::size_t length_count = 0, coding_count = 0, host_count = 0;
    std::string_view length, coding;
    for (const auto& field : header) {
        switch (field.name()) {
            case http::field::content_length:
                if (length_count++ == 0) length = field.value();
                break;
            case http::field::transfer_encoding:
                if (coding_count++ == 0) coding = field.value();
                break;
            case http::field::host:
                ++host_count;
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
    if (header.version() >= 11 && host_count != 1) return "HTTP/1.1 needs exactly one Host";
    for (const auto& name : upstream::connection_options(header)) {
        if (upstream::is_gateway_owned_field(name))
            return "Connection names " + std::string(name) + ", a field easgate decides";
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
