#include "easgate/upstream/backend_diagnosis.hpp"

#include <algorithm>
#include <array>

#include "easgate/common/text.hpp"

namespace easgate::upstream {
namespace {

bool contains_ignoring_case(std::string_view text, std::string_view needle) {
    return std::search(text.begin(), text.end(), needle.begin(), needle.end(), [](char a, char b) {
               return common::ascii_lower(a) == common::ascii_lower(b);
           }) != text.end();
}

}  // namespace

bool says_header_too_long(std::string_view reason, std::string_view body_start) {
    constexpr std::array phrases{std::string_view("header too long"), std::string_view("request too long"),
                                 std::string_view("headers is too long"),
                                 std::string_view("header field exceeds server limit")};
    return std::any_of(phrases.begin(), phrases.end(), [&](std::string_view phrase) {
        return contains_ignoring_case(reason, phrase) || contains_ignoring_case(body_start, phrase);
    });
}

}  // namespace easgate::upstream
