#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>

#include "easgate/upstream/upstream_target.hpp"

namespace easgate::upstream {

namespace http = boost::beast::http;

// Turns a device's request header into the one Exchange gets: hop-by-hop fields (and any the
// device named in Connection) removed, Expect dropped (easgate answers 100-continue itself),
// Host set to the upstream, X-Forwarded-For/-Proto/-Host set by easgate alone.
void rewrite_request_for_upstream(http::request_header<>& header, const UpstreamTarget& target,
                                  const boost::asio::ip::address& device_address);

// Turns Exchange's response header into the device's: hop-by-hop fields removed (the caller then
// applies the device's keep-alive). Transfer-Encoding stays: the body is re-framed by the same rules.
void rewrite_response_for_device(http::response_header<>& header);

}  // namespace easgate::upstream
