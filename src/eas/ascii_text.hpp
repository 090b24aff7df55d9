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

bool is_alpha(char character);
bool is_digit(char character);
bool has_control(std::string_view text);
bool all_visible_ascii(std::string_view text);

// Two upper-case hex digits.
std::string hex_byte(std::uint8_t byte);

// nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace easgate::eas
