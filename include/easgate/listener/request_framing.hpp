#pragma once

#include <string>
#include <string_view>

#include "easgate/common/header_arena.hpp"

namespace easgate::listener {

// Request smuggling defence, on top of what Beast's parser already refuses (Content-Length with
// chunked, conflicting Content-Length values, bad chunk sizes): a request whose framing two HTTP
// implementations could read differently is refused before anything of it reaches Exchange.
// Returns the reason for a 400, or "" when the request is unambiguous:
//   - more than one Content-Length field, or a list ("5, 5"): the same length twice is still ambiguous;
//   - Transfer-Encoding other than exactly one "chunked" (IIS knows no other coding), or with a
//     Content-Length;
//   - a request-target other than an absolute path (or "*" for OPTIONS): absolute-form and
//     authority-form are for proxies, which easgate is not;
//   - HTTP/1.1 without exactly one Host field (RFC 9112 3.2);
//   - a Connection header naming a field easgate decides (framing, Host, credentials, forwarding):
//     obeying it would let the device strip them from what Exchange gets.
std::string framing_error(const common::RequestHeader& header);

// What one pass over a device's received bytes finds, up to the end of its request header.
struct RawHeaderScan {
    // Just past the blank line that ends the header; npos while it is incomplete.
    std::size_t end = std::string_view::npos;
    // A line ending in LF without CR. Beast refuses such a header, but only once it is complete,
    // and easgate looks for CRLF CRLF first: a bare-LF request would wait for header_timeout
    // instead of getting its 400 at once. The scan stops at the first.
    bool bare_line_feed = false;
    // A header line starting with a space or tab (obsolete line folding). Beast would join the
    // lines silently; a proxy that reads them differently from IIS is how requests are smuggled,
    // so easgate refuses them (RFC 9112 5.2 allows either).
    bool obsolete_line_folding = false;
};

// One walk from line feed to line feed (the header is scanned again after each read until it is
// whole, so each pass is kept to one). An empty first line does not end the header: only CRLF
// CRLF does, as the parser reads it.
RawHeaderScan scan_raw_header(std::string_view received);

}  // namespace easgate::listener
