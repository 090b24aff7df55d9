#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "easgate/common/header_arena.hpp"
#include "easgate/config/upstream_target.hpp"

namespace easgate::upstream {

namespace http = boost::beast::http;

// How the device framed its request body, as the parser read it (before any rewriting).
struct BodyFraming {
    bool chunked = false;
    std::optional<std::uint64_t> content_length;

    bool has_body() const { return chunked || content_length.has_value(); }
};

// Fields whose value in Exchange's request easgate alone decides: the body's framing, Host,
// the credentials and the forwarding fields. A device that names one in its Connection header is
// asking easgate to drop it; that is refused (400), never obeyed.
bool is_gateway_owned_field(std::string_view name);

// The field names in all of a header's Connection fields: repeated fields form one list (RFC 9110
// 5.3), so a name in a second Connection field counts as much as one in the first. Copies, since
// the Connection fields are erased while they are used; kept inline, since nearly every request
// names at most one ("keep-alive"), which needs no allocation then. Each name once, in an order
// that ignores case, for `names`.
using ConnectionOptions = boost::container::small_vector<std::string, 4>;
ConnectionOptions connection_options(const common::Fields& fields);
// `name` is among the options, whatever its case.
bool names(const ConnectionOptions& options, std::string_view name);

// Once per request, the device's header becomes the end-to-end header Exchange gets: hop-by-hop
// fields (and any others the device named in Connection) removed, Expect dropped (easgate answers
// 100-continue itself), X-Forwarded-For/-Proto/-Host set by easgate alone, and with
// `strip_authorization` (certificate mode) the device's own Authorization removed. `device_address`
// is the device's IP address as text.
void rewrite_request_for_upstream(common::RequestHeader& header, std::string_view device_address,
                                  bool strip_authorization);

// For each attempt (the server may change between them): Host names the server, and the body is
// framed by easgate: a Content-Length of `read_ahead_bytes` when the whole body was read ahead,
// else the device's own framing as the parser read it; no framing fields for a request without a body.
void address_request(common::RequestHeader& header, const config::UpstreamTarget& target, BodyFraming framing,
                     std::optional<std::uint64_t> read_ahead_bytes);

// Exchange's response header becomes the device's: hop-by-hop fields removed (the caller then
// applies the device's keep-alive and framing). With `strip_backend_authentication` (certificate
// mode, where Kerberos between easgate and Exchange is easgate's business) WWW-Authenticate and
// Persistent-Auth are removed too: a mutual-authentication token or a challenge means nothing to a
// device that authenticated with its certificate. Exchange's own server names and diagnostics
// (X-FEServer, X-BEServer, X-CalculatedBETarget, X-DiagInfo, X-Powered-By, …) and IIS's Server
// never reach a device.
void rewrite_response_for_device(common::ResponseHeader& header, bool strip_backend_authentication);

}  // namespace easgate::upstream
