#pragma once

// ASCII text helpers for protocol names, identifiers and logs. ASCII only on purpose: std::tolower
// depends on the process locale, and UTF-8 bytes must pass unchanged.

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace easgate::common {

constexpr char ascii_lower(char character) {
    return character >= 'A' && character <= 'Z' ? static_cast<char>(character - 'A' + 'a') : character;
}

inline std::string ascii_lowercase(std::string_view text) {
    std::string lower(text);
    std::ranges::transform(lower, lower.begin(), ascii_lower);
    return lower;
}

constexpr bool equals_ignoring_case(std::string_view left, std::string_view right) {
    return std::ranges::equal(left, right, [](char a, char b) { return ascii_lower(a) == ascii_lower(b); });
}

enum class HexDigits { lower, upper };

// Two hex digits for the byte, appended to out.
inline void append_hex(std::string& out, std::uint8_t byte, HexDigits digits = HexDigits::lower) {
    const std::string_view alphabet = digits == HexDigits::lower ? "0123456789abcdef" : "0123456789ABCDEF";
    out += alphabet[byte >> 4];
    out += alphabet[byte & 0x0f];
}

inline std::string hex_encode(std::span<const std::uint8_t> bytes, HexDigits digits = HexDigits::lower) {
    std::string hex;
    hex.reserve(bytes.size() * 2);
    for (const std::uint8_t byte : bytes) append_hex(hex, byte, digits);
    return hex;
}

inline std::string hex_encode(std::string_view bytes, HexDigits digits = HexDigits::lower) {
    return hex_encode({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, digits);
}

// "a, b, c": parts (strings, in any container) with separator between them, for lists in log lines
// and findings.
template <typename Strings>
std::string join(const Strings& parts, std::string_view separator = ", ") {
    std::string text;
    for (const auto& part : parts) {
        if (!text.empty()) text += separator;
        text += part;
    }
    return text;
}

// RFC 4648 base64 with padding. Six bytes become eight characters through four lookups of two
// characters each: a Negotiate token is a few KiB, and EVP_EncodeBlock spent about seven
// instructions on each of its bytes.
std::string base64_encode(std::string_view bytes);

}  // namespace easgate::common
