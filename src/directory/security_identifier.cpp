#include "easgate/directory/security_identifier.hpp"

#include <charconv>
#include <cstdint>
#include <vector>

namespace easgate::directory {
namespace {

// Revision 1, then the count of sub-authorities, the 48-bit authority big-endian, and each
// 32-bit sub-authority little-endian (MS-DTYP 2.4.2.2).
constexpr std::size_t header_bytes = 8;
constexpr std::size_t max_sub_authorities = 15;

}  // namespace

std::optional<std::string> sid_text(std::string_view binary) {
    if (binary.size() < header_bytes) return std::nullopt;
    const auto byte = [&](std::size_t i) {
        return static_cast<std::uint64_t>(static_cast<unsigned char>(binary[i]));
    };
    const std::size_t count = byte(1);
    if (byte(0) != 1 || count > max_sub_authorities || binary.size() != header_bytes + 4 * count)
        return std::nullopt;
    std::uint64_t authority = 0;
    for (std::size_t i = 2; i < header_bytes; ++i) authority = authority << 8 | byte(i);
    // Appended piece by piece: "S-1-" + std::to_string(…) makes GCC 12's -O3 report a false -Wrestrict.
    std::string text = "S-1-";
    text += std::to_string(authority);
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t at = header_bytes + 4 * i;
        text += '-';
        text += std::to_string(byte(at) | byte(at + 1) << 8 | byte(at + 2) << 16 | byte(at + 3) << 24);
    }
    return text;
}

std::optional<std::string> sid_binary(std::string_view text) {
    if (!text.starts_with("S-1-")) return std::nullopt;
    std::vector<std::uint64_t> numbers;
    for (std::size_t at = 4; at <= text.size();) {
        const auto end = text.find('-', at);
        const auto part = text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
        std::uint64_t value = 0;
        const auto [next, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
        if (part.empty() || ec != std::errc{} || next != part.data() + part.size()) return std::nullopt;
        numbers.push_back(value);
        if (end == std::string_view::npos) break;
        at = end + 1;
    }
    const std::size_t count = numbers.size() - 1;
    if (numbers[0] >= (std::uint64_t{1} << 48) || count > max_sub_authorities) return std::nullopt;
    std::string binary{char(1), char(count)};
    for (int shift = 40; shift >= 0; shift -= 8) binary += char(numbers[0] >> shift & 0xff);
    for (std::size_t i = 1; i < numbers.size(); ++i) {
        if (numbers[i] > 0xffff'ffff) return std::nullopt;
        for (int shift = 0; shift < 32; shift += 8) binary += char(numbers[i] >> shift & 0xff);
    }
    return binary;
}

}  // namespace easgate::directory
