#include "easgate/listener/request_framing.hpp"

#include <boost/beast/core/string.hpp>
#include <iterator>

#include "easgate/upstream/header_rewrite.hpp"

namespace easgate::listener {

namespace http = boost::beast::http;

std::string framing_error(const http::request_header<>& header) {
    const auto lengths = header.equal_range(http::field::content_length);
    const auto length_count = std::distance(lengths.first, lengths.second);
    if (length_count > 1 || (length_count == 1 && lengths.first->value().find(',') != std::string_view::npos))
        return "more than one Content-Length";
    const auto codings = header.equal_range(http::field::transfer_encoding);
    const auto coding_count = std::distance(codings.first, codings.second);
    if (coding_count > 0) {
        if (length_count > 0) return "both Content-Length and Transfer-Encoding";
        if (coding_count > 1 || !boost::beast::iequals(codings.first->value(), "chunked"))
            return "Transfer-Encoding other than chunked";
    }
    const std::string_view target = header.target();
    if (!target.starts_with('/') && !(target == "*" && header.method() == http::verb::options))
        return "request-target is not an absolute path";
    if (header.version() >= 11 && header.count(http::field::host) != 1)
        return "HTTP/1.1 needs exactly one Host";
    for (const auto& name : upstream::connection_options(header)) {
        if (upstream::is_gateway_owned_field(name))
            return "Connection names " + std::string(name) + ", a field easgate decides";
    }
    return "";
}

bool has_bare_line_feed(std::string_view received) {
    for (auto at = received.find('\n'); at != std::string_view::npos; at = received.find('\n', at + 1)) {
        if (at == 0 || received[at - 1] != '\r') return true;
    }
    return false;
}

std::size_t header_end(std::string_view received) {
    const auto blank_line = received.find("\r\n\r\n");
    return blank_line == std::string_view::npos ? std::string_view::npos : blank_line + 4;
}

bool has_obsolete_line_folding(std::string_view header) {
    for (auto line = header.find("\r\n"); line != std::string_view::npos;
         line = header.find("\r\n", line + 2)) {
        if (line + 2 < header.size() && (header[line + 2] == ' ' || header[line + 2] == '\t')) return true;
    }
    return false;
}

}  // namespace easgate::listener
