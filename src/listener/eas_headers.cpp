#include "easgate/listener/eas_headers.hpp"

#include <boost/beast/core/string.hpp>
#include <utility>

namespace easgate::listener {

eas::EasHeaders eas_headers_of(const common::RequestHeader& header) {
    namespace http = boost::beast::http;
    eas::EasHeaders found;
    bool version = false, key = false, agent = false;
    for (const auto& field : header) {
        // The name as the spec spells it, not as the device did: it goes into the 400's reason.
        // User-Agent before the others: it is judged on every path, they on ActiveSync's only.
        const auto take = [&](bool& seen, std::string_view& value, std::string_view name) {
            if (!std::exchange(seen, true)) {
                value = field.value();
            } else if (found.repeated.empty() || name == "User-Agent") {
                found.repeated = name;
            }
        };
        if (field.name() == http::field::user_agent) {
            take(agent, found.user_agent, "User-Agent");
        } else if (boost::beast::iequals(field.name_string(), "MS-ASProtocolVersion")) {
            take(version, found.protocol_version, "MS-ASProtocolVersion");
        } else if (boost::beast::iequals(field.name_string(), "X-MS-PolicyKey")) {
            take(key, found.policy_key, "X-MS-PolicyKey");
        }
    }
    return found;
}

bool is_eas_header(std::string_view name) {
    return boost::beast::iequals(name, "user-agent") || boost::beast::iequals(name, "MS-ASProtocolVersion") ||
           boost::beast::iequals(name, "X-MS-PolicyKey");
}

}  // namespace easgate::listener
