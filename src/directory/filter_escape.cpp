#include <string>
#include <string_view>

#include "easgate/common/text.hpp"
#include "easgate/directory/directory_client.hpp"

namespace easgate::directory {
namespace {

void append_escaped(std::string& escaped, std::string_view value) {
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
}

}  // namespace

// Built in one string: a cached user's every request makes this search again to find its answer.
AccountSearch AccountSearch::by_attribute(std::string attribute, std::string value) {
    std::string condition;
    condition.reserve(attribute.size() + value.size() + 3);
    condition.append("(").append(attribute).append("=");
    append_escaped(condition, value);
    condition += ')';
    return {std::move(condition), std::move(attribute), std::move(value)};
}

std::string escape_filter_value(std::string_view value) {
    std::string escaped;
    escaped.reserve(value.size());
    append_escaped(escaped, value);
    return escaped;
}

}  // namespace easgate::directory
