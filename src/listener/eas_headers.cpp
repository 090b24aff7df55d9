#include "easgate/listener/eas_headers.hpp"

#include <boost/beast/core/string.hpp>
#include <utility>

namespace easgate::listener {

eas::EasHeaders eas_headers_of(const common::RequestHeader& header) {
    namespace http = boost::beast::http;
    eas::EasHeaders found;
    bool version = false, key = false, agent = false;
    for (const auto& field : header) {
        const auto take = [&](bool& seen, std::string_view& value) {
            if (!std::exchange(seen, true)) value = field.value();
        };
        if (field.name() == http::field::user_agent) {
            take(agent, found.user_agent);
        } else if (boost::beast::iequals(field.name_string(), "MS-ASProtocolVersion")) {
            take(version, found.protocol_version);
        } else if (boost::beast::iequals(field.name_string(), "X-MS-PolicyKey")) {
            take(key, found.policy_key);
        }
    }
    return found;
}

}  // namespace easgate::listener
