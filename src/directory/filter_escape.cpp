#include <string>
#include <string_view>

#include "easgate/common/text.hpp"
#include "easgate/directory/directory_client.hpp"

namespace easgate::directory {

AccountSearch AccountSearch::by_attribute(std::string attribute, std::string value) {
    std::string condition = "(" + attribute + "=" + escape_filter_value(value) + ")";
    return {std::move(condition), std::move(attribute), std::move(value)};
}

std::string escape_filter_value(std::string_view value) {
    std::string escaped;
    escaped.reserve(value.size());
    for (const char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        // RFC 4515 requires * ( ) \ NUL escaped; bytes >= 0x80 too, so no server ever sees a
        // malformed UTF-8 sequence as anything but the literal bytes it was given.
        if (c == '*' || c == '(' || c == ')' || c == '\\' || byte == 0 || byte >= 0x80) {
            escaped += '\\';
            common::append_hex(escaped, byte);
        } else {
            escaped += c;
        }
    }
    return escaped;
}

}  // namespace easgate::directory
