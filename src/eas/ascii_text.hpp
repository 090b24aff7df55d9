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
bool has_control(std::string_view text);
bool all_visible_ascii(std::string_view text);

// Two upper-case hex digits.
std::string hex_byte(std::uint8_t byte);

// The text with its escapes decoded: `text` itself when it has none, else a view of `storage`,
// which holds the decoded bytes. nullopt when a '%' is not followed by two hex digits.
std::optional<std::string_view> percent_decode(std::string_view text, bool plus_is_space,
                                               std::string& storage);

}  // namespace easgate::eas
