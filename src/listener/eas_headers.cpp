#include "easgate/listener/eas_headers.hpp"

#include <array>
#include <boost/beast/core/string.hpp>
#include <utility>

namespace easgate::listener {

namespace {

// The fields the policy judges, spelled as the spec does (a 400's reason names them). User-Agent
// first: it is judged on every path, the others on ActiveSync's only.
struct JudgedField {
    std::string_view name;
    std::string_view eas::EasHeaders::*value;
};
constexpr std::array judged_fields{
    JudgedField{"User-Agent", &eas::EasHeaders::user_agent},
    JudgedField{"MS-ASProtocolVersion", &eas::EasHeaders::protocol_version},
    JudgedField{"X-MS-PolicyKey", &eas::EasHeaders::policy_key},
};

const JudgedField* judged_field(std::string_view name) {
    for (const auto& judged : judged_fields)
        if (boost::beast::iequals(name, judged.name)) return &judged;
    return nullptr;
}

}  // namespace

eas::EasHeaders eas_headers_of(const common::RequestHeader& header) {
    eas::EasHeaders found;
    std::array<bool, judged_fields.size()> seen{};
    for (const auto& field : header) {
        const JudgedField* judged = judged_field(field.name_string());
        if (judged == nullptr) continue;
        if (!std::exchange(seen[judged - judged_fields.data()], true)) {
            found.*judged->value = field.value();
        } else if (judged == &judged_fields.front()) {
            found.user_agent_repeated = true;
        } else if (found.repeated.empty()) {
            found.repeated = judged->name;
        }
    }
    return found;
}

bool is_eas_header(std::string_view name) { return judged_field(name) != nullptr; }

}  // namespace easgate::listener
