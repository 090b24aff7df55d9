#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "easgate/common/text.hpp"

// ASCII-only character tests and escapes for the request-target readers: a device's bytes are
// judged byte by byte, never through the locale.
namespace easgate::eas {

using common::equals_ignoring_case;

constexpr bool is_alpha(char character) {
    return (character >= 'A' && character <= 'Z') || (character >= 'a' && character <= 'z');
}
constexpr bool is_digit(char character) { return character >= '0' && character <= '9'; }
constexpr bool is_visible_ascii(char character) {
    const auto byte = static_cast<unsigned char>(character);
    return byte > 0x20 && byte < 0x7f;
}
bool has_control(std::string_view text);
bool all_visible_ascii(std::string_view text);

// Two upper-case hex digits.
std::string hex_byte(std::uint8_t byte);

// The text with its escapes decoded: `text` itself when it has none, else a view of `storage`,
// which holds the decoded bytes. nullopt when a '%' is not followed by two hex digits.
std::optional<std::string_view> percent_decode(std::string_view text, bool plus_is_space,
                                               std::string& storage);
// Whether percent_decode's answer is `storage`'s decoded bytes rather than a view of the text:
// only decoded bytes can be what parse_eas_request's check of the request-target did not see.
inline bool was_decoded(std::string_view decoded, const std::string& storage) {
    return decoded.data() == storage.data();
}

}  // namespace easgate::eas
