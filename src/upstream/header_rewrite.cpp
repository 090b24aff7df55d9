#include "easgate/upstream/header_rewrite.hpp"

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>
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

// Fields a device could use to pass for another client address or to have a component behind
// Exchange's front end (IIS URL Rewrite, ARR, a framework) take another path than the one easgate
// checked. Dropped, never set: easgate's own say are the forwarding fields above.
constexpr std::array<std::string_view, 7> spoofing_fields{
    "X-Client-IP",        "True-Client-IP", "X-Cluster-Client-IP", "X-Forwarded-Port",
    "X-Forwarded-Server", "X-Original-URL", "X-Rewrite-URL"};

// What Exchange (IIS, ASP.NET) says of its inner workings: its servers' names (the front end's,
// the mailbox server's, the one it calculated for the user) and diagnostics and versions. Hidden
// from devices, as a gateway in front of Exchange is expected to.
constexpr std::array<std::string_view, 16> backend_topology_fields{"X-FEServer",
                                                                   "X-BEServer",
                                                                   "X-CalculatedBETarget",
                                                                   "X-CalculatedFETarget",
                                                                   "X-DiagInfo",
                                                                   "X-FEProxyInfo",
                                                                   "X-FEEFZInfo",
                                                                   "X-FirstHopCafeEFZ",
                                                                   "X-BackEndHttpStatus",
                                                                   "X-BEServerException",
                                                                   "X-Proxy-BackendServerStatus",
                                                                   "X-Proxy-RoutingCorrectness",
                                                                   "X-Powered-By",
                                                                   "X-AspNet-Version",
                                                                   "X-AspNetMvc-Version",
                                                                   "X-OWA-Version"};

bool is_backend_topology_field(std::string_view name) {
    return std::ranges::any_of(backend_topology_fields,
                               [&](std::string_view field) { return boost::beast::iequals(name, field); });
}

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

ConnectionOptions connection_options(const common::Fields& fields) {
    ConnectionOptions names;
    for (const auto& field : fields) {
        if (field.name() != http::field::connection) continue;
        for (const auto& token : http::token_list(field.value())) names.emplace_back(token);
    }
    std::sort(names.begin(), names.end(), boost::beast::iless{});
    names.erase(
        std::unique(names.begin(), names.end(),
                    [](const std::string& a, const std::string& b) { return boost::beast::iequals(a, b); }),
        names.end());
    return names;
}

bool names(const ConnectionOptions& options, std::string_view name) {
    return std::binary_search(options.begin(), options.end(), name, boost::beast::iless{});
}

namespace {

// Hop-by-hop fields go, with the fields named in Connection, except those easgate decides: the
// body's framing comes from what the parser read and the rest from easgate, never from a name the
// other side put in a header. `also` names more fields to drop. One pass over the fields, each
// looked up among the named ones by a binary search: a hostile header of thousands of fields and
// a Connection naming thousands more costs a walk, not their product.
template <bool isRequest, typename Also>
void remove_hop_by_hop(http::header<isRequest, common::Fields>& header, Also also) {
    const auto named = connection_options(header);
    header.erase_if([&](const common::Fields::value_type& field) {
        return std::find(hop_by_hop.begin(), hop_by_hop.end(), field.name()) != hop_by_hop.end() ||
               also(field) ||
               (names(named, field.name_string()) && !is_gateway_owned_field(field.name_string()));
    });
}

}  // namespace

void rewrite_request_for_upstream(common::RequestHeader& header, std::string_view device_address,
                                  bool strip_authorization) {
    std::optional<std::string_view> original_host;  // the first Host; it stays, so the view does
    remove_hop_by_hop(header, [&](const common::Fields::value_type& field) {
        switch (field.name()) {
            case http::field::host:
                if (!original_host) original_host = field.value();
                return false;
            case http::field::expect:
            case http::field::forwarded:
                return true;
            case http::field::authorization:
                return strip_authorization;
            case http::field::unknown:
                break;
            default:
                return false;
        }
        const auto named = [&](std::string_view name) {
            return boost::beast::iequals(name, field.name_string());
        };
        return std::any_of(forwarding_fields.begin(), forwarding_fields.end(), named) ||
               std::any_of(spoofing_fields.begin(), spoofing_fields.end(), named);
    });
    // Names Beast's field table does not list (header_rewrite_test checks): inserted as unknown
    // fields without the table lookup that inserting by name costs.
    header.insert(http::field::unknown, forwarding_fields[0], device_address);
    header.insert(http::field::unknown, forwarding_fields[1], "https");
    if (original_host && !original_host->empty())
        header.insert(http::field::unknown, forwarding_fields[2], *original_host);
}

void address_request(common::RequestHeader& header, const config::UpstreamTarget& target, BodyFraming framing,
                     std::optional<std::uint64_t> read_ahead_bytes) {
    // The device's (or the last try's) Host and framing go in one pass over the fields, then ours
    // are added: set() and erase() by name would walk the fields once each.
    header.erase_if([](const common::Fields::value_type& field) {
        const auto name = field.name();
        return name == http::field::host || name == http::field::content_length ||
               name == http::field::transfer_encoding;
    });
    header.insert(http::field::host, target.host_header());
    if (!framing.has_body()) return;
    if (read_ahead_bytes) {
        header.insert(http::field::content_length, std::to_string(*read_ahead_bytes));
    } else if (framing.chunked) {
        header.insert(http::field::transfer_encoding, "chunked");
    } else {
        header.insert(http::field::content_length, std::to_string(*framing.content_length));
    }
}

void rewrite_response_for_device(common::ResponseHeader& header, bool strip_backend_authentication) {
    remove_hop_by_hop(header, [&](const common::Fields::value_type& field) {
        // IIS's Server names its version; Beast knows none of the other names, so only unknown
        // fields are compared by name.
        if (field.name() == http::field::server) return true;
        if (field.name() != http::field::unknown)
            return strip_backend_authentication && field.name() == http::field::www_authenticate;
        const auto name = field.name_string();
        return is_backend_topology_field(name) ||
               (strip_backend_authentication && boost::beast::iequals(name, "Persistent-Auth"));
    });
}

}  // namespace easgate::upstream
