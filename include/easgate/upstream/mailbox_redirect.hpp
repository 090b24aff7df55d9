#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "easgate/config/upstream_target.hpp"

namespace easgate::upstream {

// Exchange answers 451 with X-MS-Location when a mailbox lives in another site: the device is to
// use that URL from now on. easgate keeps the device on itself and routes the user there instead.
struct MailboxLocation {
    config::UpstreamTarget server;  // scheme, host and port of the named Exchange server
    std::string path;               // "/Microsoft-Server-ActiveSync" and whatever follows it
};

// nullopt when the location is not an absolute http(s) URL.
std::optional<MailboxLocation> parse_mailbox_location(std::string_view location);

// The X-MS-Location the device gets: the same path on the name it uses for easgate.
std::string location_on_gateway(const MailboxLocation& location, std::string_view gateway_host);

}  // namespace easgate::upstream
