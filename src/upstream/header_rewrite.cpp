#include "easgate/upstream/header_rewrite.hpp"

#include <array>
#include <boost/beast/http/rfc7230.hpp>
#include <string>
#include <vector>

namespace easgate::upstream {
namespace {

// RFC 9110 7.6.1 connection-specific fields.
constexpr std::array hop_by_hop{
    http::field::connection,
    http::field::keep_alive,
    http::field::proxy_connection,
    http::field::te,
    http::field::trailer,
    http::field::upgrade,
    http::field::proxy_authorization,
    http::field::proxy_authenticate,
};

constexpr std::array<std::string_view, 4> forwarding_fields{"X-Forwarded-For", "X-Forwarded-Proto",
                                                            "X-Forwarded-Host", "X-Real-IP"};

bool is_framing_field(std::string_view name) {
    return boost::beast::iequals(name, "content-length") || boost::beast::iequals(name, "transfer-encoding");
}

}  // namespace

bool is_gateway_owned_field(std::string_view name) {
    if (is_framing_field(name) || boost::beast::iequals(name, "host") ||
        boost::beast::iequals(name, "authorization") || boost::beast::iequals(name, "forwarded"))
        return true;
    for (const auto field : forwarding_fields) {
        if (boost::beast::iequals(name, field)) return true;
    }
    return false;
}

std::vector<std::string> connection_options(const http::fields& fields) {
    std::vector<std::string> names;
    for (const auto& field : fields) {
        if (field.name() != http::field::connection) continue;
        for (const auto& token : http::token_list(field.value())) names.emplace_back(token);
    }
    return names;
}

namespace {

// Fields named in Connection go too, except those easgate decides: the body's framing comes from
// what the parser read and the rest from easgate, never from a name the other side put in a header.
template <bool isRequest>
void remove_hop_by_hop(http::header<isRequest>& header) {
    for (const auto& name : connection_options(header)) {
        if (!is_gateway_owned_field(name)) header.erase(name);
    }
    for (const auto field : hop_by_hop) header.erase(field);
}

}  // namespace

void rewrite_request_for_upstream(http::request_header<>& header,
                                  const boost::asio::ip::address& device_address, bool strip_authorization) {
    remove_hop_by_hop(header);
    header.erase(http::field::expect);
    if (strip_authorization) header.erase(http::field::authorization);
    const std::string original_host(header[http::field::host]);
    for (const auto field : forwarding_fields) header.erase(field);
    header.erase(http::field::forwarded);
    header.set("X-Forwarded-For", device_address.to_string());
    header.set("X-Forwarded-Proto", "https");
    if (!original_host.empty()) header.set("X-Forwarded-Host", original_host);
}

void address_request(http::request_header<>& header, const config::UpstreamTarget& target,
                     BodyFraming framing, std::optional<std::uint64_t> read_ahead_bytes) {
    header.set(http::field::host, target.host_header());
    header.erase(http::field::content_length);
    header.erase(http::field::transfer_encoding);
    if (!framing.has_body()) return;
    if (read_ahead_bytes) {
        header.set(http::field::content_length, std::to_string(*read_ahead_bytes));
    } else if (framing.chunked) {
        header.set(http::field::transfer_encoding, "chunked");
    } else {
        header.set(http::field::content_length, std::to_string(*framing.content_length));
    }
}

void rewrite_response_for_device(http::response_header<>& header, bool strip_backend_authentication) {
    remove_hop_by_hop(header);
    if (!strip_backend_authentication) return;
    header.erase(http::field::www_authenticate);
    header.erase("Persistent-Auth");
}

}  // namespace easgate::upstream
