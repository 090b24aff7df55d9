#include "easgate/upstream/mailbox_redirect.hpp"

namespace easgate::upstream {

std::optional<MailboxLocation> parse_mailbox_location(std::string_view location) {
    const auto scheme_end = location.find("://");
    if (scheme_end == std::string_view::npos) return std::nullopt;
    const auto path_start = location.find('/', scheme_end + 3);
    const auto origin = location.substr(0, path_start);
    auto server = config::parse_upstream_url(origin);
    if (!server) return std::nullopt;
    MailboxLocation parsed{std::move(*server),
                           std::string(path_start == std::string_view::npos ? std::string_view("/")
                                                                            : location.substr(path_start))};
    return parsed;
}

std::string location_on_gateway(const MailboxLocation& location, std::string_view gateway_host) {
    return "https://" + std::string(gateway_host) + location.path;
}

}  // namespace easgate::upstream
