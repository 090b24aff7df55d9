#include "easgate/upstream/header_rewrite.hpp"

#include <array>
#include <boost/beast/http/rfc7230.hpp>
#include <string>
#include <vector>

namespace easgate::upstream {
namespace {

// RFC 9110 7.6.1 connection-specific fields, minus Transfer-Encoding which frames the body.
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

template <bool isRequest>
void remove_hop_by_hop(http::header<isRequest>& header) {
    std::vector<std::string> named;
    for (const auto& token : http::token_list(header[http::field::connection])) named.emplace_back(token);
    for (const auto& name : named) {
        if (!boost::beast::iequals(name, "transfer-encoding")) header.erase(name);
    }
    for (const auto field : hop_by_hop) header.erase(field);
}

}  // namespace

void rewrite_request_for_upstream(http::request_header<>& header, const UpstreamTarget& target,
                                  const boost::asio::ip::address& device_address) {
    remove_hop_by_hop(header);
    header.erase(http::field::expect);
    const std::string original_host(header[http::field::host]);
    for (const char* spoofable : {"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-IP"}) {
        header.erase(spoofable);
    }
    header.erase(http::field::forwarded);
    header.set(http::field::host, target.host_header());
    header.set("X-Forwarded-For", device_address.to_string());
    header.set("X-Forwarded-Proto", "https");
    if (!original_host.empty()) header.set("X-Forwarded-Host", original_host);
}

void rewrite_response_for_device(http::response_header<>& header) { remove_hop_by_hop(header); }

}  // namespace easgate::upstream
