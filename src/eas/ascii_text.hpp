#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

// ASCII-only character tests and escapes for the request-target readers: a device's bytes are
// judged byte by byte, never through the locale.
namespace easgate::eas {

char to_lower(char character);
bool equals_ignoring_case(std::string_view left, std::string_view right);

bool is_alpha(char character);
bool is_digit(char character);
bool has_control(std::string_view text);
bool all_visible_ascii(std::string_view text);

// Two upper-case hex digits.
std::string hex_byte(std::uint8_t byte);
std::string upper_hex(std::span<const std::uint8_t> bytes);

// nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace easgate::eas
